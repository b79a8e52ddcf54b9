package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// drainGrace bounds how long a probe's output is read after its process group
// was killed: a process that left the group (setsid) may still hold the pipe.
const drainGrace = 100 * time.Millisecond

type probeResult struct {
	output   string
	exitCode int // -1 when the probe could not run or timed out
}

// probe runs c.Test once, in its own process group, and kills the group on
// timeout, when ctx is done, and after the probe exits. It returns only after
// the probe's process was reaped and its output goroutine ended.
func probe(ctx context.Context, c Check, clock Clock) probeResult {
	cmd, err := command(c)
	if err != nil {
		return probeResult{output: err.Error(), exitCode: -1}
	}
	// Our own pipe rather than exec's: Wait then returns when the probe exits,
	// not when the last process holding its output does.
	r, w, err := os.Pipe()
	if err != nil {
		return probeResult{output: fmt.Sprintf("create output pipe: %v", err), exitCode: -1}
	}
	defer r.Close()
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return probeResult{output: err.Error(), exitCode: -1}
	}
	pgid := cmd.Process.Pid // the probe leads its own group

	var out tail
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_, _ = io.Copy(&out, r) // ends at EOF, or at the read deadline set below
	}()
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	timer := clock.NewTimer(c.Timeout)
	var waitErr error
	timedOut := false
	select {
	case waitErr = <-waitDone:
		timer.Stop()
	case <-timer.C():
		timedOut = true
		killGroup(pgid)
		waitErr = <-waitDone
	case <-ctx.Done():
		timer.Stop()
		killGroup(pgid)
		waitErr = <-waitDone
	}
	// Whatever the probe left running in its group goes too. The leader is
	// reaped by now, but its pid cannot be reused while group members remain.
	killGroup(pgid)
	_ = r.SetReadDeadline(time.Now().Add(drainGrace))
	<-readDone

	if timedOut {
		return probeResult{output: fmt.Sprintf("health check timed out after %v", c.Timeout), exitCode: -1}
	}
	res := probeResult{output: out.String()}
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		res.exitCode = exitErr.ExitCode() // -1 when killed by a signal
		if res.exitCode == -1 && res.output == "" {
			res.output = waitErr.Error() // "signal: killed"
		}
	default:
		res.exitCode = -1
		res.output = waitErr.Error()
	}
	return res
}

func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // ESRCH: the group is already gone
}

// command builds the probe's process from c.Test, looking a CMD program up in
// c.Env's PATH rather than berth's.
func command(c Check) (*exec.Cmd, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var path string
	var args []string
	switch c.Test[0] {
	case "CMD-SHELL":
		path = "/bin/sh"
		args = append([]string{"/bin/sh", "-c"}, c.Test[1:]...)
	default: // "CMD"
		var err error
		if path, err = lookPath(c.Test[1], c.Env, c.Dir); err != nil {
			return nil, err
		}
		args = c.Test[1:]
	}
	// A relative path is resolved against Dir by exec.
	return &exec.Cmd{Path: path, Args: args, Dir: c.Dir, Env: c.Env}, nil
}

// lookPath finds prog in the PATH of env (berth's own when env has none),
// relative PATH entries and a relative result being relative to dir.
func lookPath(prog string, env []string, dir string) (string, error) {
	if strings.Contains(prog, "/") {
		return prog, nil
	}
	pathList, ok := lookupEnv(env, "PATH")
	if !ok {
		pathList = os.Getenv("PATH")
	}
	for _, d := range filepath.SplitList(pathList) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, prog)
		abs := p
		if !filepath.IsAbs(p) && dir != "" {
			abs = filepath.Join(dir, p)
		}
		if fi, err := os.Stat(abs); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			if !filepath.IsAbs(p) {
				p = "." + string(filepath.Separator) + p
			}
			return p, nil
		}
	}
	return "", &exec.Error{Name: prog, Err: exec.ErrNotFound}
}

// lookupEnv returns the value of key in env; the last entry wins, as in exec.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// tail is an io.Writer that keeps the last OutputLimit bytes written to it.
// It is not safe for concurrent use.
type tail struct{ buf []byte }

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= OutputLimit {
		t.buf = append(t.buf[:0], p[len(p)-OutputLimit:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - OutputLimit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns the kept bytes, without a rune cut in half at the start.
func (t *tail) String() string {
	b := t.buf
	if len(b) == OutputLimit {
		for i := 0; i < utf8.UTFMax && i < len(b) && !utf8.RuneStart(b[0]); i++ {
			b = b[1:]
		}
	}
	return string(b)
}
