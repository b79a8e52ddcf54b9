// Package health owns compose healthcheck semantics for one service: running
// the `healthcheck.test` probe on the interval, start_interval, start_period,
// timeout and retries schedule that Docker uses, and turning probe results
// into a "starting", "healthy" or "unhealthy" status.
//
// Evaluate is the pure state machine; Run drives it with real probes. A probe
// runs as a short-lived process in its own process group, with the service's
// environment and working directory; the whole group is killed when the probe
// times out, when Run's ctx is done, and after the probe exits, so nothing it
// started survives it.
//
// The package must not know about services, restarts or dependencies: it
// reports results to a callback and the caller (internal/engine) decides what
// they mean. It must not log, publish to the hub, or store anything, and it
// starts no goroutine that outlives a probe.
package health
