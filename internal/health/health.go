package health

import (
	"fmt"
	"time"
)

// Defaults applied by Run to zero fields of a Check; they are Docker's.
const (
	DefaultInterval      = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
	DefaultStartInterval = 5 * time.Second
	DefaultRetries       = 3
)

// OutputLimit is how much of a probe's combined stdout and stderr a Result
// keeps: the last OutputLimit bytes.
const OutputLimit = 4096

// Check is one service's healthcheck, as in compose's `healthcheck:`.
type Check struct {
	// Test is ["CMD", prog, args...], run directly, or ["CMD-SHELL", "shell
	// string"], run by /bin/sh -c. Empty or ["NONE"] disables the check.
	Test []string
	// Interval is the time between the end of a probe and the start of the
	// next; StartInterval replaces it while in StartPeriod and not yet healthy.
	Interval, Timeout, StartPeriod, StartInterval time.Duration
	// Retries is how many consecutive failures after the start period make
	// the service unhealthy.
	Retries int
	// Dir is the probe's working directory; empty means berth's own.
	Dir string
	// Env is the service's full environment, which the probe runs with; nil
	// means berth's own. A CMD program without a slash is looked up in Env's PATH.
	Env []string
}

// Disabled reports whether c has no test to run: Test is empty or ["NONE"].
func (c Check) Disabled() bool {
	return len(c.Test) == 0 || c.Test[0] == "NONE"
}

// Validate reports whether Test has a form Run can execute.
func (c Check) Validate() error {
	if c.Disabled() {
		return nil
	}
	switch c.Test[0] {
	case "CMD", "CMD-SHELL":
		if len(c.Test) < 2 || c.Test[1] == "" {
			return fmt.Errorf("healthcheck test %q has no command", c.Test[0])
		}
		return nil
	}
	return fmt.Errorf(`healthcheck test must start with "CMD", "CMD-SHELL" or "NONE", got %q`, c.Test[0])
}

// withDefaults returns c with Docker's defaults in place of zero fields.
func (c Check) withDefaults() Check {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.StartInterval <= 0 {
		c.StartInterval = DefaultStartInterval
	}
	if c.Retries <= 0 {
		c.Retries = DefaultRetries
	}
	return c
}

// nextInterval is how long to wait before the next probe, sinceStart after
// Run began, in status: StartInterval while in the start period and still
// starting, Interval otherwise. c must have its defaults applied.
func (c Check) nextInterval(sinceStart time.Duration, status Status) time.Duration {
	if sinceStart < c.StartPeriod && status == StatusStarting {
		return c.StartInterval
	}
	return c.Interval
}

// Status is a service's health as compose reports it.
type Status string

// The health statuses. A check starts in StatusStarting.
const (
	StatusStarting  Status = "starting"
	StatusHealthy   Status = "healthy"
	StatusUnhealthy Status = "unhealthy"
)

// Result is the health after a probe.
type Result struct {
	Status        Status
	FailingStreak int // consecutive failures counted toward Retries
	// Output is the last OutputLimit bytes of the last probe's stdout and
	// stderr, or why it could not run ("health check timed out after 2s",
	// `exec: "x": executable file not found in $PATH`).
	Output   string
	ExitCode int       // of the last probe; -1 when it could not run or timed out
	At       time.Time // when the last probe ended
}

// Evaluate is the health state machine: it returns the state after a probe,
// given the state before it (the zero Result is "starting"), whether the probe
// succeeded, whether it began within the start period, and the retries
// setting (<= 0 means DefaultRetries). Only Status and FailingStreak change;
// the other fields are copied from prev.
//
// As in Docker: a success makes the state healthy at once and resets the
// streak. A failure while still starting and within the start period is not
// counted. Any other failure adds to the streak, and the state becomes
// unhealthy when the streak reaches retries; until then the status stays what
// it was, so a healthy service stays healthy through retries-1 failures.
func Evaluate(prev Result, probeOK bool, inStartPeriod bool, retries int) Result {
	if retries <= 0 {
		retries = DefaultRetries
	}
	next := prev
	if next.Status == "" {
		next.Status = StatusStarting
	}
	if probeOK {
		next.Status = StatusHealthy
		next.FailingStreak = 0
		return next
	}
	if next.Status == StatusStarting && inStartPeriod {
		return next
	}
	next.FailingStreak++
	if next.FailingStreak >= retries {
		next.Status = StatusUnhealthy
	}
	return next
}
