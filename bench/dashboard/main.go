// Command dashboard measures berth's dashboard in headless Chromium: the time
// from a log line written by a service to its row in the page's DOM (p50,
// p99, max) at steady rates, and the page's memory once 100,000 lines are
// loaded. See README.md next to this file.
//
//	go run ./bench/dashboard [-rates 10,1000] [-seconds 20] [-lines 100000] [-out FILE]
//
// It is also its own log producer: `dashboard produce -rate N` prints
// "bench SEQ UNIXNANO" lines, N a second (0: -count lines as fast as it can).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "produce" {
		os.Exit(produce(os.Args[2:]))
	}
	os.Exit(bench())
}

// produce prints numbered, timestamped lines at a rate, then waits to be stopped.
func produce(args []string) int {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	rate := fs.Int("rate", 10, "lines per second (0: -count lines at full speed)")
	count := fs.Int("count", 0, "stop after this many lines (0: never)")
	waitFile := fs.String("wait-file", "", "start only once this file exists")
	_ = fs.Parse(args)
	for *waitFile != "" {
		if _, err := os.Stat(*waitFile); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	line := func(n int) {
		fmt.Fprintf(w, "bench %d %d\n", n, time.Now().UnixNano())
	}
	if *rate <= 0 {
		for n := 1; n <= *count; n++ {
			line(n)
		}
		w.Flush()
		select {}
	}
	// Lines go out one by one, on schedule: each is timestamped when written.
	interval := time.Second / time.Duration(*rate)
	start := time.Now()
	for n := 1; *count == 0 || n <= *count; n++ {
		if d := time.Until(start.Add(time.Duration(n-1) * interval)); d > 0 {
			time.Sleep(d)
		}
		line(n)
		w.Flush()
	}
	select {}
}

type options struct {
	rates    []int
	seconds  int
	lines    int
	fillRate int
	out      string
}

func bench() int {
	var o options
	rates := flag.String("rates", "10,1000", "steady rates to measure, lines per second")
	flag.IntVar(&o.seconds, "seconds", 20, "how long each rate is measured")
	flag.IntVar(&o.lines, "lines", 100000, "lines loaded for the memory measurement")
	flag.IntVar(&o.fillRate, "fill-rate", 5000, "lines per second while loading them")
	flag.StringVar(&o.out, "out", "", "also write the report (Markdown) to this file")
	flag.Parse()
	for _, r := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: -rates %q: want positive numbers\n", *rates)
			return 2
		}
		o.rates = append(o.rates, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	fmt.Print(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	return 0
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// env is a built berth and this binary, in a temporary folder.
type env struct {
	tmp, berth, self string
}

func run(ctx context.Context, o options) (string, error) {
	tmp, err := os.MkdirTemp("", "berth-dashboard-bench-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	e := &env{tmp: tmp, berth: filepath.Join(tmp, "berth")}
	if e.self, err = os.Executable(); err != nil {
		return "", err
	}
	logf("building berth")
	build := exec.CommandContext(ctx, "go", "build", "-o", e.berth, "./cmd/berth")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/berth (run the bench from the repository's root): %w", err)
	}
	chrome := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chrome = p
			break
		}
	}
	if chrome == "" {
		return "", errors.New("chromium is not installed: apt-get install -y chromium")
	}

	var latencies []latencyResult
	for _, rate := range o.rates {
		r, err := e.measureLatency(ctx, chrome, rate, o.seconds)
		if err != nil {
			return "", fmt.Errorf("%d lines/s: %w", rate, err)
		}
		latencies = append(latencies, r)
	}
	mem, err := e.measureMemory(ctx, chrome, o.lines, o.fillRate)
	if err != nil {
		return "", fmt.Errorf("memory after %d lines: %w", o.lines, err)
	}
	return e.report(chrome, o, latencies, mem), nil
}

// project is one `berth up -d` of a single producer service.
type project struct {
	dir, url string
	e        *env
}

func (e *env) up(ctx context.Context, name string, produceArgs ...string) (*project, error) {
	dir := filepath.Join(e.tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	argv, _ := json.Marshal(append([]string{e.self, "produce"}, produceArgs...))
	compose := fmt.Sprintf("name: %s\nservices:\n  producer:\n    image: bench\n    command: %s\n", name, argv)
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &project{dir: dir, e: e}
	if _, err := p.berth(ctx, "up", "-d", "--port", strconv.Itoa(port)); err != nil {
		return nil, err
	}
	if p.url, err = p.berth(ctx, "dashboard", "--url"); err != nil {
		p.down()
		return nil, err
	}
	return p, nil
}

func (p *project) berth(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, p.e.berth, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "BERTH_STATE_HOME="+filepath.Join(p.dir, ".state"), "NO_COLOR=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("berth %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return strings.TrimSpace(out.String()), nil
}

func (p *project) down() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.berth(ctx, "down"); err != nil {
		logf("%v", err)
	}
}

// browser starts headless Chromium with the flags that work on a closed network.
func browser(ctx context.Context, chrome, dataDir string) (context.Context, context.CancelFunc, error) {
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("enable-precise-memory-info", true),
		chromedp.UserDataDir(dataDir), chromedp.WindowSize(1440, 900),
	)
	bctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancel()
		cancelAlloc()
		return nil, nil, fmt.Errorf("start chromium: %w", err)
	}
	return bctx, func() { cancel(); cancelAlloc() }, nil
}

