// Command reloadbench measures reload latency: the time from saving a source
// file to the moment the service answers with the new code, and the requests
// that fail meanwhile, for berth (`up --watch`, through its proxy and on the
// service's own port), air, and the physical limit (kill + start of the same
// command by the bench itself). See bench/reload/README.md; run it through
// bench/reload/run.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childTag is the environment variable every process the bench starts
// carries (and passes on); run.sh's trap and the bench's own sweep kill
// whatever carries this run's value.
const childTag = "RELOAD_BENCH_CHILD"

type config struct {
	edits    int
	warmup   int
	poll     time.Duration
	settle   time.Duration
	timeout  time.Duration
	apps     []string
	systems  []string
	berth    string
	air      string
	python   string
	appsDir  string
	out      string
	keep     bool
	tag      string
	tmp      string
	logw     io.Writer
	started  time.Time
	loadIn   string
	cmdline  string
	failures []string
}

func main() {
	var c config
	flag.IntVar(&c.edits, "edits", 30, "measured edits per app and system")
	flag.IntVar(&c.warmup, "warmup", 1, "unmeasured edits after each start")
	flag.DurationVar(&c.poll, "poll", 2*time.Millisecond, "the client starts a request at most this often")
	flag.DurationVar(&c.settle, "settle", 300*time.Millisecond, "pause after a new version answers, before the next edit (plus 0-100 ms at random)")
	flag.DurationVar(&c.timeout, "timeout", 20*time.Second, "an edit whose new version does not answer within this is a lost reload")
	apps := flag.String("apps", "py,go", "apps to measure (py, go)")
	systems := flag.String("systems", "limit,berth-proxied,berth-direct,air", "systems to measure")
	flag.StringVar(&c.berth, "berth", "", "berth binary")
	flag.StringVar(&c.air, "air", "", "air binary")
	flag.StringVar(&c.python, "python", "python3", "the Python interpreter the Python app runs with (every system runs the same)")
	flag.StringVar(&c.appsDir, "appsdir", "", "folder holding the apps (bench/reload/apps)")
	flag.StringVar(&c.out, "out", "", "also write the report to this file")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary folder")
	flag.Parse()
	c.apps = strings.Split(*apps, ",")
	c.systems = strings.Split(*systems, ",")
	c.cmdline = strings.Join(os.Args, " ")
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "reloadbench:", err)
		os.Exit(1)
	}
}

// result holds what one app × system measured.
type result struct {
	app, system string
	lat         []time.Duration // per measured edit
	failed      []int           // failed requests per measured edit
	errSamples  map[string]int  // failed requests by kind
	requests    int             // requests made in the measured windows
	lost        int             // measured edits whose new version never answered
	overhead    []time.Duration // per edit: latency minus the build and the app's start-up
	phases      map[string][]time.Duration
	notes       []string
	err         error
}

