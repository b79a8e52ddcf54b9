package supervise

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReapLeftovers(t *testing.T) {
	leftover := startT(t, sh("sleep 300 & sleep 300"))
	reused := startT(t, sh("sleep 300"))
	recs := []Record{
		{Name: "web-1", Pid: leftover.Pid(), Pgid: leftover.Pgid(), StartTime: leftover.StartTime()},
		{Name: "reused", Pid: reused.Pid(), Pgid: reused.Pgid(), StartTime: reused.StartTime() + 1},
		{Name: "gone", Pid: 1<<22 + 1, StartTime: 1}, // above pid_max
	}
	killed, err := ReapLeftovers(recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(killed) != 1 || killed[0] != recs[0] {
		t.Fatalf("killed = %+v, want only %+v", killed, recs[0])
	}
	// ReapLeftovers waited: the group has no running member any more.
	if groupRunning(t, leftover.Pgid()) {
		t.Error("leftover group still running after ReapLeftovers returned")
	}
	waitDone(t, leftover)
	if got := exitErrorOf(t, leftover.Err()); got.Signal != syscall.SIGKILL {
		t.Errorf("leftover: Err() = %v, want killed by SIGKILL", got)
	}
	select {
	case <-reused.Done():
		t.Errorf("record with another start time was killed: %v", reused.Err())
	default:
	}
}

func TestReapLeftovers_RefusesDangerousRecords(t *testing.T) {
	self, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{
		{Name: "init", Pid: 1, StartTime: 1 << 60},
		{Name: "self", Pid: os.Getpid(), Pgid: unix.Getpgrp(), StartTime: self.startTime},
	}
	killed, err := ReapLeftovers(recs)
	if len(killed) != 0 {
		t.Errorf("killed = %+v, want none", killed)
	}
	if err == nil || !strings.Contains(err.Error(), `reap "init": refuse`) || !strings.Contains(err.Error(), `reap "self": refuse`) {
		t.Errorf("err = %v, want refusals for init and self", err)
	}
}

func TestParseProcStat(t *testing.T) {
	line := "4242 (we ird) name)) S 1 4240 4240 0 -1 4194560 94 0 1 0 0 0 0 0 20 0 1 0 987654 2 3 4\n"
	got, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{state: 'S', pgrp: 4240, startTime: 987654}
	if got != want {
		t.Errorf("parseProcStat = %+v, want %+v", got, want)
	}
	if _, err := parseProcStat([]byte("12 (x) S 1 2")); err == nil {
		t.Error("short line parsed without error")
	}
}

func TestPollUntil(t *testing.T) {
	n := 0
	if !pollUntil(time.Second, time.Millisecond, func() bool { n++; return n == 3 }) {
		t.Error("pollUntil gave up on a condition that became true")
	}
	if pollUntil(20*time.Millisecond, time.Millisecond, func() bool { return false }) {
		t.Error("pollUntil reported true for a condition that never was")
	}
}