func do(ctx context.Context, d time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return chromedp.Do(sctx, actions...)
}

func eval[T any](ctx context.Context, expr string) (T, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(sctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// observer records, for every log row added to the DOM, the time from the
// line's timestamp (written by the producer) to the row's insertion.
const observer = `(() => {
	window.__lat = [];
	window.__rows = 0;
	const re = /^bench (\d+) (\d+)$/;
	const now = () => performance.timeOrigin + performance.now();
	const t0 = now();
	let last = 0; // the newest line the list has shown
	new MutationObserver((records) => {
		const at = now();
		for (const r of records) for (const n of r.addedNodes) {
			if (!n.classList || !n.classList.contains("ln")) continue;
			const m = re.exec(n.querySelector(".lx")?.textContent || "");
			if (!m) continue;
			const seq = Number(m[1]);
			if (seq <= last) continue;
			window.__rows++;
			// Lines between the last one shown and this one scrolled past
			// within one frame: the list showed them (and moved on) now.
			for (let s = last + 1; s <= seq; s++) {
				const written = s === seq ? Number(m[2]) / 1e6 : window.__written.get(s);
				if (written !== undefined && written >= t0) window.__lat.push(at - written);
			}
			last = seq;
		}
	}).observe(document.getElementById("log-lines"), { childList: true, subtree: true });
})()`

// arrivals wraps WebSocket before the app loads, to time each line's
// arrival in the page (before the app handles it): it splits the latency
// into berth + network, and the page's own work.
const arrivals = `(() => {
	const W = window.WebSocket;
	window.__arr = [];
	window.__written = new Map();
	function Wrapped(url, protocols) {
		const ws = new W(url, protocols);
		ws.addEventListener("message", (ev) => {
			const at = performance.timeOrigin + performance.now();
			const re = /"text":"bench (\d+) (\d+)"/g;
			let m;
			while ((m = re.exec(ev.data)) !== null) {
				const written = Number(m[2]) / 1e6;
				window.__written.set(Number(m[1]), written);
				if (window.__measure) window.__arr.push(at - written);
			}
		});
		return ws;
	}
	Wrapped.prototype = W.prototype;
	for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Wrapped[k] = W[k];
	window.WebSocket = Wrapped;
})()`

// missedJS reads how many lines the page was told it missed (too slow to take them).
const missedJS = `(() => { const m = /([\d,]+) lines arrived too fast/.exec(document.querySelector(".statusbar")?.textContent || ""); return m ? Number(m[1].replace(/,/g, "")) : 0; })()`

type latencyResult struct {
	load string // the 1-minute load average before and after
	// Main-thread time of the page, in ms per second of measurement.
	task, script, layout, style float64
	// CPU time of the tab's renderer process, in ms per second.
	cpu                 float64
	rows                int
	floor50, floor99    float64
	arr50, arr99        float64
	rate                int
	seconds             int
	n                   int
	p50, p90, p99, maxv float64
	missed              int
	longTasks           int
}

func (e *env) measureLatency(ctx context.Context, chrome string, rate, seconds int) (latencyResult, error) {
	res := latencyResult{rate: rate, seconds: seconds}
	logf("floor at %d lines/s for %d s: the producer piped straight to the bench", rate, seconds)
	floor, err := e.floor(ctx, rate, seconds)
	if err != nil {
		return res, err
	}
	res.floor50, res.floor99 = pct(floor, 50), pct(floor, 99)
	logf("  p50 %.2f ms, p99 %.2f ms", res.floor50, res.floor99)
	logf("latency at %d lines/s for %d s", rate, seconds)
	p, err := e.up(ctx, fmt.Sprintf("lat%d", rate), "-rate", strconv.Itoa(rate))
	if err != nil {
		return res, err
	}
	defer p.down()
	bctx, closeBrowser, err := browser(ctx, chrome, filepath.Join(e.tmp, fmt.Sprintf("chrome-lat%d", rate)))
	if err != nil {
		return res, err
	}
	defer closeBrowser()
	base, _, _ := strings.Cut(p.url, "?")
	if err := do(bctx, 30*time.Second,
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: arrivals})
			return chromedp.Void{}, err
		},
		chromedp.Navigate(p.url),
		chromedp.WaitVisible(chromedp.ID("whoami")),
		chromedp.Navigate(base+"#/logs"),
		chromedp.WaitVisible(chromedp.ID("log-lines")),
	); err != nil {
		return res, err
	}
	// Let the page load its history and settle, then measure live lines only.
	time.Sleep(2 * time.Second)
	loadBefore := loadAvg()
	busyBefore, err := metrics(bctx)
	if err != nil {
		return res, err
	}
	tab := renderer(browserPid(bctx))
	cpuBefore := cpuTime(tab)
	if _, err := eval[any](bctx, observer+`; window.__measure = true; window.__long = 0; try { new PerformanceObserver((l) => { window.__long += l.getEntries().length; }).observe({ type: "longtask" }); } catch {}`); err != nil {
		return res, err
	}
	select {
	case <-time.After(time.Duration(seconds) * time.Second):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.load = loadBefore + " → " + loadAvg()
	busyAfter, err := metrics(bctx)
	if err != nil {
		return res, err
	}
	res.cpu = float64((cpuTime(tab) - cpuBefore).Milliseconds()) / float64(seconds)
	per := func(name string) float64 { return (busyAfter[name] - busyBefore[name]) * 1000 / float64(seconds) }
	res.task, res.script, res.layout, res.style = per("TaskDuration"), per("ScriptDuration"), per("LayoutDuration"), per("RecalcStyleDuration")
	lat, err := eval[[]float64](bctx, `window.__lat`)
	if err != nil {
		return res, err
	}
	arr, err := eval[[]float64](bctx, `window.__arr`)
	if err != nil {
		return res, err
	}
	if len(arr) > 0 {
		sort.Float64s(arr)
		res.arr50, res.arr99 = pct(arr, 50), pct(arr, 99)
	}
	if res.rows, err = eval[int](bctx, `window.__rows`); err != nil {
		return res, err
	}
	if res.longTasks, err = eval[int](bctx, `window.__long`); err != nil {
		return res, err
	}
	if res.missed, err = eval[int](bctx, missedJS); err != nil {
		return res, err
	}
	sort.Float64s(lat)
	res.n = len(lat)
	if res.n == 0 {
		return res, errors.New("no live line reached the page")
	}
	res.p50, res.p90, res.p99, res.maxv = pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[len(lat)-1]
	logf("  %d lines (%d rows): p50 %.1f ms, p99 %.1f ms, max %.1f ms (arrival p50 %.1f, p99 %.1f)", res.n, res.rows, res.p50, res.p99, res.maxv, res.arr50, res.arr99)
	return res, nil
}

