package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// lineStamper copies a process's output to a log file, each line prefixed
// with the time the bench read it, and lets a system watch for lines.
type lineStamper struct {
	mu    sync.Mutex
	lines []stampedLine
	wg    sync.WaitGroup
}

type stampedLine struct {
	t    time.Time
	text string
}

func (s *lineStamper) follow(r io.Reader, w io.Writer) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			t := time.Now()
			text := stripANSI(sc.Text())
			s.mu.Lock()
			s.lines = append(s.lines, stampedLine{t, text})
			s.mu.Unlock()
			fmt.Fprintf(w, "%s %s\n", t.UTC().Format("15:04:05.000000"), text)
		}
	}()
}

// first returns the time of the first line after t containing sub.
func (s *lineStamper) first(after time.Time, sub string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if l.t.After(after) && strings.Contains(l.text, sub) {
			return l.t, true
		}
	}
	return time.Time{}, false
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// startStamped starts cmd with its stdout and stderr stamped into logPath.
func startStamped(cmd *exec.Cmd, logPath string, st *lineStamper) (io.Closer, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		f.Close()
		return nil, err
	}
	pw.Close()
	st.follow(pr, f)
	return f, nil
}

// addPhase appends d to phase name of r when both ends are known.
func addPhase(r *result, name string, from, to time.Time) {
	if from.IsZero() || to.IsZero() {
		return
	}
	r.phases[name] = append(r.phases[name], to.Sub(from))
}

// addOverhead records the reloader's own share of an edit's latency: the
// total minus the spans given (the build, the app's start-up), when all of
// them are known.
func addOverhead(r *result, e editRecord, spans ...[2]time.Time) {
	d := e.tNew.Sub(e.t0)
	for _, sp := range spans {
		if sp[0].IsZero() || sp[1].IsZero() {
			return
		}
		d -= sp[1].Sub(sp[0])
	}
	r.overhead = append(r.overhead, d)
}

// ---- the limit: the bench itself kills and starts the app ----

type limitSys struct {
	c      *config
	a      *app
	dir    string
	port   int
	cmd    *exec.Cmd
	st     lineStamper
	logf   io.Closer
	builtA map[string][2]time.Time // version → build start, end
	killA  map[string][2]time.Time // version → kill sent, process reaped
	spawnA map[string]time.Time    // version → started
}

func (s *limitSys) start(ctx context.Context) (int, error) {
	s.builtA, s.killA, s.spawnA = map[string][2]time.Time{}, map[string][2]time.Time{}, map[string]time.Time{}
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	s.port = port
	if s.a.build != "" {
		if err := runBuild(s.c, s.a); err != nil {
			return 0, err
		}
	}
	return port, s.spawn()
}

func (s *limitSys) spawn() error {
	cmd := s.c.command(s.a.src, []string{fmt.Sprintf("PORT=%d", s.port)}, s.a.argv[0], s.a.argv[1:]...)
	f, err := startStamped(cmd, filepath.Join(s.dir, "app.log"), &s.st)
	if err != nil {
		return err
	}
	if s.logf != nil {
		s.logf.Close()
	}
	s.cmd, s.logf = cmd, f
	return nil
}

func (s *limitSys) edit(ctx context.Context, v string) (time.Time, error) {
	t0, err := s.a.write(v)
	if err != nil {
		return t0, err
	}
	if s.a.build != "" {
		b0 := time.Now()
		if err := runBuild(s.c, s.a); err != nil {
			return t0, err
		}
		s.builtA[v] = [2]time.Time{b0, time.Now()}
	}
	k0 := time.Now()
	killGroup(s.cmd)
	s.killA[v] = [2]time.Time{k0, time.Now()}
	s.spawnA[v] = time.Now()
	return t0, s.spawn()
}

func (s *limitSys) phases(ctx context.Context, edits []editRecord, r *result) {
	for _, e := range edits {
		if b, ok := s.builtA[e.version]; ok {
			addPhase(r, "1 write → build starts", e.t0, b[0])
			addPhase(r, "2 build", b[0], b[1])
		}
		k := s.killA[e.version]
		addPhase(r, "4 stop: signal → exited", k[0], k[1])
		addPhase(r, "5 exited → new process started", k[1], s.spawnA[e.version])
		up, _ := s.st.first(s.spawnA[e.version], "serving "+e.version)
		addPhase(r, "6 started → listening (app's own start-up)", s.spawnA[e.version], up)
		addPhase(r, "7 listening → client has new answer", up, e.tNew)
		spans := [][2]time.Time{{s.spawnA[e.version], up}}
		if b, ok := s.builtA[e.version]; ok {
			spans = append(spans, b)
		}
		addOverhead(r, e, spans...)
	}
}

func (s *limitSys) stop() error {
	killGroup(s.cmd)
	waitGroupFor(&s.st.wg, 2*time.Second)
	if s.logf != nil {
		s.logf.Close()
	}
	return nil
}

