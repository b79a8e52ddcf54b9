package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/berth-dev/berth/internal/graph"
	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/project"
)

// Up brings the project up: it creates the services that are new, recreates
// those whose configuration changed, scales those whose replica count
// changed, and leaves the rest alone. It returns once every replica it
// started has started (its dependencies satisfied) or failed; a failure
// (dependency, start error) is returned, naming the service and why.
func (e *Engine) Up(ctx context.Context, req UpRequest) (UpResult, error) {
	var res UpResult
	p := req.Project
	if p == nil {
		return res, errors.New("up: no project")
	}
	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.mu.Lock()
	if e.shutdown {
		e.mu.Unlock()
		return res, ErrClosed
	}
	if e.project != nil && e.project.Name != p.Name {
		name := e.project.Name
		e.mu.Unlock()
		return res, fmt.Errorf("up: this engine runs project %q, not %q", name, p.Name)
	}
	e.mu.Unlock()

	wanted, err := selectServices(p, req.Services, req.NoDeps)
	if err != nil {
		return res, err
	}
	for name, n := range req.Scale {
		s, ok := p.Service(name)
		if !ok {
			return res, fmt.Errorf("--scale %s=%d: %w", name, n, &UnknownServiceError{Name: name, Known: p.ServiceNames()})
		}
		if n < 0 {
			return res, fmt.Errorf("--scale %s=%d: replicas must be 0 or more", name, n)
		}
		s.Replicas = n
	}
	runnable := &project.Project{Name: p.Name, Services: nil}
	for _, name := range wanted {
		s, _ := p.Service(name)
		runnable.Services = append(runnable.Services, *s)
	}
	if err := runnable.CheckRunnable(); err != nil {
		return res, err
	}
	if req.Watch {
		if err := checkWatchPaths(p, wanted); err != nil {
			return res, err
		}
	}
	e.mu.Lock()
	err = checkInspectRequest(p, req.Inspect, wanted, e.inspectSet)
	e.mu.Unlock()
	if err != nil {
		return res, err
	}

	// Decide what to do with each wanted service.
	e.mu.Lock()
	var create, recreate, scale []string
	for _, name := range wanted {
		spec, _ := p.Service(name)
		cur, ok := e.services[name]
		switch {
		case !ok:
			create = append(create, name)
		case cur.spec.Hash != spec.Hash || req.ForceRecreate:
			recreate = append(recreate, name)
		case cur.spec.Replicas != spec.Replicas || anyStopped(cur):
			scale = append(scale, name)
		default:
			res.Unchanged = append(res.Unchanged, name)
		}
	}
	for name := range e.services {
		if _, ok := p.Service(name); !ok {
			res.Orphans = append(res.Orphans, name)
		}
	}
	sort.Strings(res.Orphans)
	old := map[string]*service{}
	for _, name := range recreate {
		old[name] = e.services[name]
	}
	e.mu.Unlock()

	// Stop what is recreated, in reverse dependency order, before checking ports.
	for _, name := range recreate {
		for _, r := range old[name].replicas {
			e.stopReplica(context.Background(), r, nil)
		}
		e.closeProxies(old[name])
	}
	if err := checkPorts(p, append(append([]string(nil), create...), recreate...)); err != nil {
		return res, err
	}

	e.mu.Lock()
	e.project = p
	if req.BaseEnv != nil {
		e.baseEnv = req.BaseEnv
	}
	for _, name := range req.Inspect {
		e.inspectSet[name] = true
	}
	if req.InspectBodyCap != 0 && e.recorder != nil {
		e.recorder.SetBodyCap(req.InspectBodyCap)
	}
	var fresh []*service
	for _, name := range append(append([]string(nil), create...), recreate...) {
		spec, _ := p.Service(name)
		s, err := e.newServiceLocked(*spec)
		if err == nil {
			err = e.openProxies(s)
		}
		if err == nil {
			e.applyInspectLocked(s)
		}
		if err != nil {
			for _, f := range fresh {
				e.closeProxies(f)
			}
			e.mu.Unlock()
			return res, err
		}
		fresh = append(fresh, s)
	}
	var started []*replica
	for _, s := range fresh {
		e.services[s.spec.Name] = s
		started = append(started, e.scaleLocked(s, s.spec.Replicas, !req.NoDeps)...)
	}
	for _, name := range scale {
		spec, _ := p.Service(name)
		s := e.services[name]
		s.spec.Replicas = spec.Replicas
		started = append(started, e.scaleLocked(s, spec.Replicas, !req.NoDeps)...)
	}
	// --inspect of a service that was already running.
	for _, name := range req.Inspect {
		if s, ok := e.services[name]; ok && !s.inspected {
			e.applyInspectLocked(s)
			e.notifyLocked()
		}
	}
	e.mu.Unlock()
	res.Created, res.Recreated, res.Scaled = create, recreate, scale
	if err := e.waitSettled(ctx, started); err != nil {
		return res, err
	}
	if req.Watch {
		return res, e.startWatches(wanted)
	}
	return res, nil
}

