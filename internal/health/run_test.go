package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds every wait in these tests; nothing should come close.
const waitLimit = 5 * time.Second

// run is a Run in the background whose reports the test reads in order.
type run struct {
	reports chan Result
	done    chan struct{}
	cancel  context.CancelFunc
	begin   time.Time
}

func startRun(t *testing.T, c Check, clock Clock) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{reports: make(chan Result), done: make(chan struct{}), cancel: cancel, begin: time.Now()}
	go func() {
		defer close(r.done)
		Run(ctx, c, clock, func(res Result) {
			select {
			case r.reports <- res:
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// next returns the next report, failing the test if none comes in time.
func (r *run) next(t *testing.T) Result {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	select {
	case res := <-r.reports:
		return res
	case <-deadline.C:
		t.Fatalf("no report within %v", waitLimit)
		return Result{}
	}
}

// stop cancels Run and waits for it to return.
func (r *run) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	select {
	case <-r.done:
	case <-deadline.C:
		t.Fatalf("Run did not return within %v of cancel", waitLimit)
	}
}

func TestRun_Healthy(t *testing.T) {
	r := startRun(t, Check{Test: []string{"CMD", "true"}, Interval: 20 * time.Millisecond}, RealClock{})
	for range 3 {
		got := r.next(t)
		if got.Status != StatusHealthy || got.FailingStreak != 0 || got.ExitCode != 0 || got.Output != "" {
			t.Fatalf("report = %+v, want healthy, streak 0, exit 0, no output", got)
		}
		if got.At.Before(r.begin) || got.At.After(time.Now()) {
			t.Fatalf("At = %v, want between %v and now", got.At, r.begin)
		}
	}
}

func TestRun_Unhealthy(t *testing.T) {
	t.Run("after retries consecutive failures with the probe output", func(t *testing.T) {
		r := startRun(t, Check{
			Test:     []string{"CMD-SHELL", "echo not ready; echo connection refused >&2; exit 3"},
			Interval: 20 * time.Millisecond,
			Retries:  3,
		}, RealClock{})
		for i, want := range []Status{StatusStarting, StatusStarting, StatusUnhealthy, StatusUnhealthy} {
			got := r.next(t)
			if got.Status != want || got.FailingStreak != i+1 {
				t.Fatalf("report %d = %s streak %d, want %s streak %d", i+1, got.Status, got.FailingStreak, want, i+1)
			}
			if got.ExitCode != 3 || got.Output != "not ready\nconnection refused\n" {
				t.Fatalf("report %d: exit %d output %q, want exit 3 output %q", i+1, got.ExitCode, got.Output, "not ready\nconnection refused\n")
			}
		}
	})

	t.Run("a program that cannot run fails with the exec error", func(t *testing.T) {
		r := startRun(t, Check{Test: []string{"CMD", "berth-no-such-probe"}, Interval: 20 * time.Millisecond, Retries: 1}, RealClock{})
		got := r.next(t)
		want := Result{Status: StatusUnhealthy, FailingStreak: 1, ExitCode: -1,
			Output: `exec: "berth-no-such-probe": executable file not found in $PATH`}
		got.At = time.Time{}
		if got != want {
			t.Fatalf("report = %+v, want %+v", got, want)
		}
	})

	t.Run("an invalid test fails with why", func(t *testing.T) {
		r := startRun(t, Check{Test: []string{"HTTP", "localhost"}, Interval: 20 * time.Millisecond, Retries: 1}, RealClock{})
		got := r.next(t)
		if got.Status != StatusUnhealthy || got.ExitCode != -1 || !strings.Contains(got.Output, `got "HTTP"`) {
			t.Fatalf("report = %+v, want unhealthy, exit -1, output naming the bad form", got)
		}
	})

	t.Run("a success heals and resets the streak", func(t *testing.T) {
		dir := t.TempDir()
		r := startRun(t, Check{Test: []string{"CMD-SHELL", "test -e ok"}, Dir: dir, Interval: 20 * time.Millisecond, Retries: 1}, RealClock{})
		if got := r.next(t); got.Status != StatusUnhealthy || got.FailingStreak != 1 {
			t.Fatalf("first report = %+v, want unhealthy streak 1", got)
		}
		if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			if i == 100 {
				t.Fatal("still not healthy after 100 probes with the file present")
			}
			got := r.next(t)
			if got.Status == StatusHealthy {
				if got.FailingStreak != 0 || got.ExitCode != 0 {
					t.Fatalf("healthy report = %+v, want streak 0, exit 0", got)
				}
				break
			}
		}
	})
}

func TestRun_StartPeriod(t *testing.T) {
	t.Run("failures in the start period do not count", func(t *testing.T) {
		const startPeriod = 300 * time.Millisecond
		r := startRun(t, Check{
			Test:          []string{"CMD", "false"},
			StartPeriod:   startPeriod,
			StartInterval: 20 * time.Millisecond,
			Interval:      20 * time.Millisecond,
			Retries:       1,
		}, RealClock{})
		uncounted := 0
		for {
			if uncounted == 100 {
				t.Fatalf("still starting after %d probes 20ms apart, want unhealthy after the %v start period", uncounted, startPeriod)
			}
			got := r.next(t)
			if got.Status == StatusUnhealthy {
				if uncounted < 1 {
					t.Errorf("unhealthy after %d uncounted failures, want at least 1 in a %v start period", uncounted, startPeriod)
				}
				if since := got.At.Sub(r.begin); since < startPeriod {
					t.Errorf("unhealthy %v after start, want no earlier than the %v start period", since, startPeriod)
				}
				return
			}
			if got.Status != StatusStarting || got.FailingStreak != 0 || got.ExitCode != 1 {
				t.Fatalf("report in start period = %+v, want starting, streak 0, exit 1", got)
			}
			uncounted++
		}
	})

	t.Run("a success in the start period is healthy at once, probed at the start interval", func(t *testing.T) {
		r := startRun(t, Check{
			Test:          []string{"CMD", "true"},
			StartPeriod:   time.Hour,
			StartInterval: 20 * time.Millisecond,
			Interval:      time.Hour, // were it used, no report would come
		}, RealClock{})
		if got := r.next(t); got.Status != StatusHealthy {
			t.Fatalf("report = %+v, want healthy", got)
		}
	})
}

// TestRun_Schedule drives Run with a fake clock to check which interval each
// probe waits and how the start period is measured.
func TestRun_Schedule(t *testing.T) {
	const (
		startInterval = time.Second
		startPeriod   = 10 * time.Second
		interval      = time.Minute
	)
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	clock := newFakeClock()
	begin := clock.Now()
	r := startRun(t, Check{
		Test:          []string{"CMD-SHELL", "test -e ok"},
		Dir:           dir,
		Interval:      interval,
		StartInterval: startInterval,
		StartPeriod:   startPeriod,
		Timeout:       time.Hour,
		Retries:       2,
	}, clock)

	steps := []struct {
		name    string
		healthy bool          // whether the probe succeeds
		wait    time.Duration // the timer Run must be waiting on
		advance time.Duration
		want    Status
		streak  int
	}{
		{"first probe after the start interval, failure not counted", false, startInterval, startInterval, StatusStarting, 0},
		{"probe starting at the end of the start period counts", false, startInterval, startPeriod - startInterval, StatusStarting, 1},
		{"after the start period the interval is used", false, interval, interval, StatusUnhealthy, 2},
		{"recovers", true, interval, interval, StatusHealthy, 0},
		{"healthy keeps the interval", false, interval, interval, StatusHealthy, 1},
	}
	elapsed := time.Duration(0)
	for _, s := range steps {
		if s.healthy {
			if err := os.WriteFile(ok, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(ok); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		clock.WaitTimer(t, s.wait)
		clock.Advance(s.advance)
		elapsed += s.advance
		got := r.next(t)
		if got.Status != s.want || got.FailingStreak != s.streak || !got.At.Equal(begin.Add(elapsed)) {
			t.Fatalf("%s: report = %s streak %d at +%v, want %s streak %d at +%v",
				s.name, got.Status, got.FailingStreak, got.At.Sub(begin), s.want, s.streak, elapsed)
		}
	}

	t.Run("a success in the start period switches to the interval", func(t *testing.T) {
		if err := os.WriteFile(ok, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		clock := newFakeClock()
		r := startRun(t, Check{
			Test: []string{"CMD-SHELL", "test -e ok"}, Dir: dir,
			Interval: interval, StartInterval: startInterval, StartPeriod: startPeriod, Timeout: time.Hour,
		}, clock)
		clock.WaitTimer(t, startInterval)
		clock.Advance(startInterval)
		if got := r.next(t); got.Status != StatusHealthy {
			t.Fatalf("report = %+v, want healthy", got)
		}
		clock.WaitTimer(t, interval)
	})
}

func TestRun_Timeout(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	// The shell and its background sleep both record their pids: the sleep
	// is a grandchild, reachable only through the process group.
	r := startRun(t, Check{
		Test:     []string{"CMD-SHELL", `sleep 5 & echo $! >> pids; echo $$ >> pids; echo started; wait`},
		Dir:      dir,
		Interval: 20 * time.Millisecond,
		Timeout:  100 * time.Millisecond,
	}, RealClock{})

	got := r.next(t)
	want := Result{Status: StatusStarting, FailingStreak: 1, ExitCode: -1, Output: "health check timed out after 100ms"}
	at := got.At
	got.At = time.Time{}
	if got != want {
		t.Fatalf("report = %+v, want %+v", got, want)
	}
	if since := at.Sub(r.begin); since > 3*time.Second {
		t.Errorf("timed-out probe reported after %v: the probe was waited for, not killed", since)
	}
	// Cancel while a later probe may be running: that one must die too.
	r.stop(t)

	data, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data))
	if len(fields) < 2 {
		t.Fatalf("pid file = %q, want the shell's and the sleep's pids", data)
	}
	for _, f := range fields {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		waitGone(t, pid)
	}
}

func TestRun_KillsLeftovers(t *testing.T) {
	dir := t.TempDir()
	// The probe succeeds at once but leaves a sleep holding its output pipe.
	r := startRun(t, Check{
		Test:     []string{"CMD-SHELL", `sleep 5 & echo $! > pid; echo done`},
		Dir:      dir,
		Interval: 20 * time.Millisecond,
	}, RealClock{})
	got := r.next(t)
	if got.Status != StatusHealthy || got.Output != "done\n" {
		t.Fatalf("report = %+v, want healthy with output %q", got, "done\n")
	}
	if since := got.At.Sub(r.begin); since > 3*time.Second {
		t.Errorf("probe reported after %v: Run waited for the leftover sleep", since)
	}
	r.stop(t)
	data, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

// waitGone waits for pid to be gone: no such process, or a zombie that only
// waits for a parent (init, here) to reap it.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || isZombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running %v after the probe was killed", pid, waitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may contain spaces, so split after the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && strings.HasPrefix(string(stat[i+1:]), " Z")
}

func TestRun_Command(t *testing.T) {
	dir := t.TempDir()
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "berth-probe"), []byte("#!/bin/sh\necho \"probe $1 in $(pwd -P)\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_HEALTH_TEST_OUTER", "leaked") // in berth's environment, not the service's
	env := []string{"GREETING=hello world", "PATH=" + bin + ":/usr/bin:/bin"}

	tests := []struct {
		name string
		c    Check
		want string
	}{
		{"CMD passes arguments without a shell",
			Check{Test: []string{"CMD", "echo", "$GREETING", "&&", "*"}, Env: env},
			"$GREETING && *\n"},
		{"CMD-SHELL runs /bin/sh -c",
			Check{Test: []string{"CMD-SHELL", `echo "$GREETING" && echo "$0"`}, Env: env},
			"hello world\n/bin/sh\n"},
		{"the service environment replaces berth's",
			Check{Test: []string{"CMD-SHELL", `echo "[$BERTH_HEALTH_TEST_OUTER]"`}, Env: env},
			"[]\n"},
		{"nil environment inherits berth's",
			Check{Test: []string{"CMD-SHELL", `echo "[$BERTH_HEALTH_TEST_OUTER]"`}},
			"[leaked]\n"},
		{"dir is the working directory",
			Check{Test: []string{"CMD-SHELL", "pwd -P"}, Dir: dir},
			realDir + "\n"},
		{"CMD finds its program in the service's PATH",
			Check{Test: []string{"CMD", "berth-probe", "one"}, Env: env, Dir: dir},
			"probe one in " + realDir + "\n"},
		{"CMD runs a relative program from dir",
			Check{Test: []string{"CMD", "bin/berth-probe", "two"}, Env: env, Dir: dir},
			"probe two in " + realDir + "\n"},
		{"stdout and stderr are both captured",
			Check{Test: []string{"CMD-SHELL", "echo out; echo err >&2"}},
			"out\nerr\n"},
		{"only the last 4 KiB of output is kept",
			Check{Test: []string{"CMD-SHELL", `i=0; while [ $i -lt 1000 ]; do echo 0123456789; i=$((i+1)); done; echo END`}},
			strings.Repeat("0123456789\n", 1000)[11000-(OutputLimit-4):] + "END\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Interval = 20 * time.Millisecond
			r := startRun(t, tt.c, RealClock{})
			got := r.next(t)
			if got.Output != tt.want || got.ExitCode != 0 {
				t.Errorf("report: exit %d output %q\nwant exit 0 output %q", got.ExitCode, got.Output, tt.want)
			}
		})
	}
}

func TestRun_Stops(t *testing.T) {
	t.Run("a disabled check returns at once without reporting", func(t *testing.T) {
		for _, test := range [][]string{nil, {"NONE"}} {
			Run(context.Background(), Check{Test: test}, nil, func(r Result) { t.Errorf("report(%+v) for disabled check", r) })
		}
	})

	t.Run("cancel while waiting returns without reporting", func(t *testing.T) {
		clock := newFakeClock()
		r := startRun(t, Check{Test: []string{"CMD", "true"}, Interval: time.Minute}, clock)
		clock.WaitTimer(t, time.Minute)
		r.stop(t)
		select {
		case got := <-r.reports:
			t.Fatalf("report after cancel: %+v", got)
		default:
		}
	})

	t.Run("cancel during a probe kills it without reporting", func(t *testing.T) {
		clock := newFakeClock()
		dir := t.TempDir()
		r := startRun(t, Check{
			Test: []string{"CMD-SHELL", "echo $$ > pid; exec sleep 5"}, Dir: dir,
			Interval: time.Second, Timeout: time.Minute,
		}, clock)
		clock.WaitTimer(t, time.Second)
		clock.Advance(time.Second)
		clock.WaitTimer(t, time.Minute) // the probe is running
		pidFile := filepath.Join(dir, "pid")
		var pid int
		deadline := time.Now().Add(waitLimit)
		for pid == 0 {
			if data, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(data), "\n") {
				pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
			}
			if time.Now().After(deadline) {
				t.Fatal("probe never wrote its pid")
			}
			time.Sleep(5 * time.Millisecond)
		}
		r.stop(t)
		waitGone(t, pid)
		select {
		case got := <-r.reports:
			t.Fatalf("report after cancel: %+v", got)
		default:
		}
	})
}
