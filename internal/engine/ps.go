package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/project"
)

// Ps returns the status of every replica of the named services (all when
// none are named), sorted by service and replica.
func (e *Engine) Ps(names []string) ([]ReplicaStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	svcs, err := e.selectLocked(names)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []ReplicaStatus
	for _, s := range svcs {
		for _, r := range s.replicas {
			out = append(out, e.statusLocked(r, now))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Replica < out[j].Replica
	})
	return out, nil
}

// statusLocked describes r. Engine.mu must be held.
func (e *Engine) statusLocked(r *replica, now time.Time) ReplicaStatus {
	st := ReplicaStatus{
		Name:         r.name,
		Project:      e.project.Name,
		Service:      r.svc.spec.Name,
		Replica:      r.index,
		Command:      commandText(r.svc.spec),
		State:        r.state,
		Health:       r.health,
		ExitCode:     r.exitCode,
		Pid:          r.pid,
		Restarts:     r.restarts,
		StartedAt:    r.startedAt,
		FinishedAt:   r.finishedAt,
		WaitingFor:   r.waitingFor,
		HealthOutput: r.healthOutput,
		Error:        r.errMsg,
		TTY:          r.term != nil,
		Inspected:    r.svc.inspected,
		Publishers:   []Publisher{},
	}
	for _, p := range r.svc.spec.Ports {
		host := p.HostIP
		if host == "" {
			host = "0.0.0.0"
		}
		st.Publishers = append(st.Publishers, Publisher{URL: host, TargetPort: p.Target, PublishedPort: p.Published, Protocol: p.Protocol})
	}
	switch r.state {
	case StateRunning:
		st.Status = "Up " + humanDuration(now.Sub(r.startedAt))
		if r.health != "" {
			st.Status += " (" + r.health + ")"
		}
	case StateExited:
		if r.finishedAt.IsZero() {
			st.Status = "Exited"
		} else {
			st.Status = fmt.Sprintf("Exited (%d) %s ago", r.exitCode, humanDuration(now.Sub(r.finishedAt)))
		}
		if r.failed != nil {
			st.Status = "Failed: " + r.failed.Error()
		}
	case StateWaiting:
		st.Status = "Waiting for " + r.waitingFor
	case StateRestarting, StateCrashLooping:
		st.Status = fmt.Sprintf("Restarting (%d) after %s", r.exitCode, r.errMsg)
		if r.state == StateCrashLooping {
			st.Status = fmt.Sprintf("Crash-looping (%d restarts): %s", r.restarts, r.errMsg)
		}
	default:
		st.Status = "Created"
	}
	return st
}

// commandText is what ps shows as a replica's command: the built-in recipe
// rather than its generated script.
func commandText(s project.Service) string {
	if s.Recipe != "" {
		return s.Recipe + " (berth recipe for image " + s.Image + ")"
	}
	return strings.Join(s.Argv, " ")
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return "Less than a second"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	default:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
}

// Log returns the log of service name (it lives as long as the engine, across
// restarts and recreates, so a follower never loses it).
func (e *Engine) Log(name string) (*logs.Log, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.logs[name]
	if !ok {
		return nil, &UnknownServiceError{Name: name, Known: e.serviceNamesLocked()}
	}
	return l, nil
}

// Services returns the names of the services the engine runs, sorted.
func (e *Engine) Services() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.serviceNamesLocked()
}

// Events calls fn with the project's events from now on, until ctx ends or
// the engine shuts down. The first call, once the subscription is in place,
// carries a zero Event: a reader that checks state then gets every event
// after its check. missed counts events dropped because the reader was too
// slow.
func (e *Engine) Events(ctx context.Context, fn func(ev Event, missed int) error) error {
	sub := e.events.subscribe()
	defer sub.cancel()
	if err := fn(Event{}, 0); err != nil {
		return err
	}
	for {
		ev, missed, ok := sub.next(ctx)
		if !ok {
			return ctx.Err()
		}
		if err := fn(ev, missed); err != nil {
			return err
		}
	}
}

// Changes returns a channel closed at the next state change of any replica.
func (e *Engine) Changes() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// Top lists the processes of the named services' running replicas: every
// member of each replica's process group.
func (e *Engine) Top(names []string) ([]Process, error) {
	e.mu.Lock()
	svcs, err := e.selectLocked(names)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	type group struct {
		name, service string
		pgid          int
	}
	var groups []group
	for _, s := range svcs {
		for _, r := range s.replicas {
			if r.proc != nil {
				groups = append(groups, group{r.name, s.spec.Name, r.proc.Pgid()})
			}
		}
	}
	e.mu.Unlock()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	var out []Process
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		ppid, pgid, ok := procStat(pid)
		if !ok {
			continue
		}
		for _, g := range groups {
			if g.pgid == pgid {
				out = append(out, Process{Name: g.name, Service: g.service, Pid: pid, PPid: ppid, Command: procCmdline(pid)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Pid < out[j].Pid
	})
	return out, nil
}

// procStat reads the parent and process group of pid from /proc.
func procStat(pid int) (ppid, pgid int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	pgid, _ = strconv.Atoi(f[2])
	return ppid, pgid, true
}

func procCmdline(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
