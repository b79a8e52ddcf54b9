//go:build linux

// Command proxybench compares berth's proxy (internal/proxy) with nginx and
// net/http/httputil.ReverseProxy, all in front of the same small Go backend,
// measured with wrk. bench/proxy/run.sh runs it; see bench/proxy/README.md.
//
//	proxybench run [-d 5s] [-rounds 3] [-out RESULTS.md]
//	proxybench backend -listen ADDR
//	proxybench berth -listen ADDR -backend ADDR [-inspect DIR]
//	proxybench httputil -listen ADDR -backend ADDR
//
// run starts the others as child processes (and nginx), so that each proxy
// has the machine's cores to itself as it would in use, rather than sharing a
// Go runtime with the backend.
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/inspect"
	"github.com/berth-dev/berth/internal/proxy"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: proxybench run|backend|berth|httputil [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "run":
		err = run(ctx, args)
	case "backend":
		err = serveBackend(ctx, args)
	case "berth":
		err = serveBerth(ctx, args)
	case "httputil":
		err = serveHTTPUtil(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}

// bodies are the response bodies the backend serves, by path.
var bodies = map[string]int{"/100": 100, "/1m": 1 << 20}

func serveBackend(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	fs.Parse(args)
	data := map[string][]byte{}
	for path, n := range bodies {
		data[path] = bytes.Repeat([]byte("x"), n)
	}
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := data[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})}
	return serveHTTP(ctx, srv)
}

func serveHTTPUtil(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("httputil", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	backend := fs.String("backend", "", "backend address")
	fs.Parse(args)
	u, err := url.Parse("http://" + *backend)
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	// The default transport keeps 2 idle connections per host, which would
	// make it dial for most requests at -c50: give it a pool like nginx's.
	rp.Transport = &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		DisableCompression:  true,
	}
	// wrk ends by closing its connections mid-request: not worth a line each.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	return serveHTTP(ctx, &http.Server{Addr: *listen, Handler: rp})
}

func serveHTTP(ctx context.Context, srv *http.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		srv.Close()
		<-errc
		return nil
	}
}

func serveBerth(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("berth", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to own")
	backend := fs.String("backend", "", "backend address")
	dir := fs.String("inspect", "", "record every exchange into an inspector database in this folder (as `berth up --inspect` does)")
	nodb := fs.Bool("nodb", false, "with -inspect: record, but hand the exchanges to a sink that drops them (the cost of parsing and copying alone)")
	watch := fs.Bool("watch", false, "with -inspect: a subscriber takes every frame of the inspect stream, as an open dashboard does")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the proxy to this file")
	fs.Parse(args)
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := proxy.Options{Listen: *listen, Name: "bench", Logger: log}
	if *dir != "" {
		db, err := inspect.OpenDB(filepath.Join(*dir, inspect.FileName), inspect.DBOptions{})
		if err != nil {
			return err
		}
		defer db.Close()
		var sink inspect.Sink = db
		if *nodb {
			sink = dropSink{}
		}
		// As the engine does: each stored exchange is published on the
		// hub's inspect stream, encoded only if someone listens.
		h := hub.NewMemory(hub.Options{})
		defer h.Close()
		if *watch {
			sub := h.NewSubscriber()
			if err := h.Subscribe(sub, []string{hub.StreamInspect}, nil); err != nil {
				return err
			}
			defer sub.Close()
			var wg sync.WaitGroup
			defer wg.Wait()
			wg.Go(func() {
				for {
					if _, err := sub.Next(ctx); err != nil {
						return
					}
				}
			})
		}
		publish := func(exs []*inspect.Exchange) {
			for _, ex := range exs {
				h.Publish(hub.StreamInspect, (*inspect.Summary)(ex))
			}
		}
		rec, err := inspect.New(inspect.Options{Sink: sink, Logger: log, OnStored: publish})
		if err != nil {
			return err
		}
		defer func() {
			rec.Close()
			st := rec.Stats()
			// run reads this file once it stopped the process.
			os.WriteFile(filepath.Join(*dir, "stats.txt"), fmt.Appendf(nil, "stored %d, dropped %d, failed %d, trimmed %d",
				st.Stored, st.Dropped, st.Failed, st.Trimmed), 0o644)
		}()
		opts.Recorder = rec
		// SIGUSR1 collects garbage and returns it to the system, so that
		// run can tell the memory the history holds from garbage not yet
		// collected (a process that allocates little collects rarely).
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() {
			for {
				select {
				case <-usr1:
					debug.FreeOSMemory()
				case <-ctx.Done():
					return
				}
			}
		})
	}
	p, err := proxy.Listen(opts)
	if err != nil {
		return err
	}
	p.SetBackends([]string{*backend})
	return p.Serve(ctx)
}

