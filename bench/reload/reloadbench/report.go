package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// quantile is the nearest-rank quantile of ds (q in (0, 1]).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

var systemTitle = map[string]string{
	"limit":         "limit (bench kills + starts)",
	"berth-proxied": "berth, proxied port",
	"berth-direct":  "berth, direct port",
	"air":           "air",
}

var appTitle = map[string]string{
	"py": "Python http.server (restart)",
	"go": "Go net/http (build + restart)",
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func render(c *config, results map[string]*result) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Reload latency: berth, air and the limit\n\n")
	p("- date: %s (UTC), %.0f s\n", c.started.UTC().Format("2006-01-02 15:04"), time.Since(c.started).Seconds())
	nproc, _ := exec.Command("nproc").Output()
	p("- machine: nproc %s, %s, Go %s\n", strings.TrimSpace(string(nproc)), cpuModel(), strings.TrimPrefix(runtime.Version(), "go"))
	if free, err := exec.Command("free", "-h").Output(); err == nil {
		p("- memory (`free -h`):\n\n```\n%s```\n\n", free)
	}
	p("- load average (1, 5, 15 min): %s before, %s after\n", c.loadIn, loadavg())
	if v, err := exec.Command(c.air, "-v").CombinedOutput(); err == nil {
		for _, l := range strings.Split(stripANSI(string(v)), "\n") {
			if strings.Contains(l, "built with") || strings.Contains(l, "v1.") {
				p("- air: %s\n", strings.TrimSpace(l))
				break
			}
		}
	}
	p("- Python: `%s`\n", c.python)
	if rev := os.Getenv("RELOAD_BENCH_BERTH_REV"); rev != "" {
		p("- berth: %s\n", rev)
	}
	p("- settings: %d measured edits per app and system after %d warm-up edit(s); the systems of an app run side by side and take turns, one edit each, in an order that rotates; the client polls every %s with a new connection per request, from just before each edit until %s (+0–100 ms) after the new answer\n", c.edits, c.warmup, c.poll, c.settle)
	p("- command: `%s`\n\n", c.cmdline)

	p("## Results\n\n")
	p("Latency: from the write of the source file to the end of the first request answered with the new version. Failed requests: requests that got an error (refused, reset, EOF, timeout, not 200) after an edit's write, until the end of the pause that follows the new answer. A lost reload is an edit whose new version did not answer within %s; it counts in neither the latency nor the failed requests (see Notes).\n\n", c.timeout)
	p("| app | system | median ms | p95 ms | median − limit | failed requests / edit | worst edit | reloads lost | requests |\n")
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, app := range c.apps {
		lim := results[app+"/limit"]
		for _, sys := range c.systems {
			r := results[app+"/"+sys]
			if len(r.lat) == 0 {
				p("| %s | %s | failed: %v | | | | | | |\n", appTitle[app], systemTitle[sys], r.err)
				continue
			}
			diff := ""
			if lim != nil && len(lim.lat) > 0 && sys != "limit" {
				diff = fmt.Sprintf("%+.0f", ms(median(r.lat)-median(lim.lat)))
			}
			total, worst := 0, 0
			for _, f := range r.failed {
				total += f
				worst = max(worst, f)
			}
			partial := ""
			if r.err != nil {
				partial = fmt.Sprintf(" (%d edits only)", len(r.lat))
			}
			p("| %s | %s%s | %.0f | %.0f | %s | %.1f | %d | %d | %d |\n", appTitle[app], systemTitle[sys], partial,
				ms(median(r.lat)), ms(quantile(r.lat, 0.95)), diff, float64(total)/float64(len(r.failed)), worst, r.lost, r.requests)
		}
	}
	p("\n### The reloader's own time\n\n")
	p("The same edits, minus the spans that are the app's and the compiler's, not the reloader's: the build (Go) and the app's start-up (from its process being started to its `serving vN` line; see the phases below). What remains is noticing the change, stopping the old process, starting the new one, and getting the client its answer. The app's start-up on a loaded 2-core machine varies by hundreds of ms from one edit to the next; this figure does not.\n\n")
	p("| app | system | median ms | p95 ms | median − limit |\n|---|---|--:|--:|--:|\n")
	for _, app := range c.apps {
		lim := results[app+"/limit"]
		for _, sys := range c.systems {
			r := results[app+"/"+sys]
			if len(r.overhead) == 0 {
				continue
			}
			diff := ""
			if lim != nil && len(lim.overhead) > 0 && sys != "limit" {
				diff = fmt.Sprintf("%+.0f", ms(median(r.overhead)-median(lim.overhead)))
			}
			note := ""
			if sys == "air" && app == "go" {
				note = " (air's stop is inside its build span: subtracted too)"
			}
			p("| %s | %s%s | %.1f | %.1f | %s |\n", appTitle[app], systemTitle[sys], note, ms(median(r.overhead)), ms(quantile(r.overhead, 0.95)), diff)
		}
	}
	p("\n## Targets\n\n")
	for _, app := range c.apps {
		lim, bp := results[app+"/limit"], results[app+"/berth-proxied"]
		if lim == nil || bp == nil || len(lim.lat) == 0 || len(bp.lat) == 0 {
			continue
		}
		d := ms(median(bp.lat) - median(lim.lat))
		p("- %s: berth (proxied) within 20 ms of the limit: median %.0f ms vs %.0f ms (%+.0f ms) → **%s**\n",
			appTitle[app], ms(median(bp.lat)), ms(median(lim.lat)), d, metText(d <= 20))
		if len(bp.overhead) > 0 && len(lim.overhead) > 0 {
			od := ms(median(bp.overhead) - median(lim.overhead))
			p("  - the same on the reloader's own time (build and start-up taken out): %.0f ms vs %.0f ms (%+.0f ms) → **%s**\n",
				ms(median(bp.overhead)), ms(median(lim.overhead)), od, metText(od <= 20))
		}
		total := 0
		for _, f := range bp.failed {
			total += f
		}
		p("- %s: zero failed requests on berth's proxied port: %d in %d edits, %d reloads lost → **%s**\n",
			appTitle[app], total, len(bp.failed), bp.lost, metText(total == 0 && bp.lost == 0 && bp.err == nil))
	}

	p("\n## Where the time goes (ms per phase: median / p95)\n\n")
	p("berth: `berth logs -t` (the \"changed →\" note, the app's \"serving vN\" line) and `berth events --json` (stop, die, start). air: its output lines, time-stamped by the bench as it reads them. limit: the bench's own clock. Phases that a system does not expose are blank; medians of phases do not add up exactly to the median total.\n\n")
	for _, app := range c.apps {
		names := map[string]bool{}
		for _, sys := range c.systems {
			for n := range results[app+"/"+sys].phases {
				names[n] = true
			}
		}
		if len(names) == 0 {
			continue
		}
		var phases []string
		for n := range names {
			phases = append(phases, n)
		}
		sort.Strings(phases)
		p("**%s**\n\n| phase |", appTitle[app])
		for _, sys := range c.systems {
			p(" %s |", systemTitle[sys])
		}
		p("\n|---|")
		for range c.systems {
			p("--:|")
		}
		p("\n")
		for _, ph := range phases {
			p("| %s |", ph)
			for _, sys := range c.systems {
				ds := results[app+"/"+sys].phases[ph]
				if len(ds) == 0 {
					p(" |")
					continue
				}
				p(" %.1f / %.0f |", ms(median(ds)), ms(quantile(ds, 0.95)))
			}
			p("\n")
		}
		p("| **total (write → new answer)** |")
		for _, sys := range c.systems {
			lat := results[app+"/"+sys].lat
			p(" %.1f / %.0f |", ms(median(lat)), ms(quantile(lat, 0.95)))
		}
		p("\n\n")
	}

	p("## Failed requests by kind\n\n")
	any := false
	for _, app := range c.apps {
		for _, sys := range c.systems {
			r := results[app+"/"+sys]
			if len(r.errSamples) == 0 {
				continue
			}
			any = true
			var kinds []string
			for k, n := range r.errSamples {
				kinds = append(kinds, fmt.Sprintf("%s × %d", k, n))
			}
			sort.Strings(kinds)
			p("- %s / %s: %s\n", appTitle[app], systemTitle[sys], strings.Join(kinds, ", "))
		}
	}
	if !any {
		p("none\n")
	}
	var notes []string
	for _, app := range c.apps {
		for _, sys := range c.systems {
			for _, n := range results[app+"/"+sys].notes {
				notes = append(notes, fmt.Sprintf("%s / %s: %s", app, sys, n))
			}
		}
	}
	if len(notes) > 0 {
		p("\n## Notes\n\n")
		for _, n := range notes {
			p("- %s\n", n)
		}
	}
	if len(c.failures) > 0 {
		p("\n## Failed steps\n\n")
		for _, f := range c.failures {
			p("- %s\n", f)
		}
	}
	return b.String()
}

func metText(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}
