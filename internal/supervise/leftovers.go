package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Record identifies a started process in berth's state, so that a later run
// can find and kill it if it survived (Pid+StartTime is safe from pid reuse).
type Record struct {
	Name      string
	Pid       int
	Pgid      int // 0 means Pid
	StartTime uint64
}

func (r Record) group() int {
	if r.Pgid == 0 {
		return r.Pid
	}
	return r.Pgid
}

// leftoverWait bounds how long ReapLeftovers waits for killed groups to go.
const leftoverWait = 5 * time.Second

// ReapLeftovers SIGKILLs the process group of each record whose leader pid
// still exists (running or zombie) with the same start time, and waits until
// no live process remains in those groups. Records whose pid is gone or was
// reused are skipped. It returns the records it killed; the error lists
// invalid records and groups still alive after a few seconds. It never
// signals pid 1, process group 1, or berth's own process group.
func ReapLeftovers(recs []Record) (killed []Record, err error) {
	var errs []error
	own, self := unix.Getpgrp(), os.Getpid()
	for _, r := range recs {
		pgid := r.group()
		if r.Pid <= 1 || pgid <= 1 || pgid == own || r.Pid == self {
			errs = append(errs, fmt.Errorf("reap %q: refuse to kill pid %d, process group %d", r.Name, r.Pid, pgid))
			continue
		}
		st, err := readProcStat(r.Pid)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reap %q: %w", r.Name, err))
			continue
		}
		if st.startTime != r.StartTime {
			continue // pid reused by another process
		}
		target := -pgid
		if st.pgrp != pgid {
			target = r.Pid // the leader left its group: kill only what we know is ours
		}
		if err := unix.Kill(target, unix.SIGKILL); err != nil && err != unix.ESRCH {
			errs = append(errs, fmt.Errorf("reap %q: kill pid %d: %w", r.Name, r.Pid, err))
			continue
		}
		killed = append(killed, r)
	}
	if len(killed) > 0 {
		gone := pollUntil(leftoverWait, 10*time.Millisecond, func() bool {
			for _, r := range killed {
				if leftoverAlive(r) {
					return false
				}
			}
			return true
		})
		if !gone {
			for _, r := range killed {
				if leftoverAlive(r) {
					errs = append(errs, fmt.Errorf("reap %q: process group %d still alive after %s", r.Name, r.group(), leftoverWait))
				}
			}
		}
	}
	return killed, errors.Join(errs...)
}

func leftoverAlive(r Record) bool {
	if st, err := readProcStat(r.Pid); err == nil && st.startTime == r.StartTime && st.running() {
		return true
	}
	alive, _ := groupAlive(r.group())
	return alive
}

// pollUntil calls cond every interval until it returns true or timeout passes,
// and reports whether it did.
func pollUntil(timeout, interval time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
			if cond() {
				return true
			}
		}
	}
}

// procStat holds the fields of /proc/<pid>/stat that supervise uses.
type procStat struct {
	state     byte   // field 3: R, S, D, Z, X, ...
	pgrp      int    // field 5
	startTime uint64 // field 22, clock ticks after boot
}

// running reports whether the process is alive, i.e. neither a zombie nor dead.
func (s procStat) running() bool { return s.state != 'Z' && s.state != 'X' }

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses "pid (comm) state ppid pgrp ...". comm may contain
// spaces and parentheses, so fields are counted after the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("parse /proc stat: no command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 22-3+1 {
		return procStat{}, fmt.Errorf("parse /proc stat: %d fields after the command name, want at least 20", len(f))
	}
	if len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("parse /proc stat: bad state %q", f[0])
	}
	pgrp, err := strconv.Atoi(string(f[5-3]))
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc stat: pgrp: %w", err)
	}
	start, err := strconv.ParseUint(string(f[22-3]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc stat: start time: %w", err)
	}
	return procStat{state: f[0][0], pgrp: pgrp, startTime: start}, nil
}

// groupAlive reports whether any process in group pgid is running (zombies
// do not count: they hold no ports, files or pipes). It scans /proc.
func groupAlive(pgid int) (bool, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue // exited while scanning
		}
		if st.pgrp == pgid && st.running() {
			return true, nil
		}
	}
	return false, nil
}
