package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// results holds every figure: metric → system → one value per run.
type results map[string]map[string][]float64

func (r results) add(metric, sys string, v float64) {
	if r[metric] == nil {
		r[metric] = map[string][]float64{}
	}
	r[metric][sys] = append(r[metric][sys], v)
}

// An aggregate reduces the values of the runs to one figure.
type aggregate struct {
	name string
	fn   func([]float64) float64
}

var (
	median = aggregate{"median", func(v []float64) float64 {
		s := slices.Sorted(slices.Values(v))
		if n := len(s); n%2 == 1 {
			return s[n/2]
		} else {
			return (s[n/2-1] + s[n/2]) / 2
		}
	}}
	worst = aggregate{"worst run", func(v []float64) float64 { return slices.Max(v) }}
	least = aggregate{"worst run", func(v []float64) float64 { return slices.Min(v) }}
)

// get returns the aggregate of a metric for a system; ok is false when no
// run recorded it.
func (r results) get(metric, sys string, agg aggregate) (v float64, ok bool) {
	vals := r[metric][sys]
	if len(vals) == 0 {
		return 0, false
	}
	return agg.fn(vals), true
}

// row is a line of the table.
type row struct {
	label  string
	metric string
	agg    aggregate
	format string // for the values
	ratios bool   // whether berth/peer and berth/limit mean something
}

func rows() []row {
	rs := []row{
		{"(a) start 50 services, s — berth until `up -d` returns", mStart, median, "%.3f", true},
		{"(a) start 50 services, s — berth until `ps` shows 50 running", mStartPs, median, "%.3f", true},
	}
	for _, c := range logCases {
		name := fmt.Sprintf("(b) %d×%d lines", c.services, c.lines)
		rs = append(rs,
			row{name + ": from launch until all on disk, s", c.key + mWall, median, "%.3f", true},
			row{name + ": from the first producer's start until all on disk, s", c.key + mPipe, median, "%.3f", true},
			row{name + ": CPU of the supervisor process, s", c.key + mCPU, median, "%.2f", true},
			row{name + ": … per million lines, s", c.key + mCPU + "/M", median, "%.2f", true},
			row{name + ": lines lost (worst run)", c.key + mLost, worst, "%.0f", false},
			row{name + ": lines kept on disk (worst run)", c.key + mKept, least, "%.0f", false},
		)
	}
	return append(rs,
		row{"(c) stop 50 services (exit 0.1 s after SIGTERM), s", mStop, median, "%.3f", true},
		row{"(d) RSS of the supervisor, 50 services running, MB", mRSS, median, "%.1f", true},
		row{"(d) … of which anonymous memory (RssAnon), MB", mRSSAnon, median, "%.1f", true},
		row{"(d) RSS of berth's reaper process (`berth __reap`), MB", mRSSReaper, median, "%.1f", false},
		row{"(e) processes alive 3 s after SIGKILL of the supervisor (worst run)", mSurvivors, worst, "%.0f", false},
	)
}

