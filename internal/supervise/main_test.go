package supervise

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as berth's reaper ("__reap", like the CLI's hidden
// command) and as a fake berth ("__fakeberth") that the reaper tests SIGKILL.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__reap":
			if err := RunReaper(os.Stdin); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		case "__fakeberth":
			os.Exit(fakeBerth(os.Args[2:]))
		}
	}
	// Under -race a re-executed test binary sleeps 1s at exit by default.
	if _, ok := os.LookupEnv("GORACE"); !ok {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	// Orphaned group members come back to the test binary, which the waiters
	// then reap: nothing is left as a zombie of a PID 1 that does not reap.
	if err := BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// fakeBerth starts a reaper (unless args[0] is "noreaper") and a service whose
// shell has a background grandchild, prints "<pgid> <grandchild pid>
// <reaper pid>", then waits for stdin to close (it is SIGKILLed before that).
func fakeBerth(args []string) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var r *Reaper
	if len(args) == 0 || args[0] != "noreaper" {
		if r, err = StartReaper([]string{exe, "__reap"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	p, err := Start(Spec{
		Name: "svc",
		Argv: []string{"sh", "-c", "sleep 300 & echo $!; sleep 300"},
		Env:  os.Environ(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	reaperPid := 0
	if r != nil {
		if err := r.Track(p.Pgid()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		reaperPid = r.proc.Pid
	}
	line, err := bufio.NewReader(p.Stdout).ReadString('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%d %s %d\n", p.Pgid(), strings.TrimSpace(line), reaperPid)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// checkGoroutines fails if any goroutine other than the caller still runs
// code of this package (a waiter or a test's helper), after a grace period.
func checkGoroutines() error {
	var leaked string
	ok := pollUntil(5*time.Second, 10*time.Millisecond, func() bool {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		gs := strings.Split(string(buf), "\n\n")
		leaked = ""
		for _, g := range gs[1:] { // gs[0] is this goroutine
			if strings.Contains(g, "berth/internal/supervise.") {
				leaked += g + "\n\n"
			}
		}
		return leaked == ""
	})
	if !ok {
		return fmt.Errorf("leaked goroutines:\n%s", leaked)
	}
	return nil
}

// eventually fails t unless cond becomes true within timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !pollUntil(timeout, 10*time.Millisecond, cond) {
		t.Fatalf("%s: not true after %s", what, timeout)
	}
}

// pidRunning reports whether pid exists and is not a zombie.
func pidRunning(pid int) bool {
	st, err := readProcStat(pid)
	return err == nil && st.running()
}

// reapGroup reaps the zombies of group pgid that are this process's children
// (it is a subreaper) without blocking.
func reapGroup(pgid int) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-pgid, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func groupRunning(t *testing.T, pgid int) bool {
	t.Helper()
	alive, err := groupAlive(pgid)
	if err != nil {
		t.Fatal(err)
	}
	return alive
}
