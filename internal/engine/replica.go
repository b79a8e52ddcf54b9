package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/health"
	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/project"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/supervise"
)

// service is one compose service as the engine runs it.
type service struct {
	spec project.Service // immutable once created; a changed spec makes a new service
	log  *logs.Log
	env  []string // complete environment of its processes
	// proxies own the service's proxied published ports; set while it is
	// created, closed when it is recreated or the engine ends.
	proxies []*proxy.Proxy
	// inspected says the proxies report to the inspector; guarded by Engine.mu.
	inspected bool

	replicas []*replica // guarded by Engine.mu
}

// replica is one running instance of a service, and the loop that supervises it.
type replica struct {
	svc   *service
	index int    // 1-based
	name  string // project-service-index, as docker compose names containers

	// Guarded by Engine.mu.
	state        string
	health       string
	healthOutput string
	pid          int
	exitCode     int
	restarts     int
	startedAt    time.Time
	finishedAt   time.Time
	waitingFor   string
	errMsg       string
	everStarted  bool
	failed       error // a final failure: dependency or start error
	userStopped  bool
	proc         *supervise.Process
	term         *terminal          // nil unless the service runs on a terminal
	cancel       context.CancelFunc // ends the loop
	stopCtx      context.Context    // how the loop should stop its process
	stopTimeout  *time.Duration
	done         chan struct{} // closed when the loop has returned; nil when no loop ran
}

// settled reports whether Up can stop waiting for r: it started, or failed.
// Engine.mu must be held.
func (r *replica) settledLocked() bool {
	return r.everStarted || r.failed != nil || r.done == nil
}

// startLoopLocked starts r's supervision loop. Engine.mu must be held.
func (e *Engine) startLoopLocked(r *replica, waitDeps bool) {
	ctx, cancel := context.WithCancel(e.ctx)
	r.cancel = cancel
	r.stopCtx = nil
	r.stopTimeout = nil
	r.userStopped = false
	r.failed = nil
	r.errMsg = ""
	r.done = make(chan struct{})
	r.state = StateCreated
	e.notifyLocked()
	e.loops.Add(1)
	go func() {
		defer e.loops.Done()
		e.runReplica(ctx, r, waitDeps)
		cancel()
		e.mu.Lock()
		close(r.done)
		e.notifyLocked()
		e.mu.Unlock()
	}()
}

// stopReplica ends r's loop, stopping its process as the stop request says,
// and waits for it. ctx cancelled means SIGKILL at once.
func (e *Engine) stopReplica(ctx context.Context, r *replica, timeout *time.Duration) {
	e.mu.Lock()
	done := r.done
	if done == nil {
		e.mu.Unlock()
		return
	}
	r.userStopped = true
	r.stopCtx = ctx
	r.stopTimeout = timeout
	cancel := r.cancel
	e.mu.Unlock()
	cancel()
	<-done
}

