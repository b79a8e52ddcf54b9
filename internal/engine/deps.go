package engine

import (
	"context"
	"fmt"
	"sort"

	"github.com/berth-dev/berth/internal/health"
	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/project"
)

// DependencyError says which dependency of a service failed and why.
type DependencyError struct {
	Service    string
	Dependency string
	Reason     string
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("service %q: dependency %q failed: %s", e.Service, e.Dependency, e.Reason)
}

// waitDependencies blocks until every depends_on condition of r's service
// holds, or one can no longer hold (then it returns a *DependencyError), or
// ctx ends. While waiting, r's state says what it waits for.
func (e *Engine) waitDependencies(ctx context.Context, r *replica) error {
	deps := r.svc.spec.DependsOn
	names := make([]string, 0, len(deps))
	for n := range deps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, dep := range names {
		cond := deps[dep]
		for {
			e.mu.Lock()
			ok, reason := e.conditionLocked(dep, cond)
			wait := e.changed
			if !ok && reason == "" {
				r.state = StateWaiting
				r.waitingFor = fmt.Sprintf("%s (%s)", dep, cond.Condition)
				e.notifyLocked()
				wait = e.changed
			}
			e.mu.Unlock()
			if ok {
				break
			}
			if reason != "" {
				if !cond.Required {
					r.svc.log.Append(r.index, logs.Stream('e'), []byte(fmt.Sprintf("berth: optional dependency %q failed (%s); starting anyway", dep, reason)))
					break
				}
				return &DependencyError{Service: r.svc.spec.Name, Dependency: dep, Reason: reason}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-wait:
			}
		}
	}
	e.mu.Lock()
	r.waitingFor = ""
	e.mu.Unlock()
	return nil
}

// conditionLocked evaluates a depends_on condition against the dependency's
// replicas: ok when it holds; a non-empty reason when it can no longer hold.
// Engine.mu must be held.
func (e *Engine) conditionLocked(dep string, cond project.Dependency) (ok bool, reason string) {
	s, found := e.services[dep]
	if !found {
		return false, "it is not part of the running project (is it disabled by a profile?)"
	}
	if len(s.replicas) == 0 {
		return true, ""
	}
	all := true
	for _, r := range s.replicas {
		finished := r.done == nil || isClosed(r.done)
		if r.failed != nil {
			return false, r.failed.Error()
		}
		switch cond.Condition {
		case project.ConditionHealthy:
			if s.spec.Healthcheck == nil {
				return false, "it has no healthcheck; use condition service_started, or add a healthcheck"
			}
			switch {
			case r.health == string(health.StatusHealthy):
			case r.health == string(health.StatusUnhealthy):
				return false, "it is unhealthy: " + firstLine(r.healthOutput)
			case finished && r.everStarted:
				return false, fmt.Sprintf("it exited with code %d before becoming healthy", r.exitCode)
			default:
				all = false
			}
		case project.ConditionCompletedSuccessfully:
			switch {
			case finished && r.everStarted && r.exitCode == 0:
			case finished && r.everStarted:
				return false, fmt.Sprintf("it did not complete successfully: exit %d", r.exitCode)
			default:
				all = false
			}
		default: // service_started
			if !r.everStarted {
				all = false
			}
		}
	}
	return all, ""
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
