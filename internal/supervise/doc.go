// Package supervise runs one OS process in its own process group and guarantees
// that the group does not outlive it, nor berth.
//
// It owns os/exec-level concerns and raw syscalls: resolving a command in the
// service's own PATH, starting it with separate stdout/stderr pipes, waiting for
// it, signalling its process group, stopping it (stop signal, grace period,
// SIGKILL), turning its wait status into an *ExitError, the pure restart policy
// and backoff arithmetic, the reaper helper process, and reaping leftovers
// recorded by a previous run.
//
// It must not import store, hub, proxy, engine or any net/http package; it does
// not log (errors are returned) and it knows nothing about compose files:
// callers translate project specs into a Spec. It never reads or writes the
// service's output: the caller owns the pipes.
//
// # Process groups and the no-orphans guarantee
//
// Every process starts as the leader of a new process group (Setpgid) with
// Pdeathsig SIGKILL, so it dies with berth's forking thread. Signals and stops
// go to the whole group (kill(-pgid)). When the leader exits, the waiter
// SIGKILLs the rest of its group before reaping the leader, so no background
// grandchild keeps running, holds a port, or keeps the output pipes open:
// a service's group never outlives it. Killing before reaping keeps the
// leader's pid (and so the pgid) from being reused while it is signalled.
//
// Pdeathsig reaches only the direct child. For grandchildren when berth itself
// is SIGKILLed, a Reaper process (berth re-executed with a hidden argument)
// holds the list of live groups and SIGKILLs them when its stdin pipe from
// berth reaches EOF. ReapLeftovers covers the case where the reaper died too:
// groups recorded in state whose leader still exists with the same start time.
//
// Limits: a process that leaves its group (setsid, setpgid, a daemon's double
// fork) is outside the guarantee. Pdeathsig fires when the forking OS thread
// exits; the Go runtime only exits threads when a goroutine exits while locked
// to one, which berth must not do around Start.
//
// Orphaned group members are reparented to init, or to berth if the caller made
// berth a child subreaper (BecomeSubreaper). In the latter case the waiter also
// reaps the members of its group that became berth's children, so no zombies
// pile up on systems whose PID 1 does not reap.
//
// # Concurrency
//
// Each Process has exactly one goroutine, its waiter, started by Start and
// ended when the leader (and any of its group that are berth's children) has
// been reaped; Done is closed as it ends. There are no other goroutines.
// Process and Reaper methods are safe for concurrent use; each struct has one
// mutex and no method holds two.
package supervise