// runReplica is the supervision loop of one replica: wait for dependencies,
// start, capture output, probe health, wait for exit, apply the restart policy.
func (e *Engine) runReplica(ctx context.Context, r *replica, waitDeps bool) {
	log := e.log.With(keyService, r.name)
	if waitDeps {
		if err := e.waitDependencies(ctx, r); err != nil {
			if ctx.Err() != nil {
				e.setState(r, StateExited, false)
				return
			}
			e.fail(r, err)
			log.Error("dependency failed", keyErr, err)
			return
		}
	}
	policy := supervise.Policy{Mode: r.svc.spec.Restart.Mode, MaxAttempts: r.svc.spec.Restart.MaxAttempts}
	backoff := supervise.DefaultBackoff()
	streak := 0
	for {
		started := time.Now()
		exitErr, err := e.runOnce(ctx, r)
		if err != nil {
			e.fail(r, err)
			log.Error("start failed", keyErr, err)
			return
		}
		e.mu.Lock()
		stopped := r.userStopped
		restarts := r.restarts
		e.mu.Unlock()
		if ctx.Err() != nil || stopped || !policy.ShouldRestart(exitErr, restarts) {
			e.setState(r, StateExited, false)
			e.emit(r, "die", map[string]string{"exitCode": strconv.Itoa(exitCodeOf(exitErr))})
			return
		}
		if time.Since(started) >= backoff.ResetAfter {
			streak = 0
		}
		streak++
		delay := backoff.Delay(streak)
		state := StateRestarting
		if supervise.CrashLooping(streak) {
			state = StateCrashLooping
		}
		e.setState(r, state, true)
		e.emit(r, "die", map[string]string{"exitCode": strconv.Itoa(exitCodeOf(exitErr))})
		log.Info("restarting", "in", delay.Round(time.Millisecond), keyAttempt, restarts+1, "exit", exitText(exitErr))
		r.svc.log.Append(r.index, logs.Stream('e'), []byte(fmt.Sprintf("berth: %s exited (%s), restarting in %s (state %s)", r.name, exitText(exitErr), delay.Round(time.Millisecond), state)))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			e.setState(r, StateExited, false)
			return
		case <-t.C:
		}
	}
}

// runOnce starts r's process and supervises it until it exits or ctx ends.
// It returns the process's exit error, or err when it could not start.
func (e *Engine) runOnce(ctx context.Context, r *replica) (exitErr error, err error) {
	spec := r.svc.spec
	sig, err := supervise.ParseSignal(spec.StopSignal)
	if err != nil {
		return nil, fmt.Errorf("service %q: stop_signal: %w", spec.Name, err)
	}
	env := append(append([]string(nil), r.svc.env...),
		"BERTH_REPLICA="+strconv.Itoa(r.index), "BERTH_CONTAINER_NAME="+r.name)
	proc, err := supervise.Start(supervise.Spec{
		Name:       r.name,
		Argv:       spec.Argv,
		Dir:        spec.WorkingDir,
		Env:        env,
		StopSignal: sig,
		StopGrace:  spec.StopGracePeriod,
		TTY:        spec.TTY || spec.StdinOpen,
	})
	if err != nil {
		return nil, err
	}
	var term *terminal
	if proc.TTY() {
		term = newTerminal(proc)
	}
	if e.reaper != nil {
		if terr := e.reaper.Track(proc.Pgid()); terr != nil {
			e.log.Warn("watchdog track", keyService, r.name, keyErr, terr)
		}
	}
	e.mu.Lock()
	r.proc = proc
	r.term = term
	r.pid = proc.Pid()
	r.state = StateRunning
	r.everStarted = true
	r.startedAt = time.Now()
	r.exitCode = 0
	if spec.Healthcheck != nil {
		r.health = string(health.StatusStarting)
	} else {
		r.health = ""
	}
	r.healthOutput = ""
	e.notifyLocked()
	e.mu.Unlock()
	e.saveRecords()
	e.emit(r, "start", map[string]string{"pid": strconv.Itoa(proc.Pid())})

	var wg sync.WaitGroup
	if term != nil {
		// One terminal: stdout and stderr merged, also shown to attached clients.
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer proc.Stdin.Close()
			defer term.end()
			e.capture(r, logs.Stdout, proc.Stdout, term.tee(supervise.TTYReader{F: proc.Stdout}))
		}()
	} else {
		wg.Add(2)
		go func() { defer wg.Done(); e.capture(r, logs.Stdout, proc.Stdout, proc.Stdout) }()
		go func() { defer wg.Done(); e.capture(r, logs.Stderr, proc.Stderr, proc.Stderr) }()
	}
	hctx, hcancel := context.WithCancel(ctx)
	if spec.Healthcheck != nil {
		wg.Add(1)
		go func() { defer wg.Done(); e.probe(hctx, r, env) }()
	}

	select {
	case <-proc.Done():
	case <-ctx.Done():
		e.mu.Lock()
		stopCtx, timeout := r.stopCtx, r.stopTimeout
		e.mu.Unlock()
		if stopCtx == nil {
			stopCtx = context.Background()
		}
		if timeout != nil {
			var cancel context.CancelFunc
			stopCtx, cancel = context.WithTimeout(stopCtx, *timeout)
			defer cancel()
		}
		e.emit(r, "stop", nil)
		_ = proc.Stop(stopCtx)
	}
	hcancel()
	wg.Wait()
	if e.reaper != nil {
		if terr := e.reaper.Untrack(proc.Pgid()); terr != nil {
			e.log.Warn("watchdog untrack", keyService, r.name, keyErr, terr)
		}
	}
	exitErr = proc.Err()
	e.mu.Lock()
	r.proc = nil
	r.term = nil
	r.pid = 0
	r.exitCode = exitCodeOf(exitErr)
	r.finishedAt = time.Now()
	r.errMsg = ""
	if exitErr != nil {
		r.errMsg = exitText(exitErr)
	}
	if r.health != string(health.StatusUnhealthy) {
		r.health = ""
	}
	e.mu.Unlock()
	e.saveRecords()
	return exitErr, nil
}

