package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/inspect"
	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/project"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/supervise"
	"github.com/berth-dev/berth/internal/watch"
)

// ErrNotRunning is returned for operations on a service that has no running replica.
var ErrNotRunning = errors.New("not running")

// ErrClosed is returned by operations on an engine that is shutting down.
var ErrClosed = errors.New("engine is shutting down")

// Options configure an Engine.
type Options struct {
	// StateDir is the project's state folder (logs, volumes, records).
	StateDir string
	// Logger receives berth's own lifecycle messages.
	Logger *slog.Logger
	// ReaperArgv starts the watchdog process that kills every process group
	// if berth dies (nil: no watchdog; leftovers are still reaped at the next start).
	ReaperArgv []string
	// Hub receives the project's events (stream "events") and each
	// service's status (service/<name>/status). Nil: a private in-memory hub.
	Hub hub.Hub
}

// Engine runs one project. Create it with New; end it with Shutdown.
type Engine struct {
	opts   Options
	log    *slog.Logger
	reaper *supervise.Reaper
	store  *store.Store
	events *broadcaster[Event]
	// inspectDB and recorder are the HTTP inspector: its database
	// (<state>/inspect.db) and the one Recorder the proxies report to.
	// Set by New, closed by Shutdown after the proxies.
	inspectDB *inspect.DB
	recorder  *inspect.Recorder
	// inspectWarned is set once publishing an exchange failed (logged once).
	inspectWarned atomic.Bool

	// ctx is the root of everything the engine starts; cancel ends it.
	ctx    context.Context
	cancel context.CancelFunc
	// loops tracks every replica loop goroutine.
	loops sync.WaitGroup
	// done is closed when Shutdown has finished.
	done chan struct{}
	// statusDone is closed when the status publisher has returned.
	statusDone chan struct{}

	// opMu serialises operations that change the set of services (Up, Down,
	// Stop, Start, Restart). Lock order: opMu, then mu.
	opMu sync.Mutex
	// recMu serialises writes of the process records file.
	recMu sync.Mutex

	// mu guards the fields below and every service's and replica's runtime
	// fields (marked "guarded by Engine.mu").
	mu       sync.Mutex
	project  *project.Project
	baseEnv  []string
	services map[string]*service
	logs     map[string]*logs.Log
	// changed is closed and replaced whenever any replica's state changes.
	changed  chan struct{}
	shutdown bool
	// jobs holds the jobs in progress.
	jobs map[int64]*jobRun
	// notified is closed and replaced whenever a notification is stored.
	notified chan struct{}
	// watcher watches develop.watch paths (nil until the first watch);
	// watched says which services are watched.
	watcher *watch.Watcher
	watched map[string]bool
	// inspectSet holds the user's choices of inspection per service (berth
	// up --inspect, SetInspect); a service not in it follows its
	// x-berth.inspect.
	inspectSet map[string]bool
}

// New prepares the state folder, reaps processes a previous berth left behind,
// and starts the watchdog. The engine runs nothing until Up.
func New(opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Hub == nil {
		opts.Hub = hub.NewMemory(hub.Options{})
	}
	for _, d := range []string{opts.StateDir, logsDir(opts.StateDir), volumesDir(opts.StateDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create state folder: %w", err)
		}
	}
	e := &Engine{
		opts:     opts,
		log:      opts.Logger,
		events:   newBroadcaster[Event](256),
		done:     make(chan struct{}),
		services: map[string]*service{},
		logs:     map[string]*logs.Log{},
		changed:  make(chan struct{}),
		jobs:     map[int64]*jobRun{},
		notified: make(chan struct{}),
		watched:  map[string]bool{},

		inspectSet: map[string]bool{},
	}
	if killed, err := supervise.ReapLeftovers(readRecords(opts.StateDir)); err != nil {
		e.log.Warn("reap leftovers", keyErr, err)
	} else {
		for _, r := range killed {
			e.log.Info("reaped a process left by a previous berth", keyService, r.Name, keyPid, r.Pid)
		}
	}
	if err := writeRecords(opts.StateDir, nil); err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(opts.StateDir, store.FileName))
	if err != nil {
		return nil, fmt.Errorf("open job history: %w", err)
	}
	if n, err := st.RecoverJobs(context.Background(), time.Now()); err != nil {
		st.Close()
		return nil, fmt.Errorf("recover jobs: %w", err)
	} else if n > 0 {
		e.log.Warn("jobs left running by a previous berth were marked failed", "count", n)
	}
	e.store = st
	if err := e.openInspector(); err != nil {
		st.Close()
		return nil, err
	}
	if opts.ReaperArgv != nil {
		r, err := supervise.StartReaper(opts.ReaperArgv)
		if err != nil {
			st.Close()
			e.closeInspector()
			return nil, fmt.Errorf("start watchdog: %w", err)
		}
		e.reaper = r
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.statusDone = make(chan struct{})
	go e.publishStatuses()
	return e, nil
}

