package supervise

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testTimeout bounds every wait in these tests; it is never slept.
const testTimeout = 10 * time.Second

// startT starts spec and registers cleanup that kills the group, drains and
// closes the pipes, and waits for the process.
func startT(t *testing.T, spec Spec) *Process {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "test"
	}
	if spec.Env == nil {
		spec.Env = os.Environ()
	}
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		waitDone(t, p)
		p.Stdout.Close()
		p.Stderr.Close()
		if p.Stdin != nil {
			p.Stdin.Close()
		}
	})
	return p
}

func sh(script string) Spec {
	return Spec{Argv: []string{"sh", "-c", script}}
}

func waitDone(t *testing.T, p *Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(testTimeout):
		t.Fatalf("process %d not reaped after %s", p.Pid(), testTimeout)
	}
}

// readAll reads f to EOF, failing the test if EOF does not come in time.
func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read output: %v (got %q)", err, b)
	}
	return string(b)
}

func readLine(t *testing.T, r *bufio.Reader, f *os.File) string {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read line: %v (got %q)", err, line)
	}
	return strings.TrimSpace(line)
}

func exitErrorOf(t *testing.T, err error) *ExitError {
	t.Helper()
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Err() = %v (%T), want *ExitError", err, err)
	}
	return ee
}

func TestProcess_ExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   *ExitError // nil for success
		text   string
	}{
		{"exit 0 is nil", "exit 0", nil, ""},
		{"exit 3", "exit 3", &ExitError{Code: 3}, "exit status 3"},
		{"killed by SIGKILL", "kill -KILL $$", &ExitError{Code: 137, Signal: syscall.SIGKILL}, "killed by signal SIGKILL"},
		{"killed by SIGTERM", "kill -TERM $$", &ExitError{Code: 143, Signal: syscall.SIGTERM}, "killed by signal SIGTERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startT(t, sh(tt.script))
			waitDone(t, p)
			err := p.Err()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Err() = %v, want nil", err)
				}
				return
			}
			got := exitErrorOf(t, err)
			if *got != *tt.want {
				t.Errorf("Err() = %+v, want %+v", *got, *tt.want)
			}
			if err.Error() != tt.text {
				t.Errorf("Err().Error() = %q, want %q", err.Error(), tt.text)
			}
		})
	}
}

func TestProcess_Output(t *testing.T) {
	t.Run("stdout and stderr are separate", func(t *testing.T) {
		p := startT(t, sh("echo out1; echo err1 >&2; echo out2"))
		if got, want := readAll(t, p.Stdout), "out1\nout2\n"; got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
		if got, want := readAll(t, p.Stderr), "err1\n"; got != want {
			t.Errorf("stderr = %q, want %q", got, want)
		}
	})
	t.Run("stdin pipe", func(t *testing.T) {
		spec := sh("cat")
		spec.Stdin = true
		p := startT(t, spec)
		if _, err := io.WriteString(p.Stdin, "hello\n"); err != nil {
			t.Fatal(err)
		}
		p.Stdin.Close()
		if got, want := readAll(t, p.Stdout), "hello\n"; got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
		waitDone(t, p)
		if err := p.Err(); err != nil {
			t.Errorf("Err() = %v", err)
		}
	})
	t.Run("stdin is /dev/null by default", func(t *testing.T) {
		p := startT(t, sh("cat; echo done"))
		if p.Stdin != nil {
			t.Error("Stdin is not nil without Spec.Stdin")
		}
		if got, want := readAll(t, p.Stdout), "done\n"; got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
	})
}

func TestProcess_Environment(t *testing.T) {
	bin := t.TempDir()
	tool := filepath.Join(bin, "berth-test-tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho \"tool $GREETING $(pwd)\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	shPath, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Argv[0] is found in the service PATH, not berth's", func(t *testing.T) {
		if _, err := exec.LookPath("berth-test-tool"); err == nil {
			t.Fatal("berth-test-tool is in the test's own PATH")
		}
		p := startT(t, Spec{
			Argv: []string{"berth-test-tool"},
			Dir:  work,
			Env:  []string{"PATH=/nonexistent:" + bin + ":" + filepath.Dir(shPath), "GREETING=x", "GREETING=hi"},
		})
		if got, want := readAll(t, p.Stdout), "tool hi "+work+"\n"; got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
	})
	t.Run("relative path is relative to Dir", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(work, "run.sh"), []byte("#!/bin/sh\necho run\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		p := startT(t, Spec{Argv: []string{"./run.sh"}, Dir: work})
		if got, want := readAll(t, p.Stdout), "run\n"; got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
	})
}