func run(c *config) error {
	// As a child subreaper the bench inherits what its children orphan
	// (berth's daemon), so it reaps them even where PID 1 does not.
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, 36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("become child subreaper: %v", e)
	}
	c.tag = os.Getenv("RELOAD_BENCH_TAG")
	if c.tag == "" {
		c.tag = fmt.Sprintf("reload-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	for _, p := range []*string{&c.berth, &c.air, &c.appsDir} {
		if *p == "" {
			return errors.New("-berth, -air and -appsdir are required (run bench/reload/run.sh)")
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	tmp, err := os.MkdirTemp("", "berth-reload-")
	if err != nil {
		return err
	}
	c.tmp = tmp
	c.logw = os.Stderr
	c.started = time.Now()
	c.loadIn = loadavg()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer func() {
		sweep(c.tag, 0, c.logw)
		if c.keep {
			fmt.Fprintln(c.logw, "kept", c.tmp)
		} else {
			os.RemoveAll(c.tmp)
		}
	}()

	results := map[string]*result{}
	for _, app := range c.apps {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rs := make([]*result, len(c.systems))
		for i, sys := range c.systems {
			rs[i] = &result{app: app, system: sys, errSamples: map[string]int{}, phases: map[string][]time.Duration{}}
			results[app+"/"+sys] = rs[i]
		}
		measureApp(ctx, c, app, rs)
		sweep(c.tag, 3*time.Second, c.logw)
	}
	report := render(c, results)
	fmt.Print(report)
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(c.logw, "report saved in", c.out)
	}
	return ctx.Err()
}

// system is one way of running an app and reloading it.
type system interface {
	// start starts the app at version v0 and returns the port to poll.
	start(ctx context.Context) (port int, err error)
	// edit writes version v into the source; the limit also rebuilds and
	// restarts. It returns the time the write began.
	edit(ctx context.Context, v string) (t0 time.Time, err error)
	// phases adds, for each measured edit, the time of each phase of the
	// reload, once the system has run (before stop).
	phases(ctx context.Context, edits []editRecord, r *result)
	stop() error
}

type editRecord struct {
	version string
	t0      time.Time
	tNew    time.Time // end of the first request answered with version
}

// running is one system of measureApp.
type running struct {
	s        system
	r        *result
	port     int
	measured []editRecord
}

// measureApp starts every system on its own copy of the app, then makes the
// edits: edit i of every system, in an order that rotates with i, then edit
// i+1. The systems run side by side but only one is edited (and polled) at a
// time; a change in the machine's load touches them all alike.
func measureApp(ctx context.Context, c *config, app string, rs []*result) {
	var sys []*running
	defer func() {
		for _, s := range sys {
			if err := s.s.stop(); err != nil {
				fmt.Fprintf(c.logw, "   %s: stop: %v\n", s.r.system, err)
				s.r.notes = append(s.r.notes, "stop: "+err.Error())
			}
		}
	}()
	fail := func(r *result, err error) {
		r.err = err
		c.failures = append(c.failures, fmt.Sprintf("%s / %s: %v", r.app, r.system, err))
		fmt.Fprintf(c.logw, "   %s / %s FAILED: %v\n", r.app, r.system, err)
	}
	for _, r := range rs {
		dir := filepath.Join(c.tmp, app+"-"+r.system)
		src := filepath.Join(dir, "src")
		if err := copyDir(filepath.Join(c.appsDir, app), src); err != nil {
			fail(r, err)
			continue
		}
		a := appFor(app, src, c.python)
		var s system
		switch r.system {
		case "limit":
			s = &limitSys{c: c, a: a, dir: dir}
		case "berth-proxied", "berth-direct":
			s = &berthSys{c: c, a: a, dir: dir, proxied: r.system == "berth-proxied", project: "reload-" + app + "-" + strings.TrimPrefix(r.system, "berth-")}
		case "air":
			s = &airSys{c: c, a: a, dir: dir}
		default:
			fail(r, fmt.Errorf("unknown system %q", r.system))
			continue
		}
		fmt.Fprintf(c.logw, "== %s / %s: starting\n", app, r.system)
		port, err := s.start(ctx)
		if err == nil {
			err = waitVersion(ctx, c, port, "v0")
		}
		sys = append(sys, &running{s: s, r: r, port: port})
		if err != nil {
			fail(r, fmt.Errorf("start: %w", err))
		}
	}
	total := c.warmup + c.edits
	for i := 1; i <= total && ctx.Err() == nil; i++ {
		v := fmt.Sprintf("v%d", i)
		order := slices.Clone(sys)
		k := i % len(order)
		order = append(order[k:], order[:k]...)
		var line []string
		for _, s := range order {
			if s.r.err != nil || ctx.Err() != nil {
				continue
			}
			e, recs, err := editOnce(ctx, c, s.port, s.s, v)
			var lost *lostReload
			if errors.As(err, &lost) {
				// The reload never answered: count it, and go on (the
				// next edit may bring the app back, as a user's next
				// save would).
				s.r.lost++
				s.r.notes = append(s.r.notes, fmt.Sprintf("edit %s: %v", v, err))
				fmt.Fprintf(c.logw, "   %s / %s: edit %s LOST: %v\n", app, s.r.system, v, err)
				if s.r.lost >= 3 {
					fail(s.r, fmt.Errorf("3 reloads lost"))
				}
				continue
			}
			if err != nil {
				fail(s.r, fmt.Errorf("edit %d (%s): %w", i, v, err))
				continue
			}
			if i <= c.warmup {
				continue
			}
			s.measured = append(s.measured, e)
			failed := 0
			for _, rec := range recs {
				if rec.end.After(e.t0) {
					s.r.requests++
					if rec.err != "" {
						failed++
						s.r.errSamples[rec.err]++
						if s.r.system == "berth-proxied" {
							s.r.notes = append(s.r.notes, fmt.Sprintf("edit %s: failed request (%s), sent at write%+.1f ms, failed at write%+.1f ms (answer at write%+.1f ms)",
								v, rec.err, ms(rec.start.Sub(e.t0)), ms(rec.end.Sub(e.t0)), ms(e.tNew.Sub(e.t0))))
						}
					}
				}
			}
			s.r.lat = append(s.r.lat, e.tNew.Sub(e.t0))
			s.r.failed = append(s.r.failed, failed)
			line = append(line, fmt.Sprintf("%s %.0f ms/%d failed", s.r.system, ms(e.tNew.Sub(e.t0)), failed))
		}
		if len(line) > 0 {
			fmt.Fprintf(c.logw, "   %s %s: %s\n", app, v, strings.Join(line, ", "))
		}
	}
	for _, s := range sys {
		if len(s.measured) > 0 {
			s.s.phases(ctx, s.measured, s.r)
		}
	}
}

// lostReload is an edit whose new version never answered.
type lostReload struct{ err error }

func (e *lostReload) Error() string { return e.err.Error() }

// waitVersion polls port until it answers v.
func waitVersion(ctx context.Context, c *config, port int, v string) error {
	p := newPoller(port, c.poll)
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.run(pctx) }()
	defer func() { cancel(); wg.Wait() }()
	_, err := p.waitFor(ctx, v, time.Time{}, c.timeout)
	return err
}

