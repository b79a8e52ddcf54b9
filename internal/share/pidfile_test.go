package share

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestLock(t *testing.T) {
	dir := t.TempDir()
	pf, err := Lock(dir, "web")
	if err != nil {
		t.Fatal(err)
	}
	if got := readPid(PidPath(dir, "web")); got != os.Getpid() {
		t.Fatalf("pid file holds %d, want %d", got, os.Getpid())
	}
	_, err = Lock(dir, "web")
	var ae *AlreadySharedError
	if !errors.As(err, &ae) || ae.Pid != os.Getpid() || ae.Service != "web" {
		t.Fatalf("second Lock: got %v, want *AlreadySharedError naming pid %d", err, os.Getpid())
	}
	// Another service is independent.
	other, err := Lock(dir, "api")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Release(); err != nil {
		t.Fatal(err)
	}
	if err := pf.Release(); err != nil {
		t.Fatal(err)
	}
	if err := pf.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if _, err := os.Stat(PidPath(dir, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid file left after Release: %v", err)
	}
	again, err := Lock(dir, "web")
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}
	again.Release()
}

func TestLock_Stale(t *testing.T) {
	dir := t.TempDir()
	// A share killed with -9 leaves its file, unlocked, maybe with a pid
	// that now belongs to someone else (ours).
	if err := os.WriteFile(PidPath(dir, "web"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stopped, err := Stop(context.Background(), dir, "")
	if err != nil || len(stopped) != 0 {
		t.Fatalf("Stop of a stale file: got %v, %v; want nothing stopped", stopped, err)
	}
	if _, err := os.Stat(PidPath(dir, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale pid file not removed: %v", err)
	}
	if err := os.WriteFile(PidPath(dir, "web"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pf, err := Lock(dir, "web")
	if err != nil {
		t.Fatalf("Lock over a stale file: %v", err)
	}
	pf.Release()
}

func TestStop(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Two real processes, each holding a share lock until SIGTERM.
	start := func(service string) *exec.Cmd {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), holdLockEnv+"="+dir+" "+service, "GORACE=atexit_sleep_ms=0")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "locked\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper for %s: got %q, want locked", service, line)
		}
		return cmd
	}
	web := start("web")
	api := start("api")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	stopped, err := Stop(ctx, dir, "web")
	if err != nil || len(stopped) != 1 || stopped[0] != (Stopped{"web", web.Process.Pid}) {
		t.Fatalf("Stop web: got %v, %v", stopped, err)
	}
	if err := web.Wait(); err != nil {
		t.Fatalf("web's share did not end cleanly: %v", err)
	}
	if _, err := os.Stat(PidPath(dir, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("web's pid file is still there: %v", err)
	}

	stopped, err = Stop(ctx, dir, "")
	if err != nil || len(stopped) != 1 || stopped[0] != (Stopped{"api", api.Process.Pid}) {
		t.Fatalf("Stop all: got %v, %v", stopped, err)
	}
	if err := api.Wait(); err != nil {
		t.Fatalf("api's share did not end cleanly: %v", err)
	}

	stopped, err = Stop(ctx, dir, "web")
	if err != nil || len(stopped) != 0 {
		t.Fatalf("Stop with nothing shared: got %v, %v", stopped, err)
	}
}