// Done is closed when the engine has shut down.
func (e *Engine) Done() <-chan struct{} { return e.done }

// ProjectName returns the name of the project the engine runs ("" before Up).
func (e *Engine) ProjectName() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.project == nil {
		return ""
	}
	return e.project.Name
}

// Project returns the project the engine last brought up (nil before Up).
func (e *Engine) Project() *project.Project {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.project
}

// Shutdown stops every replica (stop signal, then SIGKILL after the grace
// period, or at once when ctx is cancelled), flushes logs and ends the engine.
// It is idempotent; later calls wait for the first.
func (e *Engine) Shutdown(ctx context.Context, timeout *time.Duration) error {
	e.mu.Lock()
	if e.shutdown {
		e.mu.Unlock()
		<-e.done
		return nil
	}
	e.shutdown = true
	e.mu.Unlock()

	e.opMu.Lock()
	err := e.stopServices(ctx, nil, timeout, false)
	e.mu.Lock()
	for _, s := range e.services {
		e.closeProxies(s)
	}
	e.mu.Unlock()
	e.cancel()
	// Release opMu before waiting: a watch reaction may be waiting for it
	// (it then finds the engine shut down and returns).
	e.opMu.Unlock()
	e.loops.Wait()
	<-e.statusDone
	// The proxies are closed: nothing reports to the inspector any more.
	err = errors.Join(err, e.closeInspector())
	e.mu.Lock()
	if e.watcher != nil {
		err = errors.Join(err, e.watcher.Close())
	}
	e.mu.Unlock()
	e.mu.Lock()
	for _, l := range e.logs {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	e.mu.Unlock()
	if e.reaper != nil {
		err = errors.Join(err, e.reaper.Close())
	}
	err = errors.Join(err, writeRecords(e.opts.StateDir, nil), e.store.Close())
	e.events.close()
	close(e.done)
	return err
}

// notifyLocked wakes everything waiting for a state change. mu must be held.
func (e *Engine) notifyLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// emit publishes an event on the project's event stream.
func (e *Engine) emit(r *replica, action string, attrs map[string]string) {
	ev := Event{
		Time:       time.Now(),
		Type:       "container",
		Action:     action,
		ID:         r.name,
		Service:    r.svc.spec.Name,
		Attributes: attrs,
	}
	e.events.publish(ev)
	if _, err := e.opts.Hub.Publish(hub.StreamEvents, ev); err != nil {
		e.log.Debug("publish event", keyErr, err)
	}
}

// serviceNames returns the names of the services the engine knows, sorted.
// mu must be held.
func (e *Engine) serviceNamesLocked() []string {
	names := make([]string, 0, len(e.services))
	for n := range e.services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// selectLocked resolves names to services (empty: all), failing on unknown
// names with the list of known ones. mu must be held.
func (e *Engine) selectLocked(names []string) ([]*service, error) {
	if len(names) == 0 {
		var all []*service
		for _, n := range e.serviceNamesLocked() {
			all = append(all, e.services[n])
		}
		return all, nil
	}
	var out []*service
	for _, n := range names {
		s, ok := e.services[n]
		if !ok {
			return nil, &UnknownServiceError{Name: n, Known: e.serviceNamesLocked()}
		}
		out = append(out, s)
	}
	return out, nil
}

// UnknownServiceError names a service that is not in the project.
type UnknownServiceError struct {
	Name  string
	Known []string
}

func (e *UnknownServiceError) Error() string {
	return fmt.Sprintf("no such service: %q (services: %s)", e.Name, joinNames(e.Known))
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// Kill sends a signal (default SIGKILL) to the process groups of services'
// running replicas. A killed replica counts as stopped by the user: its
// restart policy does not bring it back, as with docker.
func (e *Engine) Kill(ctx context.Context, req KillRequest) error {
	sig := syscall.SIGKILL
	if req.Signal != "" {
		s, err := supervise.ParseSignal(req.Signal)
		if err != nil {
			return fmt.Errorf("kill: %w", err)
		}
		sig = s
	}
	e.mu.Lock()
	svcs, err := e.selectLocked(req.Services)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	var procs []*supervise.Process
	for _, s := range svcs {
		for _, r := range s.replicas {
			if r.proc != nil {
				r.userStopped = true
				procs = append(procs, r.proc)
			}
		}
	}
	e.mu.Unlock()
	if len(procs) == 0 {
		return fmt.Errorf("kill: %w: no running replica in %s", ErrNotRunning, serviceList(svcs))
	}
	var errs []error
	for _, p := range procs {
		if err := p.Signal(sig); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func serviceList(svcs []*service) string {
	names := make([]string, len(svcs))
	for i, s := range svcs {
		names[i] = s.spec.Name
	}
	return joinNames(names)
}
