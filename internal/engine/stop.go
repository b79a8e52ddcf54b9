package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/graph"
)

// Stop stops services' replicas (all services when none are named): the stop
// signal to each process group, then SIGKILL after the grace period (or
// req.Timeout). Dependents stop before their dependencies. Stopped replicas
// stay listed by Ps as exited.
func (e *Engine) Stop(ctx context.Context, req StopRequest) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	return e.stopServices(ctx, req.Services, req.Timeout, true)
}

// stopServices stops the named services (all when empty) in reverse
// dependency order, concurrently where the order allows. opMu must be held.
func (e *Engine) stopServices(ctx context.Context, names []string, timeout *time.Duration, strict bool) error {
	e.mu.Lock()
	svcs, err := e.selectLocked(names)
	if err != nil {
		e.mu.Unlock()
		if strict {
			return err
		}
		svcs = nil
	}
	deps := map[string][]string{}
	byName := map[string]*service{}
	for _, s := range svcs {
		byName[s.spec.Name] = s
	}
	for _, s := range svcs {
		deps[s.spec.Name] = nil
		for d := range s.spec.DependsOn {
			if _, ok := byName[d]; ok {
				deps[s.spec.Name] = append(deps[s.spec.Name], d)
			}
		}
	}
	e.mu.Unlock()
	g, err := graph.New(deps)
	if err != nil {
		// Cannot happen for a project that loaded, but never leave processes running.
		return errors.Join(err, e.stopAll(ctx, svcs, timeout))
	}
	return g.Walk(context.WithoutCancel(ctx), true, func(_ context.Context, name string) error {
		return e.stopAll(ctx, []*service{byName[name]}, timeout)
	})
}

// stopAll stops every replica of svcs concurrently and waits for them.
func (e *Engine) stopAll(ctx context.Context, svcs []*service, timeout *time.Duration) error {
	e.mu.Lock()
	var rs []*replica
	for _, s := range svcs {
		rs = append(rs, s.replicas...)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.stopReplica(ctx, r, timeout)
		}()
	}
	wg.Wait()
	return nil
}

// Start starts the stopped replicas of services (all when none are named),
// without waiting for their dependencies, as `docker compose start` does.
func (e *Engine) Start(ctx context.Context, names []string) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.mu.Lock()
	if e.shutdown {
		e.mu.Unlock()
		return ErrClosed
	}
	svcs, err := e.selectLocked(names)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	var started []*replica
	for _, s := range svcs {
		started = append(started, e.scaleLocked(s, s.spec.Replicas, false)...)
	}
	e.mu.Unlock()
	return e.waitSettled(ctx, started)
}

// Restart stops and starts services (all when none are named). Dependents
// declared with `restart: true` on a restarted service follow it.
func (e *Engine) Restart(ctx context.Context, req StopRequest) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.mu.Lock()
	if e.shutdown {
		e.mu.Unlock()
		return ErrClosed
	}
	svcs, err := e.selectLocked(req.Services)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	names := map[string]bool{}
	for _, s := range svcs {
		names[s.spec.Name] = true
	}
	// Follow depends_on restart: true, transitively.
	for grew := true; grew; {
		grew = false
		for _, s := range e.services {
			for d, dep := range s.spec.DependsOn {
				if dep.Restart && names[d] && !names[s.spec.Name] {
					names[s.spec.Name] = true
					grew = true
				}
			}
		}
	}
	var list []string
	for _, n := range e.serviceNamesLocked() {
		if names[n] {
			list = append(list, n)
		}
	}
	e.mu.Unlock()
	if err := e.stopServices(ctx, list, req.Timeout, true); err != nil {
		return err
	}
	e.mu.Lock()
	var started []*replica
	for _, n := range list {
		s := e.services[n]
		for _, r := range s.replicas {
			r.restarts++
		}
		started = append(started, e.scaleLocked(s, s.spec.Replicas, false)...)
	}
	e.mu.Unlock()
	for _, r := range started {
		e.emit(r, "restart", nil)
	}
	return e.waitSettled(ctx, started)
}

// Down stops every service and shuts the engine down; with Volumes it also
// removes the named volumes' folders.
func (e *Engine) Down(ctx context.Context, req DownRequest) error {
	var vols []string
	if p := e.Project(); p != nil {
		vols = p.Volumes
	}
	err := e.Shutdown(ctx, req.Timeout)
	if req.Volumes {
		err = errors.Join(err, RemoveVolumes(e.opts.StateDir, vols))
	}
	return err
}
