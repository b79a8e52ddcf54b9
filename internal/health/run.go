package health

import "context"

// Run probes c until ctx is done, and calls report with the new state after
// every probe, on the schedule Docker uses: the first probe StartInterval
// after Run begins when there is a start period (Interval otherwise), and each
// next one after the previous one ended: StartInterval while still starting
// within the start period, Interval otherwise. Zero fields of c take Docker's defaults
// (DefaultInterval, DefaultTimeout, DefaultStartInterval, DefaultRetries); the
// start period is measured from the call to Run, so call it when the service's
// process starts. A nil clock means RealClock.
//
// Run blocks. report is called from Run's goroutine, so a slow report delays
// the next probe but never races with it. A probe cut short because ctx was
// done is not reported. Run returns immediately when c is Disabled; an invalid
// c.Test is reported as a failing probe whose Output says why. Run starts no
// goroutine that outlives a probe, and kills each probe's process group before
// moving on.
func Run(ctx context.Context, c Check, clock Clock, report func(Result)) {
	if c.Disabled() {
		return
	}
	if clock == nil {
		clock = RealClock{}
	}
	c = c.withDefaults()
	started := clock.Now()
	state := Result{Status: StatusStarting}
	for {
		t := clock.NewTimer(c.nextInterval(clock.Now().Sub(started), state.Status))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}

		probeStart := clock.Now()
		p := probe(ctx, c, clock)
		if ctx.Err() != nil {
			return
		}
		state = Evaluate(state, p.exitCode == 0, probeStart.Sub(started) < c.StartPeriod, c.Retries)
		state.Output, state.ExitCode, state.At = p.output, p.exitCode, clock.Now()
		report(state)
	}
}
