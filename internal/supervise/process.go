package supervise

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults applied by Start to zero Spec fields.
const (
	DefaultStopSignal = syscall.SIGTERM
	DefaultStopGrace  = 10 * time.Second
)

// Spec describes one process to start.
type Spec struct {
	// Name identifies the process in errors, e.g. "web-1".
	Name string
	// Argv is the command and its arguments. Argv[0] is looked up like a shell
	// would: a name without a slash is searched in the PATH of Env (not berth's
	// own PATH); a relative path with a slash is relative to Dir.
	Argv []string
	// Dir is the working directory; "" means berth's own.
	Dir string
	// Env is the complete environment. When a variable appears twice the last
	// value wins, as with os/exec. Without PATH, the search uses DefaultPath.
	Env []string
	// StopSignal is sent to the group by Stop; 0 means SIGTERM.
	StopSignal syscall.Signal
	// StopGrace is how long Stop waits after StopSignal before SIGKILL; 0 means 10s.
	StopGrace time.Duration
	// Stdin gives the process a pipe (Process.Stdin) instead of /dev/null.
	Stdin bool
	// TTY starts the process on a new pseudo-terminal (its own session, the
	// terminal as controlling terminal): Stdout reads the terminal's output
	// (stdout and stderr merged, with \r\n and echo), Stdin writes to it,
	// Stderr is nil, and Resize sets its size. Stdin is implied.
	TTY bool
}

// Process is one started OS process, leader of its own process group.
//
// The caller owns Stdout, Stderr and Stdin: it reads Stdout and Stderr until
// EOF (both reach EOF once the whole group is gone, since the group is killed
// when the leader exits) and closes all three. A caller that stops reading
// eventually blocks the process on a full pipe.
type Process struct {
	// Stdout and Stderr are the read ends of the process's output pipes.
	Stdout, Stderr *os.File
	// Stdin is the write end of the process's stdin pipe, nil unless Spec.Stdin.
	// Closing it gives the process EOF. With Spec.TTY it writes to the terminal.
	Stdin *os.File
	// pty is the terminal's master side, nil unless Spec.TTY.
	pty *os.File

	name       string
	pid        int
	startTime  uint64
	stopSignal syscall.Signal
	stopGrace  time.Duration
	done       chan struct{} // closed by wait

	mu sync.Mutex
	// mu guards the fields below. It is held while signalling so that no
	// signal is sent to the pgid after the leader has been reaped.
	reaped       bool      // the leader has been waited for
	err          error     // exit status, set when reaped
	stopDeadline time.Time // when Stop escalates to SIGKILL; zero until the first Stop
}

// Start starts spec's process as the leader of a new process group and
// starts its waiter goroutine. Errors name the process, and the executable or
// working directory at fault:
//
//	start "web-1": exec "nodex": executable file not found in $PATH
//	start "web-1": working directory "/src/web": no such file or directory
func Start(spec Spec) (*Process, error) {
	p, err := start(spec)
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", spec.Name, err)
	}
	return p, nil
}

func start(spec Spec) (*Process, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, errors.New("no command to run")
	}
	if spec.Dir != "" {
		if err := checkDir(spec.Dir); err != nil {
			return nil, fmt.Errorf("working directory %q: %w", spec.Dir, err)
		}
	}
	env := dedupEnv(spec.Env)
	path, err := lookPath(spec.Argv[0], spec.Dir, envValue(env, "PATH"))
	if err != nil {
		return nil, err
	}

	// Parent ends are kept on success; child ends are always closed here, so
	// that EOF on Stdout/Stderr depends only on the process group.
	var parent, child []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	defer func() { closeAll(child) }()

	if spec.TTY {
		return startTTY(spec, path, env)
	}
	var stdinR, stdinW *os.File
	if spec.Stdin {
		stdinR, stdinW, err = os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("create stdin pipe: %w", err)
		}
		parent = append(parent, stdinW)
	} else {
		stdinR, err = os.Open(os.DevNull)
		if err != nil {
			return nil, fmt.Errorf("open stdin: %w", err)
		}
	}
	child = append(child, stdinR)
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(parent)
		return nil, fmt.Errorf("create stdout pipe: %w", err)
	}
	parent, child = append(parent, outR), append(child, outW)
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(parent)
		return nil, fmt.Errorf("create stderr pipe: %w", err)
	}
	parent, child = append(parent, errR), append(child, errW)

	// Fd puts the child ends in blocking mode, which is what the child expects.
	pid, err := syscall.ForkExec(path, spec.Argv, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   env,
		Files: []uintptr{stdinR.Fd(), outW.Fd(), errW.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	runtime.KeepAlive(child)
	if err != nil {
		closeAll(parent)
		return nil, fmt.Errorf("exec %q: %w", spec.Argv[0], err)
	}
	// The child is not reaped until wait runs, so its /proc entry exists.
	st, err := readProcStat(pid)
	if err != nil {
		unix.Kill(-pid, unix.SIGKILL)
		var ws unix.WaitStatus
		waitEINTR(func() error { _, err := unix.Wait4(pid, &ws, 0, nil); return err })
		closeAll(parent)
		return nil, fmt.Errorf("read start time of pid %d: %w", pid, err)
	}

	p := &Process{
		Stdout:     outR,
		Stderr:     errR,
		Stdin:      stdinW,
		name:       spec.Name,
		pid:        pid,
		startTime:  st.startTime,
		stopSignal: spec.StopSignal,
		stopGrace:  spec.StopGrace,
		done:       make(chan struct{}),
	}
	p.begin()
	return p, nil
}

// closeTTYLocked closes the Process's own terminal descriptor. mu must be held.
func (p *Process) closeTTYLocked() {
	if p.pty != nil {
		p.pty.Close()
	}
}

// begin applies defaults and starts the waiter.
func (p *Process) begin() {
	if p.stopSignal == 0 {
		p.stopSignal = DefaultStopSignal
	}
	if p.stopGrace <= 0 {
		p.stopGrace = DefaultStopGrace
	}
	go p.wait()
}

// wait is the process's only goroutine. It waits for the leader to exit
// without reaping it (so its pid, which is the pgid, cannot be reused), kills
// the rest of the group, reaps the leader, then reaps any group members that
// were reparented to berth (see BecomeSubreaper), and closes done.
func (p *Process) wait() {
	defer close(p.done)
	var info unix.Siginfo
	err := waitEINTR(func() error {
		return unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
	})
	if err != nil {
		// Someone else reaped our child; the pgid may already be reused, so
		// signal nothing.
		p.mu.Lock()
		p.reaped = true
		p.err = fmt.Errorf("wait for %q (pid %d): %w", p.name, p.pid, err)
		p.closeTTYLocked()
		p.mu.Unlock()
		return
	}
	// The leader is a zombie and still holds the pgid: kill the rest of the
	// group so that nothing outlives the service or holds its pipes.
	unix.Kill(-p.pid, unix.SIGKILL)

	p.mu.Lock()
	var ws unix.WaitStatus
	err = waitEINTR(func() error { _, err := unix.Wait4(p.pid, &ws, 0, nil); return err })
	p.reaped = true
	if err != nil {
		p.err = fmt.Errorf("wait for %q (pid %d): %w", p.name, p.pid, err)
	} else {
		p.err = exitError(ws)
	}
	p.closeTTYLocked()
	p.mu.Unlock()

	// Members that are berth's children (berth is a subreaper) have been
	// SIGKILLed above; reap them. ECHILD means none is left.
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(-p.pid, &ws, 0, nil)
		if err != nil && err != unix.EINTR {
			return
		}
	}
}

func waitEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// Pid returns the process id of the group leader.
func (p *Process) Pid() int { return p.pid }

// Pgid returns the process group id, which equals Pid.
func (p *Process) Pgid() int { return p.pid }

// StartTime returns the leader's start time in clock ticks since boot
// (field 22 of /proc/<pid>/stat). Together with Pid it identifies the process
// across pid reuse; see Record.
func (p *Process) StartTime() uint64 { return p.startTime }

// Done returns a channel closed when the process has been waited for: the
// leader has been reaped, the rest of its group SIGKILLed, and those group
// members that were reparented to berth (see BecomeSubreaper) reaped as well.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns the exit status once Done is closed: nil for exit status 0,
// an *ExitError for a non-zero status or a signal, or another error if the
// process could not be waited for. Before Done is closed it returns nil.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Signal sends sig to the whole process group. After the process has been
// reaped it returns an error wrapping os.ErrProcessDone.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return fmt.Errorf("signal %q with %s: %w", p.name, signalName(sig), os.ErrProcessDone)
	}
	if err := unix.Kill(-p.pid, sig); err != nil {
		return fmt.Errorf("signal %q with %s: %w", p.name, signalName(sig), err)
	}
	return nil
}

// Kill sends SIGKILL to the whole process group now. It does nothing once the
// process has been reaped.
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		unix.Kill(-p.pid, unix.SIGKILL)
	}
}

// Stop sends the stop signal to the process group, waits up to the stop
// grace period for the leader to exit, then SIGKILLs the group. Cancelling
// ctx escalates to SIGKILL at once. Stop returns once the process has been
// reaped; its exit status is in Err.
//
// Stop is idempotent and safe for concurrent use: the stop signal is sent
// once, and every caller escalates at the same deadline (or earlier, when its
// own ctx is cancelled). Stop on an exited process returns nil at once.
func (p *Process) Stop(ctx context.Context) error {
	var sigErr error
	p.mu.Lock()
	if p.reaped {
		p.mu.Unlock()
		return nil
	}
	if p.stopDeadline.IsZero() {
		p.stopDeadline = time.Now().Add(p.stopGrace)
		if err := unix.Kill(-p.pid, p.stopSignal); err != nil {
			sigErr = fmt.Errorf("stop %q: send %s: %w", p.name, signalName(p.stopSignal), err)
			p.stopDeadline = time.Now()
		}
	}
	grace := time.Until(p.stopDeadline)
	p.mu.Unlock()

	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return sigErr
	case <-timer.C:
	case <-ctx.Done():
	}
	p.Kill()
	<-p.done
	return sigErr
}

// ExitError is the exit status of a process that did not exit with status 0.
type ExitError struct {
	// Code is the exit status; for a process killed by a signal it is
	// 128+signal, as a shell's $? and docker report it.
	Code int
	// Signal is the signal that killed the process, 0 if it exited.
	Signal syscall.Signal
}

// Error returns "exit status 3" or "killed by signal SIGKILL".
func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return "killed by signal " + signalName(e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func exitError(ws unix.WaitStatus) error {
	switch {
	case ws.Signaled():
		return &ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	case ws.ExitStatus() != 0:
		return &ExitError{Code: ws.ExitStatus()}
	}
	return nil
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return pathErrCause(err)
	}
	if !fi.IsDir() {
		return syscall.ENOTDIR
	}
	return nil
}

// pathErrCause strips the *fs.PathError wrapper, whose text repeats the path
// in a less helpful form ("stat /x: ...").
func pathErrCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
