package supervise

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// startTTY starts spec's process on a new pseudo-terminal. The process leads
// a new session (so its pgid is its pid, as without a terminal) with the
// terminal as its controlling terminal, so ^C typed through Stdin reaches it.
func startTTY(spec Spec, path string, env []string) (*Process, error) {
	master, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	defer tty.Close()
	if err := pty.Setsize(master, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		master.Close()
		return nil, fmt.Errorf("size the pseudo-terminal: %w", err)
	}
	// Stdin is a second descriptor of the master, so the caller can close
	// the output side and the input side independently.
	inFd, err := unix.Dup(int(master.Fd()))
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("duplicate the pseudo-terminal: %w", err)
	}
	in := os.NewFile(uintptr(inFd), master.Name())
	// ctl is the Process's own descriptor of the terminal, for Resize; the
	// waiter closes it once the process is reaped.
	ctlFd, err := unix.Dup(int(master.Fd()))
	if err != nil {
		master.Close()
		in.Close()
		return nil, fmt.Errorf("duplicate the pseudo-terminal: %w", err)
	}
	ctl := os.NewFile(uintptr(ctlFd), master.Name())
	pid, err := syscall.ForkExec(path, spec.Argv, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   env,
		Files: []uintptr{tty.Fd(), tty.Fd(), tty.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL},
	})
	runtime.KeepAlive(tty)
	if err != nil {
		master.Close()
		in.Close()
		ctl.Close()
		return nil, fmt.Errorf("exec %q: %w", spec.Argv[0], err)
	}
	st, err := readProcStat(pid)
	if err != nil {
		unix.Kill(-pid, unix.SIGKILL)
		var ws unix.WaitStatus
		waitEINTR(func() error { _, err := unix.Wait4(pid, &ws, 0, nil); return err })
		master.Close()
		in.Close()
		ctl.Close()
		return nil, fmt.Errorf("read start time of pid %d: %w", pid, err)
	}
	p := &Process{
		Stdout:     master,
		Stdin:      in,
		pty:        ctl,
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

// TTY reports whether the process runs on a pseudo-terminal.
func (p *Process) TTY() bool { return p.pty != nil }

// Resize sets the size of the process's terminal.
func (p *Process) Resize(cols, rows int) error {
	if p.pty == nil {
		return errors.New("the process has no terminal")
	}
	if cols <= 0 || rows <= 0 || cols > 1000 || rows > 1000 {
		return fmt.Errorf("terminal size %dx%d: want 1 to 1000 columns and rows", cols, rows)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return os.ErrProcessDone
	}
	return pty.Setsize(p.pty, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
}

// TTYReader wraps a terminal's master side so that the EIO Linux returns
// once every process has closed the terminal reads as EOF.
type TTYReader struct{ F *os.File }

func (r TTYReader) Read(b []byte) (int, error) {
	n, err := r.F.Read(b)
	if err != nil && errors.Is(err, syscall.EIO) {
		return n, io.EOF
	}
	return n, err
}
