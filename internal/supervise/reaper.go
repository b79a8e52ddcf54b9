package supervise

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reaper is a helper process (berth's own binary re-executed with a hidden
// argument) that holds the list of live process groups; when its stdin pipe
// from berth closes (berth died, even by SIGKILL), it SIGKILLs every group it
// holds and exits.
//
// Only berth holds the write end of that pipe (it is close-on-exec, so no
// service inherits it), which is why EOF means berth is gone. A Track that
// returned is safe even if berth dies the next instant: the reaper reads every
// line written before it sees EOF.
//
// Methods are safe for concurrent use.
type Reaper struct {
	proc *os.Process

	mu     sync.Mutex
	w      *os.File // guarded by mu: the reaper's stdin
	closed bool     // guarded by mu: Close was called
}

// Reaper protocol: one command per line on the reaper's stdin.
const (
	reapTrack   = "track"   // track <pgid>
	reapUntrack = "untrack" // untrack <pgid>
	reapExit    = "exit"    // exit without killing
)

// StartReaper starts the reaper process, argv being e.g. {berth's resolved
// executable, "__reap"}, whose main calls RunReaper(os.Stdin). The reaper runs
// in its own process group, so a terminal ^C does not hit it, and in "/", so
// it keeps no directory busy; its stdout is /dev/null and its stderr berth's.
func StartReaper(argv []string) (*Reaper, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("start reaper: no command")
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("start reaper: %w", err)
		}
		path = p
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start reaper: create pipe: %w", err)
	}
	defer r.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start reaper: %w", err)
	}
	defer null.Close()
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Dir:   "/",
		Env:   os.Environ(),
		Files: []*os.File{r, null, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start reaper: %w", err)
	}
	return &Reaper{proc: proc, w: w}, nil
}

// Track adds a process group for the reaper to kill if berth dies.
func (r *Reaper) Track(pgid int) error {
	if err := r.send(reapTrack, pgid); err != nil {
		return fmt.Errorf("track process group %d: %w", pgid, err)
	}
	return nil
}

// Untrack removes a process group, typically once its process was reaped.
func (r *Reaper) Untrack(pgid int) error {
	if err := r.send(reapUntrack, pgid); err != nil {
		return fmt.Errorf("untrack process group %d: %w", pgid, err)
	}
	return nil
}

func (r *Reaper) send(verb string, pgid int) error {
	if pgid <= 1 {
		return errors.New("invalid process group id")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("reaper closed")
	}
	_, err := fmt.Fprintf(r.w, "%s %d\n", verb, pgid)
	return err
}

// Close is the normal shutdown: it tells the reaper to exit without killing
// anything and waits for it. Later calls return nil.
func (r *Reaper) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	_, werr := io.WriteString(r.w, reapExit+"\n")
	cerr := r.w.Close()
	r.mu.Unlock()

	st, err := r.proc.Wait()
	if err != nil {
		return fmt.Errorf("close reaper: %w", err)
	}
	if !st.Success() {
		return fmt.Errorf("close reaper: reaper %s", st)
	}
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("close reaper: %w", err)
	}
	return nil
}

// RunReaper is the reaper's main loop; the CLI's hidden `__reap` command calls
// it with os.Stdin. It reads commands until "exit" (return without killing) or
// EOF (berth is gone: SIGKILL every tracked group, then return). A malformed
// line is skipped and reported in the returned error, after the killing.
func RunReaper(in io.Reader) error {
	// groups maps pgid to its leader's start time when tracked (0 if it could
	// not be read), to skip a pgid whose leader pid has since been reused.
	groups := make(map[int]uint64)
	var bad error
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		verb, arg, _ := strings.Cut(line, " ")
		pgid, err := strconv.Atoi(arg)
		if err != nil || pgid <= 1 || (verb != reapTrack && verb != reapUntrack) {
			if verb == reapExit && arg == "" {
				return bad
			}
			if bad == nil {
				bad = fmt.Errorf("reap: bad command %q", line)
			}
			continue
		}
		if verb == reapUntrack {
			delete(groups, pgid)
			continue
		}
		var start uint64
		if st, err := readProcStat(pgid); err == nil {
			start = st.startTime
		}
		groups[pgid] = start
	}
	killGroups(groups)
	if err := sc.Err(); err != nil {
		return errors.Join(bad, fmt.Errorf("reap: read commands: %w", err))
	}
	return bad
}

// killGroups SIGKILLs each group in groups (pgid to the leader's start time,
// 0 if unknown), except the caller's own group and groups whose leader pid
// now belongs to a process with another start time: that group died with its
// leader, since a pgid is not reused while the group has members.
func killGroups(groups map[int]uint64) {
	own := unix.Getpgrp()
	for pgid, start := range groups {
		if pgid <= 1 || pgid == own {
			continue
		}
		if start != 0 {
			if st, err := readProcStat(pgid); err == nil && st.startTime != start {
				continue
			}
		}
		unix.Kill(-pgid, unix.SIGKILL)
	}
}

// BecomeSubreaper makes the calling process (berth) a child subreaper: group
// members orphaned by their leader are reparented to berth instead of init,
// and each Process's waiter reaps those of its own group. Call it once at
// start-up, before starting processes, where PID 1 does not reap orphans.
// Other orphaned descendants (not in a supervised group) are not reaped.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	return nil
}