// ---- berth up -d --watch ----

type berthSys struct {
	c         *config
	a         *app
	dir       string
	project   string
	proxied   bool
	published int
	events    *exec.Cmd
	eventsBuf *bytes.Buffer
	up        bool
}

func (s *berthSys) env() []string {
	return []string{"BERTH_STATE_HOME=" + filepath.Join(s.dir, "state")}
}

func (s *berthSys) berth(args ...string) *exec.Cmd {
	return s.c.command(s.dir, s.env(), s.c.berth, append([]string{"-f", filepath.Join(s.dir, "compose.yaml")}, args...)...)
}

func (s *berthSys) start(ctx context.Context) (int, error) {
	target, err := freePort()
	if err != nil {
		return 0, err
	}
	s.published = target
	if s.proxied {
		if s.published, err = freePort(); err != nil {
			return 0, err
		}
		for s.published == target {
			if s.published, err = freePort(); err != nil {
				return 0, err
			}
		}
	}
	if s.a.build != "" {
		// `berth up` does not run x-berth.build; the first build is ours.
		if err := runBuild(s.c, s.a); err != nil {
			return 0, err
		}
	}
	action := "restart"
	extra, ignore := "", ""
	if s.a.build != "" {
		action = "rebuild"
		extra = fmt.Sprintf("    x-berth:\n      build: %s\n", s.a.build)
		ignore = fmt.Sprintf("          ignore: [%s]\n", s.a.binName)
	}
	argv, _ := json.Marshal(s.a.argv)
	compose := fmt.Sprintf(`name: %s
services:
  web:
    command: %s
    working_dir: ./src
    environment:
      PORT: "%d"
    ports:
      - "127.0.0.1:%d:%d"
%s    develop:
      watch:
        - path: ./src
          action: %s
%s`, s.project, argv, target, s.published, target, extra, action, ignore)
	if err := os.WriteFile(filepath.Join(s.dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		return 0, err
	}
	up := s.berth("up", "-d", "--watch")
	out, err := up.CombinedOutput()
	os.WriteFile(filepath.Join(s.dir, "up.out"), out, 0o644)
	s.up = true
	if err != nil {
		return 0, fmt.Errorf("berth up -d --watch: %v\n%s", err, out)
	}
	// Project events (stop, die, start …) with their times, for the phases.
	s.eventsBuf = &bytes.Buffer{}
	ev := s.berth("events", "--json")
	ev.Stdout = s.eventsBuf
	if err := ev.Start(); err != nil {
		return 0, err
	}
	s.events = ev
	return s.published, nil
}

func (s *berthSys) edit(ctx context.Context, v string) (time.Time, error) {
	return s.a.write(v)
}

// phases reads `berth logs -t` and the events: when berth noted the change
// (after the watch's debounce), when it stopped the old process, when that
// exited, when the new one started and when it printed "serving vN".
func (s *berthSys) phases(ctx context.Context, edits []editRecord, r *result) {
	out, err := s.berth("logs", "-t", "--no-log-prefix", "web").Output()
	if err != nil {
		r.notes = append(r.notes, fmt.Sprintf("berth logs -t: %v", err))
		return
	}
	os.WriteFile(filepath.Join(s.dir, "logs-t.txt"), out, 0o644)
	var logl []stampedLine
	for _, line := range strings.Split(string(out), "\n") {
		ts, text, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			continue
		}
		logl = append(logl, stampedLine{t, text})
	}
	type event struct {
		Time   time.Time `json:"time"`
		Action string    `json:"action"`
	}
	var evs []event
	for _, line := range strings.Split(s.eventsBuf.String(), "\n") {
		var e event
		if json.Unmarshal([]byte(line), &e) == nil && !e.Time.IsZero() {
			evs = append(evs, e)
		}
	}
	os.WriteFile(filepath.Join(s.dir, "events.jsonl"), s.eventsBuf.Bytes(), 0o644)
	firstLog := func(after time.Time, sub string) time.Time {
		for _, l := range logl {
			if l.t.After(after) && strings.Contains(l.text, sub) {
				return l.t
			}
		}
		return time.Time{}
	}
	firstEv := func(after time.Time, action string) time.Time {
		if after.IsZero() {
			return time.Time{}
		}
		for _, e := range evs {
			if !e.Time.Before(after) && e.Action == action {
				return e.Time
			}
		}
		return time.Time{}
	}
	notes := 0
	for i, e := range edits {
		noted := firstLog(e.t0, "changed →")
		stop := firstEv(noted, "stop")
		die := firstEv(stop, "die")
		start := firstEv(die, "start")
		serving := firstLog(e.t0, "serving "+e.version)
		if s.a.build != "" {
			addPhase(r, "1 write → change noted (inotify + debounce)", e.t0, noted)
			addPhase(r, "2 build", noted, stop)
		} else {
			addPhase(r, "1 write → change noted (inotify + debounce)", e.t0, noted)
			addPhase(r, "3 noted → stop signal sent", noted, stop)
		}
		addPhase(r, "4 stop: signal → exited", stop, die)
		addPhase(r, "5 exited → new process started", die, start)
		addPhase(r, "6 started → listening (app's own start-up)", start, serving)
		addPhase(r, "7 listening → client has new answer", serving, e.tNew)
		spans := [][2]time.Time{{start, serving}}
		if s.a.build != "" {
			spans = append(spans, [2]time.Time{noted, stop})
		}
		addOverhead(r, e, spans...)
		// Count the restarts noted for this edit: more than one is a
		// debounce that split one save.
		hi := time.Now()
		if i+1 < len(edits) {
			hi = edits[i+1].t0
		}
		for _, l := range logl {
			if l.t.After(e.t0) && l.t.Before(hi) && strings.Contains(l.text, "changed →") {
				notes++
			}
		}
	}
	if notes != len(edits) {
		r.notes = append(r.notes, fmt.Sprintf("%d edits noted as %d changes by berth's watch", len(edits), notes))
	}
}