// floor times lines from the producer to this process through a pipe, with
// no berth and no browser: what the machine itself adds (scheduling).
func (e *env) floor(ctx context.Context, rate, seconds int) ([]float64, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, e.self, "produce", "-rate", strconv.Itoa(rate))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var lat []float64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		lat = append(lat, float64(time.Now().UnixNano()-ns)/1e6)
	}
	_ = cmd.Wait()
	if len(lat) == 0 {
		return nil, errors.New("the producer printed nothing")
	}
	sort.Float64s(lat)
	return lat, nil
}

func pct(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

type memResult struct {
	lines, rate       int
	inPage, missed    int
	loadSeconds       float64
	before, after     memory
	rowsInDOM         int
	scrollFrameMillis float64
}

func (e *env) measureMemory(ctx context.Context, chrome string, lines, rate int) (memResult, error) {
	res := memResult{lines: lines, rate: rate}
	logf("memory after %d lines", lines)
	// The producer waits for the page: it starts writing when the file "go" appears.
	p, err := e.up(ctx, "mem", "-rate", strconv.Itoa(rate), "-count", strconv.Itoa(lines), "-wait-file", "go")
	if err != nil {
		return res, err
	}
	defer p.down()
	bctx, closeBrowser, err := browser(ctx, chrome, filepath.Join(e.tmp, "chrome-mem"))
	if err != nil {
		return res, err
	}
	defer closeBrowser()
	base, _, _ := strings.Cut(p.url, "?")
	if err := do(bctx, 30*time.Second,
		chromedp.Navigate(p.url),
		chromedp.WaitVisible(chromedp.ID("whoami")),
		chromedp.Navigate(base+"#/logs"),
		chromedp.WaitVisible(chromedp.ID("log-lines")),
	); err != nil {
		return res, err
	}
	time.Sleep(time.Second)
	if res.before, err = pageMemory(bctx); err != nil {
		return res, err
	}
	// Now the producer may write: every line reaches the page live, over its WebSocket.
	start := time.Now()
	if err := os.WriteFile(filepath.Join(p.dir, "go"), nil, 0o644); err != nil {
		return res, err
	}
	count := `(() => { const m = /^([\d,]+) lines?/.exec(document.getElementById("log-count")?.textContent || ""); return m ? Number(m[1].replace(/,/g, "")) : 0; })()`
	for deadline := time.Now().Add(180 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		have, err := eval[int](bctx, count)
		if err != nil {
			return res, err
		}
		if res.missed, err = eval[int](bctx, missedJS); err != nil {
			return res, err
		}
		res.inPage = have
		if have+res.missed >= lines {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the page holds %d lines (%d missed) after 3 minutes, want %d", have, res.missed, lines)
		}
	}
	res.loadSeconds = time.Since(start).Seconds()
	rows, err := eval[int](bctx, `document.querySelectorAll("#log-lines .ln").length`)
	if err != nil {
		return res, err
	}
	res.rowsInDOM = rows
	// Scrolling through: time to render one jump across the list.
	ms, err := eval[float64](bctx, `new Promise((resolve) => {
		const box = document.getElementById("log-lines");
		const t = [];
		let i = 0;
		const next = () => {
			const t0 = performance.now();
			box.scrollTop = box.scrollHeight * ((i * 0.37) % 1);
			requestAnimationFrame(() => { t.push(performance.now() - t0); if (++i < 30) next(); else resolve(t.sort((a, b) => a - b)[Math.floor(t.length / 2)]); });
		};
		next();
	})`)
	if err != nil {
		return res, err
	}
	res.scrollFrameMillis = ms
	res.after, err = pageMemory(bctx)
	return res, err
}

// metrics reads the page's Performance.getMetrics (durations in seconds).
func metrics(bctx context.Context) (map[string]float64, error) {
	sctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(sctx, func(ctx context.Context, t *chromedp.Target) (map[string]float64, error) {
		if _, err := cdp.Call(ctx, t, performance.Enable, performance.EnableParams{}); err != nil {
			return nil, err
		}
		r, err := cdp.Call(ctx, t, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		out := map[string]float64{}
		for _, x := range r.Metrics {
			out[x.Name] = x.Value
		}
		return out, nil
	})
}

// memory is the page's memory at one moment.
type memory struct {
	jsHeapUsed, jsHeapTotal, domNodes float64
	rendererRSS, rendererPSS          int64
}

// pageMemory collects garbage, then reads the page's heap and DOM size and
// the renderer process's resident size.
func pageMemory(bctx context.Context) (memory, error) {
	var m memory
	sctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(sctx, func(ctx context.Context, t *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, t, heapprofiler.CollectGarbage, cdp.Empty{})
	}); err != nil {
		return m, err
	}
	metrics, err := metrics(bctx)
	if err != nil {
		return m, err
	}
	m.jsHeapUsed, m.jsHeapTotal, m.domNodes = metrics["JSHeapUsedSize"], metrics["JSHeapTotalSize"], metrics["Nodes"]
	if pid := browserPid(bctx); pid != 0 {
		m.rendererRSS, m.rendererPSS = rendererMemory(pid)
	}
	return m, nil
}

// rendererMemory is the resident and proportional set sizes, in bytes, of
// the largest renderer process under the browser process pid (the tab's).
// RSS counts shared pages (libraries, fonts) in full; PSS shares them out.
func rendererMemory(pid int) (rss, pss int64) {
	r := renderer(pid)
	if r == 0 {
		return 0, 0
	}
	return statusField(fmt.Sprintf("/proc/%d/status", r), "VmRSS:"), statusField(fmt.Sprintf("/proc/%d/smaps_rollup", r), "Pss:")
}

// cpuTime is the user + system CPU time a process has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// browserPid is the pid of the browser of a chromedp context (0 if unknown).
func browserPid(bctx context.Context) int {
	if c := chromedp.FromContext(bctx); c != nil && c.Browser != nil {
		if p := c.Browser.Process(); p != nil {
			return p.Pid
		}
	}
	return 0
}

// renderer is the pid of the largest renderer process under the browser
// process pid: the tab's (0 if none).
func renderer(pid int) int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 {
			continue
		}
		me, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], me)
	}
	var best, bestPid int64
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
			if bytes.Contains(cmd, []byte("--type=renderer")) && !bytes.Contains(cmd, []byte("--extension-process")) {
				if rss := statusField(fmt.Sprintf("/proc/%d/status", c), "VmRSS:"); rss > best {
					best, bestPid = rss, int64(c)
				}
			}
			walk(c)
		}
	}
	walk(pid)
	return int(bestPid)
}