// editOnce starts the client on port, waits for a first answer (the old
// version), makes the edit to v, waits for v to answer and keeps polling
// for the settle time. It returns the edit and every request the client
// made.
func editOnce(ctx context.Context, c *config, port int, s system, v string) (editRecord, []record, error) {
	p := newPoller(port, c.poll)
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.run(pctx) }()
	defer func() { cancel(); wg.Wait() }()
	// The app answers before the edit, unless an earlier reload was lost.
	if _, err := p.waitFor(ctx, "", time.Time{}, 3*time.Second); err != nil && ctx.Err() != nil {
		return editRecord{}, nil, err
	}
	t0, err := s.edit(ctx, v)
	if err != nil {
		return editRecord{}, nil, err
	}
	tNew, err := p.waitFor(ctx, v, t0, c.timeout)
	if err != nil {
		if ctx.Err() != nil {
			return editRecord{}, nil, err
		}
		return editRecord{}, nil, &lostReload{err}
	}
	pause := c.settle + time.Duration(rand.Int64N(int64(100*time.Millisecond)))
	select {
	case <-ctx.Done():
		return editRecord{}, nil, ctx.Err()
	case <-time.After(pause):
	}
	cancel()
	wg.Wait()
	return editRecord{version: v, t0: t0, tNew: tNew}, p.records(), nil
}

// ---- the apps ----

type app struct {
	name    string
	src     string // folder holding the sources (the watched folder)
	file    string // the file each edit rewrites
	line    *regexp.Regexp
	format  string // the new line, with %s for the version
	argv    []string
	build   string // shell command line, "" for none
	airCmd  string
	airBin  string // the TOML line naming what air runs
	airPath string // a folder to put first on air's PATH, or ""
	airExt  string
	binName string // the build output in src, ignored by berth's watch
}

func appFor(name, src, python string) *app {
	switch name {
	case "py":
		return &app{name: name, src: src, file: filepath.Join(src, "app.py"),
			line: regexp.MustCompile(`(?m)^VERSION = ".*"$`), format: `VERSION = "%s"`,
			argv: []string{python, "app.py"}, airCmd: "true", airExt: "py",
			// air quotes an absolute full_bin that holds a space as one
			// path; so "python3 app.py", with the interpreter's folder first
			// on air's PATH.
			airBin: `full_bin = "` + filepath.Base(python) + ` app.py"`, airPath: pathDir(python)}
	case "go":
		return &app{name: name, src: src, file: filepath.Join(src, "main.go"),
			line: regexp.MustCompile(`(?m)^const version = ".*"$`), format: `const version = "%s"`,
			argv: []string{"./app"}, build: "go build -o app .", binName: "app",
			airCmd: "go build -o ./tmp/main .", airBin: `entrypoint = ["./tmp/main"]`, airExt: "go"}
	}
	panic("unknown app " + name)
}

// pathDir is the folder of an absolute program path, "" otherwise.
func pathDir(prog string) string {
	if filepath.IsAbs(prog) {
		return filepath.Dir(prog)
	}
	return ""
}

// write rewrites the version line in place (truncate and write, as most
// editors save), returning when the write began.
func (a *app) write(v string) (time.Time, error) {
	b, err := os.ReadFile(a.file)
	if err != nil {
		return time.Time{}, err
	}
	nb := a.line.ReplaceAll(b, []byte(fmt.Sprintf(a.format, v)))
	if string(nb) == string(b) {
		return time.Time{}, fmt.Errorf("%s: version line not found", a.file)
	}
	t0 := time.Now()
	return t0, os.WriteFile(a.file, nb, 0o644)
}

