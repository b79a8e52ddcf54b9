package engine

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/inspect"
	"github.com/berth-dev/berth/internal/project"
)

// StreamInspect is the hub stream on which the engine publishes each
// exchange the inspector stores, as an inspect.Summary (no bodies, header
// fields or Server-Timing). It is live only: with nobody watching, a
// summary is not even encoded.
const StreamInspect = hub.StreamInspect

// NotInspectableError says that a service has no published port that
// berth's proxy owns, so the inspector cannot see its traffic: a port
// published as "8000:8000" is bound by the service itself.
type NotInspectableError struct {
	Service string
	// Ports are the service's published TCP ports, all equal to their
	// target; empty when it publishes none.
	Ports []int
}

func (e *NotInspectableError) Error() string {
	if len(e.Ports) == 0 {
		return fmt.Sprintf("inspect service %q: it publishes no TCP port\nhint: publish one in compose.yaml, on another host port than the service's own (ports: [\"8080:8000\"])", e.Service)
	}
	p := e.Ports[0]
	other := p + 1
	if other > 65535 {
		other = p - 1
	}
	return fmt.Sprintf("inspect service %q: port %d is published on the same host port (\"%d:%d\"), so the service binds it itself and berth's proxy cannot own it\nhint: publish another host port in compose.yaml, e.g. \"%d:%d\", and use that one", e.Service, p, p, p, other, p)
}

// openInspector opens the inspector's database in the state folder and
// starts the engine's one Recorder.
func (e *Engine) openInspector() error {
	db, err := inspect.OpenDB(filepath.Join(e.opts.StateDir, inspect.FileName), inspect.DBOptions{})
	if err != nil {
		return err
	}
	rec, err := inspect.New(inspect.Options{
		Sink:     db,
		Target:   e.inspectTarget,
		OnStored: e.publishExchanges,
		Logger:   e.log,
	})
	if err != nil {
		db.Close()
		return err
	}
	e.inspectDB, e.recorder = db, rec
	return nil
}

// closeInspector stops the Recorder (storing what it has queued), then
// closes its database. The proxies must be closed first: they call the
// Recorder.
func (e *Engine) closeInspector() error {
	if e.recorder == nil {
		return nil
	}
	return errors.Join(e.recorder.Close(), e.inspectDB.Close())
}

// Inspector returns the engine's HTTP inspector: its recorded exchanges,
// replay and export. It lives as long as the engine.
func (e *Engine) Inspector() *inspect.Recorder { return e.recorder }

// publishExchanges is the Recorder's OnStored: it puts each stored
// exchange on the inspect stream, as a summary. It runs on the
// Recorder's goroutine and never blocks: the hub does not wait for
// subscribers.
func (e *Engine) publishExchanges(exs []*inspect.Exchange) {
	for _, ex := range exs {
		if _, err := e.opts.Hub.Publish(StreamInspect, (*inspect.Summary)(ex)); err != nil {
			if !e.inspectWarned.Swap(true) {
				e.log.Warn("publish recorded exchanges", keyErr, err)
			}
			return
		}
	}
}

// inspectTarget is the Recorder's Target: the base URL a service's
// requests are replayed to, its first proxied published port (else its
// first published TCP port).
func (e *Engine) inspectTarget(name string) (string, error) {
	e.mu.Lock()
	s, ok := e.services[name]
	var known []string
	if !ok {
		known = e.serviceNamesLocked()
	}
	e.mu.Unlock()
	if !ok {
		return "", &UnknownServiceError{Name: name, Known: known}
	}
	port, ok := inspectPort(s.spec)
	if !ok {
		for _, p := range s.spec.Ports {
			if p.Published != 0 && (p.Protocol == "" || p.Protocol == "tcp") {
				port, ok = p, true
				break
			}
		}
	}
	if !ok {
		return "", fmt.Errorf("service %q publishes no TCP port", name)
	}
	host := "127.0.0.1"
	if ip := net.ParseIP(port.HostIP); ip != nil && !ip.IsUnspecified() {
		host = ip.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port.Published)), nil
}

