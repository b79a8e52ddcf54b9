package supervise

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeBerthRun starts the test binary as a fake berth and returns the pgid of
// its service, the pid of the service's background grandchild and the
// reaper's pid (0 without reaper), once the grandchild runs.
func fakeBerthRun(t *testing.T, mode string) (cmd *exec.Cmd, pgid, grandchild, reaper int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(exe, "__fakeberth", mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // kept open: the fake berth must not exit on its own
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read fake berth's output: %v", err)
	}
	if _, err := fmt.Sscan(line, &pgid, &grandchild, &reaper); err != nil {
		t.Fatalf("parse fake berth's output %q: %v", line, err)
	}
	t.Cleanup(func() {
		// Whatever the outcome, leave nothing behind. The test binary is a
		// subreaper, so the orphans are its children to reap.
		if pgid > 1 {
			unix.Kill(-pgid, unix.SIGKILL)
			eventually(t, 3*time.Second, "cleanup of group", func() bool {
				reapGroup(pgid)
				return !groupRunning(t, pgid)
			})
			reapGroup(pgid)
		}
		if reaper > 1 {
			var ws unix.WaitStatus
			unix.Wait4(reaper, &ws, unix.WNOHANG, nil)
		}
	})
	if !pidRunning(grandchild) {
		t.Fatalf("grandchild %d is not running", grandchild)
	}
	return cmd, pgid, grandchild, reaper
}

func TestReaper_KillsGroupsWhenBerthIsKilled(t *testing.T) {
	cmd, pgid, grandchild, reaper := fakeBerthRun(t, "reaper")
	if reaper == 0 {
		t.Fatal("fake berth started no reaper")
	}
	if st, err := readProcStat(reaper); err != nil || st.pgrp != reaper {
		t.Errorf("reaper %d is not in its own process group (stat %+v, %v)", reaper, st, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	eventually(t, 3*time.Second, "service group gone after berth was SIGKILLed", func() bool {
		reapGroup(pgid)
		return !groupRunning(t, pgid)
	})
	if pidRunning(grandchild) {
		t.Errorf("grandchild %d still running", grandchild)
	}
	eventually(t, 3*time.Second, "reaper exited", func() bool {
		var ws unix.WaitStatus
		unix.Wait4(reaper, &ws, unix.WNOHANG, nil)
		return !pidRunning(reaper)
	})
}

// TestReaper_PdeathsigAloneLeavesGrandchildren is the control for the test
// above: without the reaper, the leader dies with berth (Pdeathsig) but its
// grandchild survives, so it is the reaper that kills it there.
func TestReaper_PdeathsigAloneLeavesGrandchildren(t *testing.T) {
	cmd, pgid, grandchild, _ := fakeBerthRun(t, "noreaper")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	eventually(t, 3*time.Second, "leader killed by Pdeathsig", func() bool { return !pidRunning(pgid) })
	if !pidRunning(grandchild) {
		t.Errorf("grandchild %d died without a reaper; the reaper test proves nothing", grandchild)
	}
}

func TestReaper_CloseKillsNothing(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, err := StartReaper([]string{exe, "__reap"})
	if err != nil {
		t.Fatal(err)
	}
	p := startT(t, sh("sleep 300"))
	if err := r.Track(p.Pgid()); err != nil {
		t.Fatal(err)
	}
	q := startT(t, sh("sleep 300"))
	if err := r.Track(q.Pgid()); err != nil {
		t.Fatal(err)
	}
	if err := r.Untrack(q.Pgid()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	select {
	case <-p.Done():
		t.Fatalf("tracked process died on Close: %v", p.Err())
	default:
	}
	if err := r.Track(p.Pgid()); err == nil || !strings.Contains(err.Error(), "reaper closed") {
		t.Errorf("Track after Close = %v, want reaper closed", err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRunReaper(t *testing.T) {
	t.Run("EOF kills tracked groups only", func(t *testing.T) {
		tracked := startT(t, sh("sleep 300 & sleep 300"))
		untracked := startT(t, sh("sleep 300"))
		other := startT(t, sh("sleep 300"))
		in := fmt.Sprintf("track %d\ntrack %d\nuntrack %d\n", tracked.Pgid(), untracked.Pgid(), untracked.Pgid())
		if err := RunReaper(strings.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		waitDone(t, tracked)
		if got := exitErrorOf(t, tracked.Err()); got.Signal != syscall.SIGKILL {
			t.Errorf("tracked: Err() = %v, want killed by SIGKILL", got)
		}
		for _, p := range []*Process{untracked, other} {
			select {
			case <-p.Done():
				t.Errorf("pid %d died: %v", p.Pid(), p.Err())
			default:
			}
		}
	})
	t.Run("exit kills nothing", func(t *testing.T) {
		p := startT(t, sh("sleep 300"))
		in := fmt.Sprintf("track %d\nexit\ntrack 12345\n", p.Pgid())
		if err := RunReaper(strings.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.Done():
			t.Fatalf("tracked process died on exit: %v", p.Err())
		default:
		}
	})
	t.Run("bad lines are reported and the rest still works", func(t *testing.T) {
		p := startT(t, sh("sleep 300"))
		in := fmt.Sprintf("track 1\nfrobnicate 3\ntrack %d\n", p.Pgid())
		err := RunReaper(strings.NewReader(in))
		if err == nil || err.Error() != `reap: bad command "track 1"` {
			t.Errorf("err = %v, want reap: bad command \"track 1\"", err)
		}
		waitDone(t, p)
	})
	t.Run("own process group is never killed", func(t *testing.T) {
		in := fmt.Sprintf("track %d\n", unix.Getpgrp())
		if err := RunReaper(strings.NewReader(in)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestKillGroups(t *testing.T) {
	reused := startT(t, sh("sleep 300"))
	same := startT(t, sh("sleep 300"))
	unknown := startT(t, sh("sleep 300"))
	killGroups(map[int]uint64{
		reused.Pgid():  reused.StartTime() + 1, // the pid now belongs to another process
		same.Pgid():    same.StartTime(),
		unknown.Pgid(): 0,
	})
	for _, p := range []*Process{same, unknown} {
		waitDone(t, p)
		if got := exitErrorOf(t, p.Err()); got.Signal != syscall.SIGKILL {
			t.Errorf("pid %d: Err() = %v, want killed by SIGKILL", p.Pid(), got)
		}
	}
	select {
	case <-reused.Done():
		t.Errorf("group with a reused leader pid was killed: %v", reused.Err())
	default:
	}
}