// ---- the client ----

type record struct {
	start, end time.Time
	body       string
	err        string
}

type poller struct {
	url      string
	interval time.Duration
	client   *http.Client

	mu     sync.Mutex
	recs   []record
	notify chan struct{}
}

func newPoller(port int, interval time.Duration) *poller {
	return &poller{
		url:      fmt.Sprintf("http://127.0.0.1:%d/", port),
		interval: interval,
		// A new connection per request: a connection kept alive to the old
		// process would say nothing about whether the port accepts.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		notify: make(chan struct{}, 1),
	}
}

func (p *poller) run(ctx context.Context) {
	for ctx.Err() == nil {
		start := time.Now()
		rec := record{start: start}
		req, _ := http.NewRequestWithContext(ctx, "GET", p.url, nil)
		resp, err := p.client.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case rerr != nil:
				err = rerr
			case resp.StatusCode != 200:
				err = fmt.Errorf("status %d", resp.StatusCode)
			default:
				rec.body = string(b)
			}
		}
		rec.end = time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			rec.err = errKind(err)
		}
		p.mu.Lock()
		p.recs = append(p.recs, rec)
		p.mu.Unlock()
		select {
		case p.notify <- struct{}{}:
		default:
		}
		if d := time.Until(start.Add(p.interval)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// waitFor returns the end time of the first request that ended after since
// and answered v ("": any successful answer).
func (p *poller) waitFor(ctx context.Context, v string, since time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		p.mu.Lock()
		for ; seen < len(p.recs); seen++ {
			r := p.recs[seen]
			if r.err == "" && (r.body == v || v == "") && r.end.After(since) {
				p.mu.Unlock()
				return r.end, nil
			}
		}
		last := ""
		if n := len(p.recs); n > 0 {
			last = p.recs[n-1].body + p.recs[n-1].err
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("no answer %q within %s (last answer: %q)", v, timeout, last)
		case <-p.notify:
		}
	}
}

func (p *poller) records() []record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.recs)
}

func errKind(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "connection reset"):
		return "connection reset"
	case strings.Contains(s, "unexpected EOF"):
		return "truncated answer (unexpected EOF)"
	case strings.Contains(s, "EOF"):
		return "EOF (closed before any answer)"
	case strings.Contains(s, "Timeout") || strings.Contains(s, "timeout"):
		return "timeout"
	case strings.HasPrefix(s, "status "):
		return s
	}
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// ---- processes ----

// command returns a command in its own process group, carrying the tag.
func (c *config) command(dir string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...), childTag+"="+c.tag)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// killGroup SIGKILLs cmd's process group and waits for cmd.
func killGroup(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
}

// tagged lists the live processes that carry the tag (a zombie's environ
// reads empty).
func tagged(tag string) []int {
	want := childTag + "=" + tag
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && slices.Contains(strings.Split(string(b), "\x00"), want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// sweep gives the processes that carry the tag up to grace to exit by
// themselves (berth's engine exits just after `berth down` returns), then
// SIGKILLs and lists those left. Only call it when no exec.Cmd is waiting.
func sweep(tag string, grace time.Duration, logw io.Writer) {
	deadline := time.Now().Add(grace)
	for len(tagged(tag)) > 0 && time.Now().Before(deadline) {
		reapOrphans()
		time.Sleep(20 * time.Millisecond)
	}
	n := 0
	for _, pid := range tagged(tag) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
			fmt.Fprintf(logw, "   leftover after %s: pid %d (state %s): %s\n", grace, pid, procState(string(stat)),
				strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " "))
		}
	}
	if n > 0 {
		fmt.Fprintf(logw, "   swept %d leftover processes\n", n)
		time.Sleep(50 * time.Millisecond)
	}
	reapOrphans()
}

// procState is the state letter of a /proc/PID/stat line (Z: zombie).
func procState(stat string) string {
	if i := strings.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2 : i+3]
	}
	return "?"
}

// reapOrphans waits for every exited child. Only call it when no exec.Cmd
// is waiting.
func reapOrphans() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitPortFree(port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %d still taken after %s", port, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

func runBuild(c *config, a *app) error {
	cmd := c.command(a.src, nil, "/bin/sh", "-c", a.build)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", a.build, err, out)
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
