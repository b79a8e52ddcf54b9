// Package share publishes one service's HTTP port on a remote SSH server the
// user already has, through OpenSSH remote forwarding (what `ssh -R` does),
// for `berth share`.
//
// # What it owns
//
//   - The SSH link: dialling user@host[:port] with keys from the SSH agent or
//     key files, checking the server's host key against a known_hosts file
//     (an unknown or changed key is refused with a *HostKeyError that says
//     what to check and what to run), asking the server to listen on
//     bind:port, and keeping the link alive (keepalive requests). When the
//     link drops, Sharer.Run reconnects with exponential backoff and asks
//     for the same remote port again, so the public address does not change.
//   - The HTTP gate every visitor goes through (Handler): optional basic
//     auth, refusal of framework debug endpoints (DefaultDebugPaths) unless
//     allowed, and a streaming reverse proxy to one fixed target address.
//     Visitors can reach nothing but that target: the gate never forwards to
//     another host, never to berth's own API or dashboard. Visitors'
//     connections reach the HTTP server through an in-memory pipe
//     (pipeListener), because the SSH library's connections have no
//     deadlines and net/http needs them (protocol upgrades, timeouts).
//   - The share lock (Lock, Stop): $BERTH_STATE_HOME/<project>/share-<service>.pid,
//     a pid file held under flock(2) while a share runs, through which
//     `berth share --stop` finds and signals it.
//
// # What it must not do
//
// It does not load projects, talk to the engine, read flags or print: the
// CLI resolves the service's port and passes a target address, and gets
// status changes through Options.Notify. It never buffers a response body:
// the reverse proxy flushes every write (FlushInterval -1), so server-sent
// events and other streams reach the visitor as they are written.
//
// # The HTTP inspector
//
// The share forwards to the service's published port. `berth share` (the
// CLI) turns the inspector on for the service while it shares, so the
// proxy that owns that port records what visitors do; the gate adds
// X-Forwarded-For and X-Forwarded-Host, which tell shared requests apart.
//
// # Concurrency
//
// A Sharer is used by one Run call at a time. Run owns every goroutine it
// starts (the HTTP server of each link, its connections, the keepalive
// loop) and returns only after they have ended. Handler is safe for
// concurrent use.
package share