// capture copies one output stream of r (read through src) into its
// service's log until EOF, then closes f.
func (e *Engine) capture(r *replica, stream logs.Stream, f *os.File, src io.Reader) {
	defer f.Close()
	if err := r.svc.log.Capture(r.index, stream, src); err != nil {
		e.log.Warn("capture output", keyService, r.name, keyErr, err)
	}
}

// probe runs r's health check until ctx ends, recording each result.
func (e *Engine) probe(ctx context.Context, r *replica, env []string) {
	hc := r.svc.spec.Healthcheck
	check := health.Check{
		Test:          hc.Test,
		Interval:      hc.Interval,
		Timeout:       hc.Timeout,
		StartPeriod:   hc.StartPeriod,
		StartInterval: hc.StartInterval,
		Retries:       hc.Retries,
		Dir:           r.svc.spec.WorkingDir,
		Env:           env,
	}
	health.Run(ctx, check, health.RealClock{}, func(res health.Result) {
		e.mu.Lock()
		prev := r.health
		if ctx.Err() != nil {
			e.mu.Unlock()
			return
		}
		r.health = string(res.Status)
		if res.Status != health.StatusHealthy {
			r.healthOutput = strings.TrimSpace(res.Output)
		}
		changed := prev != r.health
		if changed {
			e.notifyLocked()
		}
		e.mu.Unlock()
		if changed {
			e.emit(r, "health_status: "+string(res.Status), nil)
			if res.Status == health.StatusUnhealthy {
				r.svc.log.Append(r.index, logs.Stream('e'), []byte(fmt.Sprintf("berth: %s is unhealthy: %s", r.name, firstLine(res.Output))))
			}
		}
	})
}

// setState sets r's state after its process ended; restarting counts a restart.
func (e *Engine) setState(r *replica, state string, restarting bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.state = state
	if restarting {
		r.restarts++
	}
	e.notifyLocked()
}

func (e *Engine) fail(r *replica, err error) {
	e.mu.Lock()
	r.failed = err
	r.errMsg = err.Error()
	r.state = StateExited
	r.waitingFor = ""
	if !r.everStarted {
		r.exitCode = 1
	}
	r.finishedAt = time.Now()
	e.notifyLocked()
	e.mu.Unlock()
	r.svc.log.Append(r.index, logs.Stream('e'), []byte("berth: "+err.Error()))
}

func exitCodeOf(err error) int {
	var ee *supervise.ExitError
	if errors.As(err, &ee) {
		if ee.Signal != 0 {
			return 128 + int(ee.Signal)
		}
		return ee.Code
	}
	if err != nil {
		return 1
	}
	return 0
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