// dropSink is an inspect.Sink that keeps nothing.
type dropSink struct{}

func (dropSink) Add(context.Context, []*inspect.Exchange) error { return nil }
func (dropSink) List(context.Context, inspect.Filter) ([]inspect.Exchange, error) {
	return nil, nil
}
func (dropSink) Get(context.Context, int64) (inspect.Exchange, error) {
	return inspect.Exchange{}, inspect.ErrNotFound
}

// target is one way to reach the backend.
type target struct {
	name string
	addr string
	pgid int // the process group of the proxy (its CPU is measured); 0 for direct
}

// result is one wrk run.
type result struct {
	target string
	path   string
	conns  int
	rps    float64
	p50    time.Duration
	p99    time.Duration
	errors string // wrk's socket errors and non-2xx counts, if any
	// cpu is the CPU time (user and system) the proxy's processes used
	// during the run, per request; 0 if not measured.
	cpu time.Duration
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	dur := fs.Duration("d", 5*time.Second, "duration of each wrk run")
	rounds := fs.Int("rounds", 3, "runs of each cell; the table shows the median by requests/s")
	out := fs.String("out", "", "also write the report to this file")
	wrkBin := fs.String("wrk", "wrk", "wrk binary")
	nginxBin := fs.String("nginx", "nginx", "nginx binary")
	only := fs.String("targets", "direct,berth,inspected,watched,nginx,httputil,parse-only", "targets to measure, comma-separated")
	fs.Parse(args)

	tmp, err := os.MkdirTemp("", "proxybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ports, err := freePorts(7)
	if err != nil {
		return err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	var targets []target
	for i, name := range []string{"direct", "berth", "nginx", "httputil", "inspected", "parse-only", "watched"} {
		if slices.Contains(strings.Split(*only, ","), name) {
			targets = append(targets, target{name: name, addr: addr(i)})
		}
	}
	has := func(name string) bool {
		return slices.ContainsFunc(targets, func(t target) bool { return t.name == name })
	}

	var children []*exec.Cmd
	defer func() {
		for _, c := range children {
			stopChild(c)
		}
	}()
	pgids := map[string]int{}
	startAs := func(name string, c *exec.Cmd) error {
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			return fmt.Errorf("start %s: %w", c.Path, err)
		}
		children = append(children, c)
		pgids[name] = c.Process.Pid
		return nil
	}
	start := func(c *exec.Cmd) error { return startAs("", c) }
	if err := start(exec.Command(self, "backend", "-listen", addr(0))); err != nil {
		return err
	}
	if has("berth") {
		if err := startAs("berth", exec.Command(self, "berth", "-listen", addr(1), "-backend", addr(0))); err != nil {
			return err
		}
	}
	if has("nginx") {
		conf, err := nginxConf(tmp, addr(2), addr(0))
		if err != nil {
			return err
		}
		if err := startAs("nginx", exec.Command(*nginxBin, "-p", tmp, "-e", filepath.Join(tmp, "error.log"), "-c", conf, "-g", "daemon off;")); err != nil {
			return err
		}
	}
	if has("httputil") {
		if err := startAs("httputil", exec.Command(self, "httputil", "-listen", addr(3), "-backend", addr(0))); err != nil {
			return err
		}
	}
	if has("parse-only") {
		if err := startAs("parse-only", exec.Command(self, "berth", "-listen", addr(5), "-backend", addr(0), "-inspect", filepath.Join(tmp, "nodb"), "-nodb")); err != nil {
			return err
		}
	}
	if has("watched") {
		if err := startAs("watched", exec.Command(self, "berth", "-listen", addr(6), "-backend", addr(0), "-inspect", filepath.Join(tmp, "watched"), "-watch")); err != nil {
			return err
		}
	}
	var inspected *exec.Cmd
	if has("inspected") {
		inspected = exec.Command(self, "berth", "-listen", addr(4), "-backend", addr(0), "-inspect", tmp)
		if err := startAs("inspected", inspected); err != nil {
			return err
		}
	}
	for i := range targets {
		targets[i].pgid = pgids[targets[i].name]
	}
	for _, t := range targets {
		if err := waitHTTP(ctx, "http://"+t.addr+"/100"); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}

	// The machine's load before the run: the figures mean little if
	// something else was busy.
	before := versions(*wrkBin, *nginxBin)

	// Warm up every path (connection pools, page cache, CPU frequency).
	for _, t := range targets {
		if _, err := runWrk(ctx, *wrkBin, t, "/1m", 50, time.Second); err != nil {
			return err
		}
	}

	// Each cell runs the targets in turn, round after round, so that a
	// drift of the machine (another tenant, the CPU clock) spreads over all
	// of them.
	var (
		results []result
		paired  []string
	)
	for _, path := range []string{"/100", "/1m"} {
		for _, conns := range []int{50, 1} {
			runs := make([][]result, len(targets))
			for range *rounds {
				for i, t := range targets {
					r, err := runWrk(ctx, *wrkBin, t, path, conns, *dur)
					if err != nil {
						return err
					}
					runs[i] = append(runs[i], r)
					fmt.Fprintf(os.Stderr, "%-8s %-4s c%-2d %10.0f req/s  p50 %-9s p99 %-9s %s\n", t.name, path, conns, r.rps, fmtDur(r.p50), fmtDur(r.p99), r.errors)
				}
			}
			paired = append(paired, pairedCosts(targets, runs)...)
			for _, rs := range runs {
				slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
				results = append(results, rs[len(rs)/2])
			}
		}
	}

	v := versions(*wrkBin, *nginxBin)
	v["load before"] = before["load"]
	report := reportMarkdown(results, *dur, *rounds, v)
	if inspected != nil {
		// The 1 MiB cells left a few hundred large exchanges (the 256 MiB
		// bound): refill the history with small ones, so that the memory
		// figure is with a full history of 10,000.
		for _, t := range targets {
			if t.name == "inspected" {
				if _, err := runWrk(ctx, *wrkBin, t, "/100", 1, 4*time.Second); err != nil {
					return err
				}
			}
		}
		time.Sleep(time.Second) // the recorder's last batches
		report += inspectorReport(inspected, paired, tmp)
	}
	fmt.Print(report)
	if *out == "" {
		return nil
	}
	// Newest run first, older ones kept below it.
	old, err := os.ReadFile(*out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	_, older, _ := strings.Cut(string(old), resultsIntro)
	return os.WriteFile(*out, []byte(resultsHeader+resultsIntro+report+older), 0o644)
}

const (
	resultsHeader = "# berth proxy: benchmark results\n\n"
	resultsIntro  = "Written by `bench/proxy/run.sh` (see README.md), newest run first. " +
		"Every target serves the same Go backend; wrk, the proxies and the backend share the machine's cores.\n\n"
)

// inspectorReport stops the inspected proxy and says what it kept: its
// memory with a full history (the database keeps 10,000 exchanges by
// default), the database's size, and how many exchanges were stored or
// dropped (a full queue drops rather than slows the traffic).
func inspectorReport(c *exec.Cmd, paired []string, dir string) string {
	var b strings.Builder
	b.WriteString("Recording's cost, each cell's rounds paired (the plain proxy's run and the inspected one's of the same round, a few seconds apart), median of the rounds: " +
		strings.Join(paired, "; ") + ".\n\n")
	rss := func() string {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Process.Pid)); err == nil {
			if m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`).FindSubmatch(b); m != nil {
				kb, _ := strconv.Atoi(string(m[1]))
				return fmt.Sprintf("%.1f MB", float64(kb)/1024)
			}
		}
		return "?"
	}
	before := rss()
	c.Process.Signal(syscall.SIGUSR1)
	time.Sleep(time.Second)
	after := rss()
	stopChild(c)
	size := "?"
	var total int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(filepath.Join(dir, inspect.FileName+suffix)); err == nil {
			total += fi.Size()
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "inspect.bodies", "*"))
	for _, p := range segs {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	if total > 0 {
		size = fmt.Sprintf("%.1f MB", float64(total)/(1<<20))
	}
	kept := "?"
	if db, err := inspect.OpenDB(filepath.Join(dir, inspect.FileName), inspect.DBOptions{}); err == nil {
		if exs, err := db.List(context.Background(), inspect.Filter{Limit: -1}); err == nil {
			kept = strconv.Itoa(len(exs))
		}
		db.Close()
	}
	stats := "?"
	if st, err := os.ReadFile(filepath.Join(dir, "stats.txt")); err == nil {
		stats = string(st)
	}
	fmt.Fprintf(&b, "Inspected proxy at the end of the run: RSS %s with %s exchanges kept, %s once garbage is collected and returned to the system; database and bodies %s on disk; recorder: %s exchanges.\n\n", before, kept, after, size, stats)
	return b.String()
}

// pairedCosts compares, round by round, the inspected, parse-only and watched runs of
// one cell with the plain proxy's run of the same round, and describes the
// medians: requests/s as a ratio, and the proxy's CPU per request.
func pairedCosts(targets []target, runs [][]result) []string {
	plain := slices.IndexFunc(targets, func(t target) bool { return t.name == "berth" })
	if plain < 0 {
		return nil
	}
	var out []string
	for i, t := range targets {
		if t.name != "inspected" && t.name != "parse-only" && t.name != "watched" {
			continue
		}
		var ratios []float64
		var extra []time.Duration
		for k, r := range runs[i] {
			p := runs[plain][k]
			if p.rps > 0 {
				ratios = append(ratios, r.rps/p.rps)
			}
			extra = append(extra, r.cpu-p.cpu)
		}
		if len(ratios) == 0 {
			continue
		}
		slices.Sort(ratios)
		slices.Sort(extra)
		r := runs[i][0]
		body := map[string]string{"/100": "100 B", "/1m": "1 MiB"}[r.path]
		out = append(out, fmt.Sprintf("%s %s c%d %.2f× (%s more CPU per request)", t.name, body, r.conns,
			ratios[len(ratios)/2], fmtCPU(extra[len(extra)/2])))
	}
	return out
}

// groupCPU returns the CPU time (user and system) used so far by the live
// processes of process group pgid.
func groupCPU(pgid int) time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone
		}
		// Fields after the command, which is in parentheses and may hold
		// spaces: state, ppid, pgrp, … utime (14th field), stime (15th).
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g != pgid {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times: 100 on
// every Linux this runs on.
const clockTicks = 100

func stopChild(c *exec.Cmd) {
	if c.ProcessState != nil {
		return // stopped already
	}
	syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitHTTP(ctx context.Context, u string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not answering %s: %w", u, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func nginxConf(dir, listen, backend string) (string, error) {
	conf := fmt.Sprintf(`worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    upstream backend {
        server %[3]s;
        keepalive 128;
    }
    server {
        listen %[2]s;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
        }
    }
}
`, dir, listen, backend)
	path := filepath.Join(dir, "nginx.conf")
	return path, os.WriteFile(path, []byte(conf), 0o644)
}

var (
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reRequests = regexp.MustCompile(`(\d+) requests in`)
	reLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	reErrors   = regexp.MustCompile(`(?m)^\s+(Socket errors: .*|Non-2xx or 3xx responses: .*)$`)
)

func runWrk(ctx context.Context, bin string, t target, path string, conns int, d time.Duration) (result, error) {
	threads := min(conns, 2)
	cmd := exec.CommandContext(ctx, bin, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(int(d.Seconds()))+"s", "--latency", "http://"+t.addr+path)
	var cpu0 time.Duration
	if t.pgid != 0 {
		cpu0 = groupCPU(t.pgid)
	}
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %w\n%s", t.name, err, out)
	}
	r := result{target: t.name, path: path, conns: conns}
	if m := reRequests.FindSubmatch(out); m != nil && t.pgid != 0 {
		if n, _ := strconv.ParseInt(string(m[1]), 10, 64); n > 0 {
			r.cpu = (groupCPU(t.pgid) - cpu0) / time.Duration(n)
		}
	}
	m := reRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk %s: no Requests/sec in:\n%s", t.name, out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, m := range reLatency.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		d := time.Duration(v * float64(unit))
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	var errs []string
	for _, m := range reErrors.FindAllSubmatch(out, -1) {
		errs = append(errs, string(m[1]))
	}
	r.errors = strings.Join(errs, "; ")
	return r, nil
}

func versions(wrkBin, nginxBin string) map[string]string {
	v := map[string]string{"go": runtime.Version()}
	if out, err := exec.Command(nginxBin, "-v").CombinedOutput(); err == nil {
		v["nginx"] = strings.TrimSpace(strings.TrimPrefix(string(out), "nginx version: "))
	}
	if out, _ := exec.Command(wrkBin, "-v").CombinedOutput(); len(out) > 0 {
		v["wrk"] = strings.Fields(string(out))[1]
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.*)$`).FindSubmatch(b); m != nil {
			v["cpu"] = string(m[1])
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		v["kernel"] = strings.TrimSpace(string(out))
	}
	v["cores"] = strconv.Itoa(runtime.NumCPU())
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		v["load"] = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return v
}

