package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat returns the state letter and the user+system CPU time a process
// has used itself (threads included, waited-for children excluded), from
// /proc/<pid>/stat.
func procStat(pid int) (state byte, cpu time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name is in parentheses and may hold spaces: split after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	ticks := utime + stime
	return f[0][0], time.Duration(ticks) * time.Second / clockTicks, nil
}

// cpuSeconds returns the CPU seconds a process has used itself since it started.
func cpuSeconds(pid int) (float64, error) {
	_, cpu, err := procStat(pid)
	return cpu.Seconds(), err
}

// memMB returns a memory figure of a process, in MB (10^6 bytes), from
// /proc/<pid>/status: field is "VmRSS" (resident), "RssAnon" (its anonymous
// part: heap, stacks) or "RssFile" (file pages mapped: mostly the binary).
func memMB(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s of %d: %q", field, pid, rest)
			}
			return kb * 1024 / 1e6, nil
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", field, pid)
}

// childNamed returns the pid of a live child of parent whose command name
// is comm, 0 if there is none.
func childNamed(parent int, comm string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ..."
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open || string(b[open+1:end]) != comm {
			continue
		}
		f := strings.Fields(string(b[end+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(parent) && f[0] != "Z" {
			pid, _ := strconv.Atoi(filepath.Base(d))
			return pid
		}
	}
	return 0
}

// alive reports whether pid is a process that has not exited (a zombie has).
func alive(pid int) bool {
	state, _, err := procStat(pid)
	return err == nil && state != 'Z' && state != 'X'
}

// waitGone waits up to d for pid to exit; it reports whether it did.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// tagged returns the live processes, other than this one, whose environment
// holds key=value. Every process the bench starts carries its run tag this
// way, and so do their descendants, whoever their parent is now.
func tagged(key, value string) []int {
	want := []byte(key + "=" + value + "\x00")
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(d + "/environ")
		if err != nil {
			continue
		}
		env = append(env, 0) // the last entry may lack its terminator
		if (bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...))) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killTagged SIGKILLs every live process tagged key=value, waits up to 5 s
// for them to die, and returns how many it found.
func killTagged(key, value string) int {
	pids := tagged(key, value)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range pids {
		waitGone(pid, 5*time.Second)
	}
	return len(pids)
}

// command prepares a process in its own process group (so that a ^C at the
// terminal reaches only the bench, which then cleans up), with the bench's
// environment plus env.
func command(ctx context.Context, dir string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// poll calls check every interval until it reports done, returns an error,
// or ctx ends.
func poll(ctx context.Context, interval time.Duration, check func() (bool, error)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