// inspectPort returns the first published port of s that berth's proxy
// owns, which the inspector can see.
func inspectPort(s project.Service) (project.Port, bool) {
	for _, p := range s.Ports {
		if proxied(p) {
			return p, true
		}
	}
	return project.Port{}, false
}

// checkInspectable fails when no published port of s can be inspected.
func checkInspectable(s project.Service) error {
	if _, ok := inspectPort(s); ok {
		return nil
	}
	err := &NotInspectableError{Service: s.Name}
	for _, p := range s.Ports {
		if p.Published != 0 && (p.Protocol == "" || p.Protocol == "tcp") {
			err.Ports = append(err.Ports, p.Published)
		}
	}
	return err
}

// wantInspectLocked says whether the inspector is on for s: as the user
// last asked (berth up --inspect, berth inspect on|off), else as its
// x-berth.inspect says. Engine.mu must be held.
func (e *Engine) wantInspectLocked(s project.Service) bool {
	if on, ok := e.inspectSet[s.Name]; ok {
		return on
	}
	return s.Inspect
}

// applyInspectLocked points the proxies of s at the Recorder, or at none,
// as wantInspectLocked says. Open connections keep their mode. Engine.mu
// must be held.
func (e *Engine) applyInspectLocked(s *service) {
	on := e.wantInspectLocked(s.spec) && e.recorder != nil
	for _, px := range s.proxies {
		if on {
			px.SetRecorder(e.recorder)
		} else {
			px.SetRecorder(nil) // an untyped nil: plain mode
		}
	}
	s.inspected = on && len(s.proxies) > 0
}

// SetInspect turns the HTTP inspector on or off for a running service's
// proxied ports, from now on. Turning it on fails with a
// *NotInspectableError when the service has no port the proxy owns. The
// choice outlives a recreate of the service (a changed compose file) for
// as long as the engine runs.
func (e *Engine) SetInspect(name string, on bool) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutdown {
		return ErrClosed
	}
	s, ok := e.services[name]
	if !ok {
		return &UnknownServiceError{Name: name, Known: e.serviceNamesLocked()}
	}
	if on {
		if err := checkInspectable(s.spec); err != nil {
			return err
		}
	}
	e.inspectSet[name] = on
	was := s.inspected
	e.applyInspectLocked(s)
	if was != s.inspected {
		e.notifyLocked()
		e.log.Info("inspector "+onOff(s.inspected), keyService, name)
	}
	return nil
}

// Inspected says whether the inspector records service name's traffic.
func (e *Engine) Inspected(name string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.services[name]
	if !ok {
		return false, &UnknownServiceError{Name: name, Known: e.serviceNamesLocked()}
	}
	return s.inspected, nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// checkInspectRequest checks up's --inspect names (asked) against the
// project, and that every service up runs (wanted) or asked that would be
// inspected can be; set is what the user chose before (SetInspect). It
// runs before anything starts.
func checkInspectRequest(p *project.Project, asked, wanted []string, set map[string]bool) error {
	var errs []error
	isAsked := map[string]bool{}
	for _, n := range asked {
		if _, ok := p.Service(n); !ok {
			errs = append(errs, fmt.Errorf("--inspect %s: %w", n, &UnknownServiceError{Name: n, Known: p.ServiceNames()}))
		}
		isAsked[n] = true
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	seen := map[string]bool{}
	for _, n := range append(append([]string(nil), asked...), wanted...) {
		if seen[n] {
			continue
		}
		seen[n] = true
		s, _ := p.Service(n)
		on, explicit := set[n]
		switch {
		case isAsked[n]:
			on = true
		case !explicit:
			on = s.Inspect
		}
		if !on {
			continue
		}
		if err := checkInspectable(*s); err != nil {
			switch {
			case isAsked[n]:
				err = fmt.Errorf("--inspect %s: %w", n, err)
			case !explicit:
				err = fmt.Errorf("x-berth.inspect: %w", err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
