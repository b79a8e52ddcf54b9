package supervise

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestPolicy_ShouldRestart(t *testing.T) {
	failed := &ExitError{Code: 1}
	killed := &ExitError{Code: 137, Signal: syscall.SIGKILL}
	tests := []struct {
		name     string
		policy   Policy
		exitErr  error
		restarts int
		want     bool
	}{
		{"no: success", Policy{Mode: "no"}, nil, 0, false},
		{"no: failure", Policy{Mode: "no"}, failed, 0, false},
		{"empty mode is no", Policy{}, failed, 0, false},
		{"unknown mode never restarts", Policy{Mode: "sometimes"}, failed, 0, false},
		{"always: success", Policy{Mode: "always"}, nil, 0, true},
		{"always: failure after many", Policy{Mode: "always"}, failed, 1000, true},
		{"always ignores max attempts", Policy{Mode: "always", MaxAttempts: 1}, failed, 5, true},
		{"unless-stopped: success", Policy{Mode: "unless-stopped"}, nil, 3, true},
		{"unless-stopped: failure", Policy{Mode: "unless-stopped"}, failed, 3, true},
		{"on-failure: success does not restart", Policy{Mode: "on-failure"}, nil, 0, false},
		{"on-failure: non-zero exit restarts", Policy{Mode: "on-failure"}, failed, 0, true},
		{"on-failure: signal restarts", Policy{Mode: "on-failure"}, killed, 0, true},
		{"on-failure: any error restarts", Policy{Mode: "on-failure"}, errors.New("wait failed"), 0, true},
		{"on-failure unbounded", Policy{Mode: "on-failure"}, failed, 1000, true},
		{"on-failure below max", Policy{Mode: "on-failure", MaxAttempts: 3}, failed, 2, true},
		{"on-failure stops after max attempts", Policy{Mode: "on-failure", MaxAttempts: 3}, failed, 3, false},
		{"on-failure past max", Policy{Mode: "on-failure", MaxAttempts: 3}, failed, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.ShouldRestart(tt.exitErr, tt.restarts); got != tt.want {
				t.Errorf("%+v.ShouldRestart(%v, %d) = %v, want %v", tt.policy, tt.exitErr, tt.restarts, got, tt.want)
			}
		})
	}
}

func TestBackoff_Delay(t *testing.T) {
	ms := time.Millisecond
	def := DefaultBackoff()
	tests := []struct {
		name    string
		backoff Backoff
		streak  int
		want    time.Duration
	}{
		{"streak 0 waits Initial", def, 0, 100 * ms},
		{"first quick failure", def, 1, 100 * ms},
		{"second doubles", def, 2, 200 * ms},
		{"third", def, 3, 400 * ms},
		{"eighth", def, 8, 10 * time.Second}, // 12.8s capped
		{"seventh", def, 7, 6400 * ms},
		{"capped at Max", def, 50, 10 * time.Second},
		{"huge streak does not overflow", def, 1 << 30, 10 * time.Second},
		{"negative streak", def, -1, 100 * ms},
		{"zero Initial means no delay", Backoff{Max: time.Second}, 5, 0},
		{"uncapped", Backoff{Initial: time.Second}, 4, 8 * time.Second},
		{"uncapped saturates", Backoff{Initial: time.Second}, 200, maxDuration},
		{"Initial above Max is capped", Backoff{Initial: time.Minute, Max: time.Second}, 1, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.backoff.Delay(tt.streak); got != tt.want {
				t.Errorf("Delay(%d) = %s, want %s", tt.streak, got, tt.want)
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	got, want := DefaultBackoff(), Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second, ResetAfter: 10 * time.Second}
	if got != want {
		t.Errorf("DefaultBackoff() = %+v, want %+v", got, want)
	}
}

func TestBackoff_Next(t *testing.T) {
	b := DefaultBackoff()
	tests := []struct {
		name   string
		streak int
		ran    time.Duration
		want   int
	}{
		{"quick failure starts a streak", 0, time.Second, 1},
		{"quick failure extends it", 2, 9999 * time.Millisecond, 3},
		{"a run of ResetAfter resets", 5, 10 * time.Second, 0},
		{"a long run resets", 5, time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Next(tt.streak, tt.ran); got != tt.want {
				t.Errorf("Next(%d, %s) = %d, want %d", tt.streak, tt.ran, got, tt.want)
			}
		})
	}
}

func TestCrashLooping(t *testing.T) {
	for streak, want := range map[int]bool{0: false, 1: false, 2: false, 3: true, 10: true} {
		if got := CrashLooping(streak); got != want {
			t.Errorf("CrashLooping(%d) = %v, want %v", streak, got, want)
		}
	}
}
