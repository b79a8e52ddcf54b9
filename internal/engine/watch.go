package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/project"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/watch"
)

// Watch actions, as compose's develop.watch names them.
const (
	actionSync        = "sync"
	actionRestart     = "restart"
	actionRebuild     = "rebuild"
	actionSyncRestart = "sync+restart"
	actionSyncExec    = "sync+exec"
)

// watchQuiet is how long the files must be still before berth reacts: long
// enough to make one change of an editor's save (its events come within a
// millisecond or two) or of a tool rewriting many files, short enough that a
// reload costs little more than the restart itself.
const watchQuiet = 20 * time.Millisecond

// watchBurstQuiet is the quiet window once a change touches more than a few
// files (a checkout, a formatter): such bursts hesitate, and must still be
// one restart.
const watchBurstQuiet = 250 * time.Millisecond

// watchMaxWait bounds how long continuous file activity delays a reaction.
const watchMaxWait = 10 * time.Second

// WatchPathError says a develop.watch path does not exist.
type WatchPathError struct {
	Service string
	Path    string
}

func (e *WatchPathError) Error() string {
	return fmt.Sprintf("service %q: develop.watch path %s does not exist\nhint: create it, or fix `path:` under develop.watch in compose.yaml", e.Service, e.Path)
}

// startWatches watches the develop.watch rules of the named services (all
// that have rules when names is empty) until the engine shuts down. A
// service already watched is left alone. opMu must be held.
func (e *Engine) startWatches(names []string) error {
	e.mu.Lock()
	svcs, err := e.selectLocked(names)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	if e.watcher == nil {
		w, err := watch.New(e.log)
		if err != nil {
			e.mu.Unlock()
			return fmt.Errorf("watch files: %w", err)
		}
		e.watcher = w
	}
	watcher := e.watcher
	var todo []*service
	for _, s := range svcs {
		if len(s.spec.Watch) > 0 && !e.watched[s.spec.Name] {
			todo = append(todo, s)
		}
	}
	e.mu.Unlock()

	var added []*watch.Watch
	type pending struct {
		svc  string
		rule project.WatchRule
		wt   *watch.Watch
	}
	var all []pending
	for _, s := range todo {
		for _, rule := range s.spec.Watch {
			wt, err := watcher.Add(watch.Options{
				Root:        rule.Path,
				Ignore:      rule.Ignore,
				Include:     rule.Include,
				IgnoreFiles: []string{filepath.Join(rule.Path, ".dockerignore"), filepath.Join(rule.Path, ".gitignore")},
				// A burst (git checkout, a formatter over the tree) is one
				// change as long as it keeps going; only activity that never
				// pauses for 100 ms is cut, after this long.
				Quiet:      watchQuiet,
				BurstQuiet: watchBurstQuiet,
				MaxWait:    watchMaxWait,
			})
			if err != nil {
				for _, a := range added {
					a.Remove()
				}
				if errors.Is(err, fs.ErrNotExist) {
					return &WatchPathError{Service: s.spec.Name, Path: rule.Path}
				}
				return fmt.Errorf("service %q: watch %s: %w", s.spec.Name, rule.Path, err)
			}
			added = append(added, wt)
			all = append(all, pending{s.spec.Name, rule, wt})
		}
	}
	e.mu.Lock()
	for _, s := range todo {
		e.watched[s.spec.Name] = true
	}
	e.mu.Unlock()
	for _, p := range all {
		dirs, ignored := p.wt.Stats()
		msg := fmt.Sprintf("berth: watching %s (%d folders) → %s", p.rule.Path, dirs, p.rule.Action)
		if len(ignored) > 0 {
			msg += fmt.Sprintf("; ignoring %s", strings.Join(ignored, ", "))
		}
		if l, err := e.Log(p.svc); err == nil {
			l.Append(1, logs.Stderr, []byte(msg))
		}
		e.loops.Add(1)
		go func() {
			defer e.loops.Done()
			e.react(p.svc, p.rule, p.wt)
		}()
	}
	return nil
}