func reportMarkdown(results []result, d time.Duration, rounds int, v map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %s cores, %s, %s; load average %s before the run, %s after. Go %s, %s, wrk %s.\n\n",
		v["cores"], v["cpu"], v["kernel"], v["load before"], v["load"], strings.TrimPrefix(v["go"], "go"), v["nginx"], v["wrk"])
	fmt.Fprintf(&b, "Command: `bench/proxy/run.sh` (`wrk -d%v --latency`, -c50 with 2 threads, -c1 with 1; each row is the median of %d runs by requests/s).\n\n", d, rounds)
	nginx := map[string]result{}
	for _, r := range results {
		if r.target == "nginx" {
			nginx[r.path+strconv.Itoa(r.conns)] = r
		}
	}
	b.WriteString("| body | conns | target | requests/s | p50 | p99 | req/s vs nginx | proxy CPU / request | errors |\n")
	b.WriteString("|---|--:|---|--:|--:|--:|--:|--:|---|\n")
	for _, r := range results {
		body := map[string]string{"/100": "100 B", "/1m": "1 MiB"}[r.path]
		vs := ""
		if n, ok := nginx[r.path+strconv.Itoa(r.conns)]; ok && n.rps > 0 {
			vs = fmt.Sprintf("%.2f×", r.rps/n.rps)
		}
		name := r.target
		if name == "berth" || name == "inspected" {
			name = "**berth " + map[string]string{"berth": "proxy", "inspected": "inspected"}[name] + "**"
		}
		switch name {
		case "parse-only":
			name = "berth inspected, no database"
		case "watched":
			name = "berth inspected, stream watched"
		}
		cpu := ""
		if r.cpu > 0 {
			cpu = fmtCPU(r.cpu)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %.0f | %s | %s | %s | %s | %s |\n", body, r.conns, name, r.rps, fmtDur(r.p50), fmtDur(r.p99), vs, cpu, r.errors)
	}
	b.WriteString("\n")
	return b.String()
}

// fmtCPU formats a CPU time per request: microseconds, one decimal.
func fmtCPU(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}
