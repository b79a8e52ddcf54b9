package share

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PidPath is the share lock of service in a project's state folder:
// share-<service>.pid, holding the pid of the `berth share` that runs it.
func PidPath(stateDir, service string) string {
	return filepath.Join(stateDir, "share-"+service+".pid")
}

var pidFileRE = regexp.MustCompile(`^share-(.+)\.pid$`)

// AlreadySharedError says that a live `berth share` holds a service's lock.
type AlreadySharedError struct {
	Service string
	Pid     int
}

func (e *AlreadySharedError) Error() string {
	return fmt.Sprintf("service %q is already shared by berth share (pid %d)\nhint: stop it with `berth share --stop %s`", e.Service, e.Pid, e.Service)
}

// PidFile is a held share lock. The pid file exists, and is locked with
// flock(2), for as long as it is held: a lock that can be taken belongs to
// a share that has ended (even by kill -9), so a stale file is never
// mistaken for a live share and a recycled pid is never signalled.
type PidFile struct {
	path string
	f    *os.File
}

// Lock takes the share lock of service in stateDir (created if need be),
// or fails with *AlreadySharedError.
func Lock(stateDir, service string) (*PidFile, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("lock share of %q: %w", service, err)
	}
	path := PidPath(stateDir, service)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock share of %q: %w", service, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, &AlreadySharedError{Service: service, Pid: readPid(path)}
			}
			return nil, fmt.Errorf("lock share of %q: %w", service, err)
		}
		// The previous holder may have removed the file between our open
		// and our lock: then we hold a lock on a file nobody sees. Again.
		if !sameFile(f, path) {
			f.Close()
			continue
		}
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock share of %q: %w", service, err)
		}
		if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock share of %q: %w", service, err)
		}
		return &PidFile{path: path, f: f}, nil
	}
}

// Release removes the pid file and drops the lock. It is idempotent.
func (p *PidFile) Release() error {
	if p == nil || p.f == nil {
		return nil
	}
	// Remove while still locked, so that nobody takes a lock on a file
	// about to disappear without noticing (see Lock).
	err := os.Remove(p.path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	p.f = nil
	return err
}

// Stopped is one share that Stop ended.
type Stopped struct {
	Service string
	Pid     int
}

// Stop ends the share of service in stateDir (every share of the project
// when service is ""): it sends SIGTERM to the process holding each lock
// and waits until the lock is released, or ctx ends. Stale pid files (their
// share ended without cleaning up) are removed and not reported.
func Stop(ctx context.Context, stateDir, service string) ([]Stopped, error) {
	var services []string
	if service != "" {
		services = []string{service}
	} else {
		entries, err := os.ReadDir(stateDir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("find shares: %w", err)
		}
		for _, e := range entries {
			if m := pidFileRE.FindStringSubmatch(e.Name()); m != nil {
				services = append(services, m[1])
			}
		}
		sort.Strings(services)
	}
	var stopped []Stopped
	var errs []error
	for _, svc := range services {
		pid, err := stopOne(ctx, PidPath(stateDir, svc))
		if err != nil {
			errs = append(errs, fmt.Errorf("stop share of %q: %w", svc, err))
		}
		if pid > 0 {
			stopped = append(stopped, Stopped{Service: svc, Pid: pid})
		}
	}
	return stopped, errors.Join(errs...)
}

// stopOne signals the holder of the lock at path and waits for it to let
// go. It returns the pid signalled, or 0 when no share held the lock.
func stopOne(ctx context.Context, path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if free(f) {
		// Stale: its share is gone. Remove it unless a new share took it meanwhile.
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		if err := removeIfFree(path); err != nil {
			return 0, err
		}
		return 0, nil
	}
	// A share that has just taken the lock may not have written its pid yet.
	pid := readPid(path)
	for tries := 0; pid <= 0 && tries < 50; tries++ {
		time.Sleep(20 * time.Millisecond)
		pid = readPid(path)
	}
	if pid <= 0 {
		return 0, fmt.Errorf("%s is locked but holds no pid", path)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return 0, fmt.Errorf("signal pid %d: %w", pid, err)
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !free(f) {
		select {
		case <-ctx.Done():
			return pid, fmt.Errorf("pid %d did not stop: %w", pid, ctx.Err())
		case <-t.C:
		}
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return pid, nil
}

// free reports whether nobody holds the lock on f (taking a shared lock
// that the caller must drop).
func free(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil
}

// removeIfFree removes the stale pid file at path, under an exclusive lock
// so that a share starting meanwhile keeps its file.
func removeIfFree(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil || !sameFile(f, path) {
		return nil
	}
	err = os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// sameFile reports whether the open f is still the file at path.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

// readPid reads the pid on the first line of path, or 0.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	n, _ := strconv.Atoi(strings.TrimSpace(line))
	return n
}