// selectServices returns the services up should run: names and (unless
// noDeps) their dependencies, in dependency order; all when names is empty.
func selectServices(p *project.Project, names []string, noDeps bool) ([]string, error) {
	deps := map[string][]string{}
	for _, s := range p.Services {
		deps[s.Name] = nil
		for d, dep := range s.DependsOn {
			if _, ok := p.Service(d); !ok && !dep.Required {
				continue
			}
			deps[s.Name] = append(deps[s.Name], d)
		}
	}
	g, err := graph.New(deps)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, ok := p.Service(n); !ok {
			return nil, &UnknownServiceError{Name: n, Known: p.ServiceNames()}
		}
	}
	if len(names) == 0 {
		return g.Order(), nil
	}
	if noDeps {
		return names, nil
	}
	return g.Subgraph(names), nil
}

// newServiceLocked prepares a service: its log, its volumes, its environment.
// Engine.mu must be held.
func (e *Engine) newServiceLocked(spec project.Service) (*service, error) {
	l, ok := e.logs[spec.Name]
	if !ok {
		var err error
		l, err = logs.Open(spec.Name, logs.Options{Dir: logsDir(e.opts.StateDir)})
		if err != nil {
			return nil, fmt.Errorf("open log of service %q: %w", spec.Name, err)
		}
		e.logs[spec.Name] = l
	}
	env := mergeEnv(e.baseEnv, spec.Environment)
	env = append(env, "BERTH_PROJECT="+e.project.Name, "BERTH_SERVICE="+spec.Name, "BERTH_STATE_DIR="+e.opts.StateDir)
	for _, v := range spec.Volumes {
		dir := VolumeDir(e.opts.StateDir, v.Volume)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create volume %q for service %q: %w", v.Volume, spec.Name, err)
		}
		env = append(env, VolumeEnvName(v.Volume)+"="+dir)
	}
	return &service{spec: spec, log: l, env: env}, nil
}

// scaleLocked starts or stops replicas so that s has n running, and returns
// the replicas it started. Stopped replicas beyond n are removed. Engine.mu must be held.
func (e *Engine) scaleLocked(s *service, n int, waitDeps bool) []*replica {
	var started []*replica
	for i := len(s.replicas); i < n; i++ {
		s.replicas = append(s.replicas, &replica{svc: s, index: i + 1, name: fmt.Sprintf("%s-%s-%d", e.project.Name, s.spec.Name, i+1), state: StateCreated})
	}
	for _, r := range s.replicas[:n] {
		if r.done == nil || isClosed(r.done) {
			e.startLoopLocked(r, waitDeps)
			started = append(started, r)
		}
	}
	if len(s.replicas) > n {
		extra := s.replicas[n:]
		s.replicas = s.replicas[:n]
		for _, r := range extra {
			if r.cancel != nil {
				r.userStopped = true
				r.stopCtx = context.Background()
				r.cancel()
			}
		}
	}
	return started
}

func anyStopped(s *service) bool {
	for _, r := range s.replicas {
		if r.done == nil || isClosed(r.done) {
			return true
		}
	}
	return false
}

// waitSettled waits until every replica in rs has started or failed, and
// returns the failures.
func (e *Engine) waitSettled(ctx context.Context, rs []*replica) error {
	for {
		e.mu.Lock()
		all := true
		var errs []error
		for _, r := range rs {
			if !r.settledLocked() {
				all = false
			}
			if r.failed != nil {
				errs = append(errs, r.failed)
			}
		}
		wait := e.changed
		e.mu.Unlock()
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
	}
}

// mergeEnv returns base with overrides applied (KEY=VALUE lists; later wins).
func mergeEnv(base, overrides []string) []string {
	idx := map[string]int{}
	out := make([]string, 0, len(base)+len(overrides))
	for _, list := range [][]string{base, overrides} {
		for _, kv := range list {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