func (s *berthSys) stop() error {
	var errs []string
	if s.up {
		out, err := s.berth("down").CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Sprintf("berth down: %v: %s", err, out))
		}
	}
	if s.events != nil {
		syscall.Kill(-s.events.Process.Pid, syscall.SIGKILL)
		s.events.Wait()
	}
	if s.published != 0 {
		if err := waitPortFree(s.published, 5*time.Second); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// ---- air ----

type airSys struct {
	c    *config
	a    *app
	dir  string
	port int
	cmd  *exec.Cmd
	st   lineStamper
	logf io.Closer
}

func (s *airSys) start(ctx context.Context) (int, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	s.port = port
	// air's own defaults, except: delay 1 ms (its lowest that works; 0
	// means its default of 1000 ms), the app's command, and no screen
	// clearing. Its kill is SIGKILL by default (send_interrupt = false).
	toml := fmt.Sprintf(`root = "."
tmp_dir = "tmp"

[build]
cmd = %q
%s
include_ext = [%q]
exclude_dir = ["tmp"]
delay = 1

[log]
time = true

[screen]
clear_on_rebuild = false

[misc]
clean_on_exit = true
`, s.a.airCmd, s.a.airBin, s.a.airExt)
	if err := os.WriteFile(filepath.Join(s.a.src, ".air.toml"), []byte(toml), 0o644); err != nil {
		return 0, err
	}
	env := []string{fmt.Sprintf("PORT=%d", port)}
	if s.a.airPath != "" {
		env = append(env, "PATH="+s.a.airPath+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	cmd := s.c.command(s.a.src, env, s.c.air, "-c", ".air.toml")
	f, err := startStamped(cmd, filepath.Join(s.dir, "air.log"), &s.st)
	if err != nil {
		return 0, err
	}
	s.cmd, s.logf = cmd, f
	return port, nil
}

func (s *airSys) edit(ctx context.Context, v string) (time.Time, error) {
	return s.a.write(v)
}

func (s *airSys) phases(ctx context.Context, edits []editRecord, r *result) {
	s.st.mu.Lock()
	inUse := 0
	for _, l := range s.st.lines {
		if strings.Contains(l.text, "address already in use") {
			inUse++
		}
	}
	s.st.mu.Unlock()
	if inUse > 0 {
		r.notes = append(r.notes, fmt.Sprintf("air's output says \"bind: address already in use\" %d time(s): the new process started before the old one had released the port, and exited", inUse))
	}
	for _, e := range edits {
		noted, _ := s.st.first(e.t0, "has changed")
		building, _ := s.st.first(noted, "building...")
		running, _ := s.st.first(building, "running...")
		serving, _ := s.st.first(e.t0, "serving "+e.version)
		addPhase(r, "1 write → change noted (inotify + debounce)", e.t0, noted)
		if s.a.build != "" {
			addPhase(r, "2 build + stop (air's \"building...\" → \"running...\")", building, running)
			addOverhead(r, e, [2]time.Time{building, running}, [2]time.Time{running, serving})
		} else {
			addPhase(r, "3-5 noted → new process started (air's \"running...\")", noted, running)
			addOverhead(r, e, [2]time.Time{running, serving})
		}
		addPhase(r, "6 started → listening (app's own start-up)", running, serving)
		addPhase(r, "7 listening → client has new answer", serving, e.tNew)
	}
}

func (s *airSys) stop() error {
	if s.cmd == nil {
		return nil
	}
	// air kills its app when it gets SIGINT; then make sure of it.
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGINT)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	waitGroupFor(&s.st.wg, 2*time.Second)
	s.logf.Close()
	return waitPortFree(s.port, 5*time.Second)
}

// waitGroupFor waits for wg, at most d (a leftover process may still hold a
// pipe; the sweep that follows kills it).
func waitGroupFor(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