// statusField reads a "Name:   123 kB" line of a /proc file, in bytes.
func statusField(path, name string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (e *env) report(chrome string, o options, lat []latencyResult, mem memResult) string {
	var b strings.Builder
	version, _ := exec.Command(chrome, "--version").Output()
	fmt.Fprintf(&b, "# berth dashboard benchmark\n\n")
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %s, %d cores, %s\n", cpuModel(), runtime.NumCPU(), memTotal())
	fmt.Fprintf(&b, "- browser: %s (headless)\n", strings.TrimSpace(string(version)))
	fmt.Fprintf(&b, "- go: %s\n", runtime.Version())
	fmt.Fprintf(&b, "- load average (1 min) at the end: %s (the machine has %d cores)\n\n", loadAvg(), runtime.NumCPU())
	fmt.Fprintf(&b, "## Log line → row in the DOM\n\n")
	fmt.Fprintf(&b, "Time from the producer's timestamp (taken just before it writes the line) to the\n")
	fmt.Fprintf(&b, "MutationObserver callback that sees the line's row inserted in the log view (follow mode).\n")
	fmt.Fprintf(&b, "The view renders only rows in sight: when more lines arrive in one frame than the\n")
	fmt.Fprintf(&b, "screen holds, those in between scroll past unrendered; they count as shown when the\n")
	fmt.Fprintf(&b, "row of a later line is inserted (\"rows\" is how many rows were inserted).\n\n")
	fmt.Fprintf(&b, "\"Arrival\" is when the line's WebSocket message reaches the page (berth + network +\n")
	fmt.Fprintf(&b, "the page's event loop); \"floor\" is the producer piped straight to the bench, no berth,\n")
	fmt.Fprintf(&b, "no browser: what this machine's scheduling alone costs, measured just before.\n")
	fmt.Fprintf(&b, "\"Tab CPU\" is the CPU time the tab's renderer process used, per second (from /proc: it does\n")
	fmt.Fprintf(&b, "not grow when the machine is busy); \"page main thread\" is the wall time of the page's tasks\n")
	fmt.Fprintf(&b, "(Performance.getMetrics TaskDuration), per second, which does.\n\n")
	fmt.Fprintf(&b, "| rate | measured for | lines shown (rows) | p50 | p90 | p99 | max | arrival p50 / p99 | floor p50 / p99 | long tasks (>50 ms) | lines missed | load avg | tab CPU | page main thread | target p99 < 100 ms |\n")
	fmt.Fprintf(&b, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|\n")
	for _, r := range lat {
		ok := "—"
		if r.rate >= 1000 {
			ok = "met"
			if r.p99 >= 100 {
				ok = "**missed**"
			}
		}
		fmt.Fprintf(&b, "| %d lines/s | %d s | %d (%d rows) | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f / %.1f ms | %.2f / %.1f ms | %d | %d | %s | %.0f ms/s | %.0f ms/s (script %.0f, layout %.0f, style %.0f) | %s |\n",
			r.rate, r.seconds, r.n, r.rows, r.p50, r.p90, r.p99, r.maxv, r.arr50, r.arr99, r.floor50, r.floor99, r.longTasks, r.missed, r.load, r.cpu, r.task, r.script, r.layout, r.style, ok)
	}
	fmt.Fprintf(&b, "\n## Page memory with %d lines loaded\n\n", mem.lines)
	fmt.Fprintf(&b, "The producer writes %d lines at %d lines/s once the log view is open; they reach\n", mem.lines, mem.rate)
	fmt.Fprintf(&b, "the page live over its WebSocket in %.1f s. Memory is read after a forced GC, before\n", mem.loadSeconds)
	fmt.Fprintf(&b, "the first line and after the last.\n\n")
	fmt.Fprintf(&b, "| measure | empty log view | %d lines |\n|---|---:|---:|\n", mem.lines)
	fmt.Fprintf(&b, "| lines in the page | 0 | %d |\n", mem.inPage)
	fmt.Fprintf(&b, "| lines the server could not send in time (\"missed\", on disk) | 0 | %d |\n", mem.missed)
	fmt.Fprintf(&b, "| JS heap used | %.1f MB | %.1f MB |\n", mem.before.jsHeapUsed/1e6, mem.after.jsHeapUsed/1e6)
	fmt.Fprintf(&b, "| JS heap total | %.1f MB | %.1f MB |\n", mem.before.jsHeapTotal/1e6, mem.after.jsHeapTotal/1e6)
	fmt.Fprintf(&b, "| renderer process RSS (the tab) | %.1f MB | %.1f MB |\n", float64(mem.before.rendererRSS)/1e6, float64(mem.after.rendererRSS)/1e6)
	fmt.Fprintf(&b, "| renderer process PSS (shared pages shared out) | %.1f MB | %.1f MB |\n", float64(mem.before.rendererPSS)/1e6, float64(mem.after.rendererPSS)/1e6)
	fmt.Fprintf(&b, "| DOM nodes | %.0f | %.0f |\n", mem.before.domNodes, mem.after.domNodes)
	fmt.Fprintf(&b, "| log rows in the DOM | | %d |\n", mem.rowsInDOM)
	fmt.Fprintf(&b, "| median frame after a jump across the list | | %.1f ms |\n", mem.scrollFrameMillis)
	ok := "met"
	if float64(mem.after.rendererRSS) >= 200e6 {
		ok = "**missed**"
	}
	fmt.Fprintf(&b, "\nTarget: the tab under 200 MB: %s.\n", ok)
	return b.String()
}

// loadAvg is the machine's 1-minute load average: other work on the same
// cores shows in every latency figure.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return fmt.Sprintf("%.0f GB RAM", float64(kb)/1e6)
		}
	}
	return ""
}