// checkWatchPaths fails, before anything starts, when a develop.watch path
// of the named services does not exist.
func checkWatchPaths(p *project.Project, names []string) error {
	var errs []error
	for _, n := range names {
		s, ok := p.Service(n)
		if !ok {
			continue
		}
		for _, rule := range s.Watch {
			if _, err := os.Stat(rule.Path); err != nil {
				errs = append(errs, &WatchPathError{Service: n, Path: rule.Path})
			}
		}
	}
	return errors.Join(errs...)
}

// react applies a watch rule's action to each batch of changes, until the
// watch is removed (the engine shuts down).
func (e *Engine) react(svc string, rule project.WatchRule, wt *watch.Watch) {
	defer wt.Remove()
	for {
		var b watch.Batch
		var ok bool
		select {
		case <-e.ctx.Done():
			return
		case b, ok = <-wt.C():
			if !ok {
				return
			}
		}
		what := describeChange(rule.Path, b)
		l, err := e.Log(svc)
		if err != nil {
			return
		}
		note := func(format string, args ...any) {
			l.Append(1, logs.Stderr, []byte("berth: "+svc+": "+fmt.Sprintf(format, args...)))
		}
		switch rule.Action {
		case actionSync:
			note("%s changed → synced (natively the service already sees the files)", what)
		case actionRestart, actionSyncRestart:
			note("%s changed → restarting", what)
			if err := e.Restart(e.ctx, StopRequest{Services: []string{svc}}); err != nil && e.ctx.Err() == nil {
				note("restart failed: %v", err)
			}
		case actionRebuild:
			note("%s changed → rebuilding", what)
			if err := e.rebuild(svc, l); err != nil {
				note("rebuild failed, the service keeps running its last build: %v", err)
				continue
			}
			if err := e.Restart(e.ctx, StopRequest{Services: []string{svc}}); err != nil && e.ctx.Err() == nil {
				note("restart failed: %v", err)
			}
		case actionSyncExec:
			note("%s changed → running %s", what, strings.Join(rule.Exec, " "))
			if _, err := e.StartJob(e.ctx, JobRequest{Kind: store.KindExec, Service: svc, Command: rule.Exec, LaunchedBy: "watch"}); err != nil {
				note("exec failed: %v", err)
			}
		default:
			note("%s changed; action %q is not supported natively", what, rule.Action)
		}
	}
}

// rebuild runs the service's x-berth.build command (sh -c) in its working
// folder, with its output in the service's log.
func (e *Engine) rebuild(svc string, l *logs.Log) error {
	e.mu.Lock()
	s, ok := e.services[svc]
	e.mu.Unlock()
	if !ok {
		return &UnknownServiceError{Name: svc}
	}
	if s.spec.Build == "" {
		return fmt.Errorf("service %q has develop.watch action rebuild but no build command: set x-berth.build (e.g. `go build -o app .`)", svc)
	}
	cmd := exec.CommandContext(e.ctx, "/bin/sh", "-c", s.spec.Build)
	cmd.Dir = s.spec.WorkingDir
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			l.Append(1, logs.Stderr, []byte("build: "+line))
		}
	}
	return err
}

// describeChange says what changed, briefly: "app.py" or "3 files (a.py, b.py, …)".
func describeChange(root string, b watch.Batch) string {
	if b.Overflow {
		return "many files"
	}
	rel := make([]string, 0, len(b.Paths))
	for _, p := range b.Paths {
		if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
			p = r
		}
		rel = append(rel, p)
	}
	sort.Strings(rel)
	switch {
	case len(rel) == 1:
		return rel[0]
	case len(rel) <= 3:
		return fmt.Sprintf("%d files (%s)", len(rel), strings.Join(rel, ", "))
	}
	return fmt.Sprintf("%d files (%s, …)", len(rel), strings.Join(rel[:3], ", "))
}
