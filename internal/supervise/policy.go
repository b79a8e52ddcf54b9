package supervise

import "time"

// Policy is a service's restart policy. Mode uses compose's strings, the same
// as internal/project's RestartNo, RestartAlways, RestartOnFailure and
// RestartUnlessStopped: "no" (or ""), "always", "on-failure", "unless-stopped".
// MaxAttempts bounds on-failure restarts; 0 means unbounded.
type Policy struct {
	Mode        string
	MaxAttempts int
}

// ShouldRestart reports whether a process that ended with exitErr (nil for
// exit status 0, as returned by Process.Err) should be started again, given
// the number of restarts so far. The caller never asks after a user stop, so
// "unless-stopped" behaves like "always" here. An unknown mode never restarts.
func (p Policy) ShouldRestart(exitErr error, restarts int) bool {
	switch p.Mode {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return exitErr != nil && (p.MaxAttempts <= 0 || restarts < p.MaxAttempts)
	}
	return false
}

// Backoff computes the delay before restarting a process that keeps failing.
// The delay doubles with each consecutive quick failure, from Initial up to
// Max; a run that lasted at least ResetAfter ends the streak.
type Backoff struct {
	Initial    time.Duration // delay after the first quick failure; <= 0 means no delay
	Max        time.Duration // cap; <= 0 means uncapped
	ResetAfter time.Duration // a run at least this long resets the streak
}

// DefaultBackoff returns docker's scheme with a lower cap: 100ms doubling,
// reset by a 10s run, but capped at 10s instead of docker's 1 minute. In a
// dev loop the user fixes the code and wants the service back within seconds;
// a tight loop still costs at most one start every 10s, and the engine shows
// the service as crash-looping after three quick failures.
func DefaultBackoff() Backoff {
	return Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second, ResetAfter: 10 * time.Second}
}

// Next returns the new streak after a run that lasted ran: 0 when the run
// lasted at least ResetAfter, else streak+1.
func (b Backoff) Next(streak int, ran time.Duration) int {
	if ran >= b.ResetAfter {
		return 0
	}
	return streak + 1
}

// Delay returns how long to wait before the next start after streak
// consecutive quick failures: Initial for a streak of 0 or 1, then doubling,
// capped at Max.
func (b Backoff) Delay(streak int) time.Duration {
	if b.Initial <= 0 {
		return 0
	}
	d := b.Initial
	for i := 1; i < streak; i++ {
		if b.Max > 0 && d >= b.Max {
			break
		}
		if d > maxDuration/2 {
			d = maxDuration
			break
		}
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

const maxDuration = time.Duration(1<<63 - 1)

// CrashLooping reports whether streak consecutive quick failures mean the
// service is crash-looping (three or more); the engine shows that state.
func CrashLooping(streak int) bool {
	return streak >= 3
}