func TestStart_Errors(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name string
		spec Spec
		want string
		is   error
	}{
		{
			name: "executable not in PATH",
			spec: Spec{Name: "web-1", Argv: []string{"nodex"}, Env: []string{"PATH=" + dir}},
			want: `start "web-1": exec "nodex": executable file not found in $PATH`,
			is:   exec.ErrNotFound,
		},
		{
			name: "executable found only in berth's PATH",
			spec: Spec{Name: "web-1", Argv: []string{"sh"}, Env: []string{"PATH=" + dir}},
			want: `start "web-1": exec "sh": executable file not found in $PATH`,
			is:   exec.ErrNotFound,
		},
		{
			name: "missing working directory",
			spec: Spec{Name: "web-1", Argv: []string{"sh"}, Dir: missing},
			want: `start "web-1": working directory "` + missing + `": no such file or directory`,
			is:   fs.ErrNotExist,
		},
		{
			name: "working directory is a file",
			spec: Spec{Name: "web-1", Argv: []string{"sh"}, Dir: noexec},
			want: `start "web-1": working directory "` + noexec + `": not a directory`,
		},
		{
			name: "missing path",
			spec: Spec{Name: "web-1", Argv: []string{"./bin/server"}, Dir: dir},
			want: `start "web-1": exec "./bin/server": no such file or directory`,
			is:   fs.ErrNotExist,
		},
		{
			name: "not executable in PATH",
			spec: Spec{Name: "web-1", Argv: []string{"noexec"}, Env: []string{"PATH=" + dir}},
			want: `start "web-1": exec "noexec": permission denied`,
			is:   fs.ErrPermission,
		},
		{
			name: "directory as command",
			spec: Spec{Name: "web-1", Argv: []string{dir}},
			want: `start "web-1": exec "` + dir + `": is a directory`,
		},
		{
			name: "empty argv",
			spec: Spec{Name: "web-1"},
			want: `start "web-1": no command to run`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start(tt.spec)
			if err == nil {
				p.Kill()
				<-p.Done()
				p.Stdout.Close()
				p.Stderr.Close()
				t.Fatalf("Start succeeded, want error %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error = %q\nwant    %q", got, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestProcess_Identity(t *testing.T) {
	p := startT(t, sh("sleep 300"))
	if p.Pgid() != p.Pid() {
		t.Errorf("Pgid() = %d, want Pid() %d", p.Pgid(), p.Pid())
	}
	st, err := readProcStat(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if st.pgrp != p.Pid() {
		t.Errorf("process group of pid %d is %d, want its own", p.Pid(), st.pgrp)
	}
	if st.startTime != p.StartTime() || p.StartTime() == 0 {
		t.Errorf("StartTime() = %d, /proc says %d", p.StartTime(), st.startTime)
	}
}

func TestProcess_Stop(t *testing.T) {
	t.Run("SIGTERM stops a well-behaved process", func(t *testing.T) {
		p := startT(t, sh("sleep 300"))
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := exitErrorOf(t, p.Err()); got.Signal != syscall.SIGTERM {
			t.Errorf("Err() = %v, want killed by SIGTERM", got)
		}
	})
	t.Run("ignored SIGTERM escalates to SIGKILL after the grace", func(t *testing.T) {
		spec := sh(`trap "" TERM; echo ready; while :; do sleep 0.1; done`)
		spec.StopGrace = 300 * time.Millisecond
		p := startT(t, spec)
		readLine(t, bufio.NewReader(p.Stdout), p.Stdout)
		start := time.Now()
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed < spec.StopGrace {
			t.Errorf("Stop returned after %s, before the %s grace", elapsed, spec.StopGrace)
		}
		if got := exitErrorOf(t, p.Err()); got.Signal != syscall.SIGKILL {
			t.Errorf("Err() = %v, want killed by SIGKILL", got)
		}
	})
	t.Run("custom stop signal is delivered", func(t *testing.T) {
		spec := sh(`trap "echo got-int; exit 7" INT; echo ready; while :; do sleep 0.1; done`)
		spec.StopSignal = syscall.SIGINT
		p := startT(t, spec)
		out := bufio.NewReader(p.Stdout)
		readLine(t, out, p.Stdout)
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := readLine(t, out, p.Stdout); got != "got-int" {
			t.Errorf("output after stop = %q, want got-int", got)
		}
		if got := exitErrorOf(t, p.Err()); got.Code != 7 || got.Signal != 0 {
			t.Errorf("Err() = %+v, want exit status 7", *got)
		}
	})
	t.Run("cancelled ctx escalates to SIGKILL at once", func(t *testing.T) {
		spec := sh(`trap "" TERM; echo ready; while :; do sleep 0.1; done`)
		spec.StopGrace = time.Hour
		p := startT(t, spec)
		readLine(t, bufio.NewReader(p.Stdout), p.Stdout)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if got := exitErrorOf(t, p.Err()); got.Signal != syscall.SIGKILL {
			t.Errorf("Err() = %v, want killed by SIGKILL", got)
		}
	})
	t.Run("idempotent and safe concurrently", func(t *testing.T) {
		p := startT(t, sh("sleep 300"))
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { errs[i] = p.Stop(context.Background()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Stop #%d: %v", i, err)
			}
		}
		select {
		case <-p.Done():
		default:
			t.Fatal("Stop returned before the process was reaped")
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("Stop after exit: %v", err)
		}
		if got := exitErrorOf(t, p.Err()); got.Signal != syscall.SIGTERM {
			t.Errorf("Err() = %v, want killed by SIGTERM (sent once)", got)
		}
	})
	t.Run("grandchild is killed with the group", func(t *testing.T) {
		p := startT(t, sh(`sleep 300 & echo $!; wait`))
		grandchild, err := strconv.Atoi(readLine(t, bufio.NewReader(p.Stdout), p.Stdout))
		if err != nil {
			t.Fatal(err)
		}
		if !pidRunning(grandchild) {
			t.Fatalf("grandchild %d not running before stop", grandchild)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Second, "grandchild gone", func() bool { return !pidRunning(grandchild) })
		eventually(t, 3*time.Second, "group gone", func() bool { return !groupRunning(t, p.Pgid()) })
	})
}

func TestProcess_GroupDiesWithLeader(t *testing.T) {
	// The leader exits at once; its background child holds stdout open. EOF
	// arrives only because the group is killed when the leader exits.
	p := startT(t, sh(`sleep 300 & echo $!`))
	out := readAll(t, p.Stdout)
	grandchild, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	waitDone(t, p)
	if err := p.Err(); err != nil {
		t.Errorf("Err() = %v, want nil (the leader exited 0)", err)
	}
	eventually(t, 3*time.Second, "grandchild gone", func() bool { return !pidRunning(grandchild) })
	// This test binary is a subreaper, so the waiter reaped the grandchild too.
	if _, err := os.Stat("/proc/" + strconv.Itoa(grandchild)); err == nil {
		if st, err := readProcStat(grandchild); err == nil && st.pgrp == p.Pgid() {
			t.Errorf("grandchild %d still exists (state %c)", grandchild, st.state)
		}
	}
}

func TestProcess_Signal(t *testing.T) {
	p := startT(t, sh(`trap "echo usr1; exit 0" USR1; echo ready; while :; do sleep 0.1; done`))
	out := bufio.NewReader(p.Stdout)
	readLine(t, out, p.Stdout)
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, out, p.Stdout); got != "usr1" {
		t.Errorf("output = %q, want usr1", got)
	}
	waitDone(t, p)
	if err := p.Signal(syscall.SIGUSR1); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after exit = %v, want os.ErrProcessDone", err)
	}
	p.Kill() // a no-op now
}
