// Package engine runs a compose project natively: it owns the run's lifetime,
// the services and their replicas, dependency order, restart policies, health
// checks, log capture and the project's events. It has one method per verb
// (Up, Stop, Start, Restart, Kill, Down, Ps, Top, Logs, Events); internal/server
// exposes them over the API and internal/cli calls them through internal/client.
//
// It owns the HTTP inspector's Recorder and its database (<state>/inspect.db,
// inspect.go): the proxies of inspected services report to it, and it is
// closed after them. Which services are inspected is the engine's state
// (x-berth.inspect, up --inspect, SetInspect).
//
// It never imports cobra, net/http servers or iostreams.
//
// Locking: Engine.mu guards every service's and replica's runtime state (see
// the field comments). It is never held while waiting on a process, a probe or
// a subscriber. Log and event fan-out have their own locks, taken after mu is
// released.
package engine