// report is the Markdown report: machine, table, targets, raw figures.
func (b *bench) report(runs int, took time.Duration) string {
	// CPU per million lines, derived from each run's CPU.
	for _, c := range logCases {
		for sys, vals := range b.res[c.key+mCPU] {
			for _, v := range vals {
				b.res.add(c.key+mCPU+"/M", sys, v/float64(c.total())*1e6)
			}
		}
	}
	var w strings.Builder
	fmt.Fprintf(&w, "# berth benchmark (issue 2)\n\n")
	fmt.Fprintf(&w, "- date: %s\n", sh("date", "-u"))
	fmt.Fprintf(&w, "- machine: %s cores (`nproc`), %s, kernel %s\n", sh("nproc"), cpuModel(), sh("uname", "-r"))
	fmt.Fprintf(&w, "- memory (`free -h`):\n\n```\n%s\n```\n\n", sh("free", "-h"))
	fmt.Fprintf(&w, "- berth %s (%s), supervisord %s, producer lines of %d bytes\n", sh("git", "-C", b.root, "describe", "--always", "--dirty"), sh("go", "version"), sh("supervisord", "--version"), lineSize)
	fmt.Fprintf(&w, "- command: `RUNS=%d bench/run.sh`: %d runs, %s in all; each figure is the median of the runs unless it says otherwise\n\n", runs, runs, took.Round(time.Second))

	fmt.Fprintf(&w, "| figure | berth | supervisord | limit | berth/supervisord | berth/limit |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows() {
		cell := func(sys string) string {
			if v, ok := b.res.get(r.metric, sys, r.agg); ok {
				return fmt.Sprintf(r.format, v)
			}
			return "—"
		}
		ratio := func(peer string) string {
			v, ok1 := b.res.get(r.metric, sysBerth, r.agg)
			p, ok2 := b.res.get(r.metric, peer, r.agg)
			if !r.ratios || !ok1 || !ok2 || p == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f", v/p)
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %s |\n", r.label, cell(sysBerth), cell(sysSupervisord), cell(sysLimit), ratio(sysSupervisord), ratio(sysLimit))
	}

	fmt.Fprintf(&w, "\n## Targets\n\n")
	for _, t := range b.targets() {
		verdict := "NOT MET"
		if t.met {
			verdict = "met"
		}
		fmt.Fprintf(&w, "- **%s** — %s: %s\n", verdict, t.goal, t.detail)
	}
	if len(b.failures) > 0 {
		fmt.Fprintf(&w, "\n## Failed steps\n\n")
		for _, f := range b.failures {
			fmt.Fprintf(&w, "- %s\n", f)
		}
	}

	fmt.Fprintf(&w, "\n## Every run\n\n| figure | system | runs |\n|---|---|---|\n")
	for _, r := range rows() {
		for _, sys := range []string{sysBerth, sysSupervisord, sysLimit} {
			vals := b.res[r.metric][sys]
			if len(vals) == 0 {
				continue
			}
			s := make([]string, len(vals))
			for i, v := range vals {
				s[i] = fmt.Sprintf(r.format, v)
			}
			fmt.Fprintf(&w, "| %s | %s | %s |\n", r.label, sys, strings.Join(s, ", "))
		}
	}
	return w.String()
}

// target is one of the targets, checked against the figures.
type target struct {
	goal   string
	met    bool
	detail string
}

func (b *bench) targets() []target {
	get := func(metric, sys string, agg aggregate) float64 {
		v, ok := b.res.get(metric, sys, agg)
		if !ok {
			return -1 // a failed step: no target can be met with it
		}
		return v
	}
	var ts []target

	lost := target{goal: "zero lines lost", met: true}
	var parts []string
	for _, c := range logCases {
		l, k := get(c.key+mLost, sysBerth, worst), get(c.key+mKept, sysBerth, least)
		lost.met = lost.met && l == 0
		parts = append(parts, fmt.Sprintf("%d×%d: %.0f lost (worst run), %.0f of %d still on disk", c.services, c.lines, l, k, c.total()))
	}
	lost.detail = strings.Join(parts, "; ")
	ts = append(ts, lost)

	lim := get(mStart, sysLimit, median)
	for _, m := range []struct{ metric, what string }{{mStart, "`up -d` returned"}, {mStartPs, "`ps` shows 50 running"}} {
		v := get(m.metric, sysBerth, median)
		ts = append(ts, target{
			goal:   "(a) start within 1.5× the limit (" + m.what + ")",
			met:    v >= 0 && lim > 0 && v <= 1.5*lim,
			detail: fmt.Sprintf("%.3f s vs limit %.3f s: %.2f×", v, lim, v/lim),
		})
	}

	for _, c := range logCases {
		v, peer := get(c.key+mPipe, sysBerth, median), get(c.key+mPipe, sysSupervisord, median)
		wall, peerWall := get(c.key+mWall, sysBerth, median), get(c.key+mWall, sysSupervisord, median)
		cpu := get(c.key+mCPU+"/M", sysBerth, median)
		ts = append(ts, target{
			goal: fmt.Sprintf("(b) %d×%d lines at least 2× faster than the best peer, ≤ 1 CPU-s per million lines", c.services, c.lines),
			met:  v >= 0 && peer > 0 && v <= peer/2 && cpu >= 0 && cpu <= 1,
			detail: fmt.Sprintf("log pipeline %.3f s vs supervisord %.3f s (%.1f× faster; from launch: %.3f s vs %.3f s, %.1f×); %.2f CPU-s per million lines",
				v, peer, peer/v, wall, peerWall, peerWall/wall, cpu),
		})
	}

	stop, stopLim := get(mStop, sysBerth, median), get(mStop, sysLimit, median)
	ts = append(ts, target{
		goal:   "(c) stop within 0.05 s of the limit",
		met:    stop >= 0 && stopLim >= 0 && stop-stopLim <= 0.05,
		detail: fmt.Sprintf("%.3f s vs limit %.3f s: +%.3f s", stop, stopLim, stop-stopLim),
	})

	rss := get(mRSS, sysBerth, median)
	ts = append(ts, target{goal: "(d) RSS under 20 MB", met: rss >= 0 && rss < 20, detail: fmt.Sprintf("%.1f MB", rss)})

	surv := get(mSurvivors, sysBerth, worst)
	ts = append(ts, target{goal: "(e) zero survivors", met: surv == 0, detail: fmt.Sprintf("%.0f processes alive 3 s after SIGKILL (worst run)", surv)})
	return ts
}

// sh returns a command's output, trimmed, for the report's header.
func sh(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
