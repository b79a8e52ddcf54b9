package health

import (
	"strings"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		prev          Result
		ok            bool
		inStartPeriod bool
		retries       int
		want          Result
	}{
		{"zero state is starting and a success makes it healthy", Result{}, true, false, 3,
			Result{Status: StatusHealthy}},
		{"success in the start period is healthy at once", Result{Status: StatusStarting}, true, true, 3,
			Result{Status: StatusHealthy}},
		{"failure in the start period is not counted", Result{Status: StatusStarting}, false, true, 1,
			Result{Status: StatusStarting}},
		{"failure in the start period keeps an earlier streak", Result{Status: StatusStarting, FailingStreak: 2}, false, true, 3,
			Result{Status: StatusStarting, FailingStreak: 2}},
		{"failure after the start period counts but stays starting", Result{Status: StatusStarting}, false, false, 3,
			Result{Status: StatusStarting, FailingStreak: 1}},
		{"retries consecutive failures make it unhealthy", Result{Status: StatusStarting, FailingStreak: 2}, false, false, 3,
			Result{Status: StatusUnhealthy, FailingStreak: 3}},
		{"one retry fails at the first counted failure", Result{Status: StatusStarting}, false, false, 1,
			Result{Status: StatusUnhealthy, FailingStreak: 1}},
		{"healthy stays healthy below retries", Result{Status: StatusHealthy}, false, false, 3,
			Result{Status: StatusHealthy, FailingStreak: 1}},
		{"healthy becomes unhealthy at retries", Result{Status: StatusHealthy, FailingStreak: 2}, false, false, 3,
			Result{Status: StatusUnhealthy, FailingStreak: 3}},
		{"failure while healthy counts even in the start period", Result{Status: StatusHealthy}, false, true, 1,
			Result{Status: StatusUnhealthy, FailingStreak: 1}},
		{"unhealthy keeps counting", Result{Status: StatusUnhealthy, FailingStreak: 3}, false, false, 3,
			Result{Status: StatusUnhealthy, FailingStreak: 4}},
		{"success resets the streak and heals", Result{Status: StatusUnhealthy, FailingStreak: 7}, true, false, 3,
			Result{Status: StatusHealthy}},
		{"zero retries means the default of three", Result{Status: StatusHealthy, FailingStreak: 1}, false, false, 0,
			Result{Status: StatusHealthy, FailingStreak: 2}},
		{"zero retries fails at the third", Result{Status: StatusHealthy, FailingStreak: 2}, false, false, 0,
			Result{Status: StatusUnhealthy, FailingStreak: 3}},
		{"other fields are carried over", Result{Status: StatusHealthy, Output: "ok\n", ExitCode: 0, At: at}, false, false, 2,
			Result{Status: StatusHealthy, FailingStreak: 1, Output: "ok\n", At: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate(tt.prev, tt.ok, tt.inStartPeriod, tt.retries)
			if got != tt.want {
				t.Errorf("Evaluate(%+v, ok=%v, inStartPeriod=%v, retries=%d)\n got  %+v\n want %+v",
					tt.prev, tt.ok, tt.inStartPeriod, tt.retries, got, tt.want)
			}
		})
	}
}

func TestCheck_NextInterval(t *testing.T) {
	c := Check{StartPeriod: 10 * time.Second, Interval: time.Minute, StartInterval: time.Second}.withDefaults()
	tests := []struct {
		name       string
		c          Check
		sinceStart time.Duration
		status     Status
		want       time.Duration
	}{
		{"first probe in a start period uses the start interval", c, 0, StatusStarting, time.Second},
		{"starting within the start period", c, 9 * time.Second, StatusStarting, time.Second},
		{"starting after the start period", c, 10 * time.Second, StatusStarting, time.Minute},
		{"healthy within the start period", c, time.Second, StatusHealthy, time.Minute},
		{"unhealthy within the start period", c, time.Second, StatusUnhealthy, time.Minute},
		{"no start period", Check{Interval: time.Minute}.withDefaults(), 0, StatusStarting, time.Minute},
		{"defaults", Check{StartPeriod: time.Minute}.withDefaults(), 0, StatusStarting, DefaultStartInterval},
		{"default interval", Check{}.withDefaults(), 0, StatusStarting, DefaultInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.nextInterval(tt.sinceStart, tt.status); got != tt.want {
				t.Errorf("nextInterval(%v, %s) = %v, want %v", tt.sinceStart, tt.status, got, tt.want)
			}
		})
	}
}

func TestCheck_Validate(t *testing.T) {
	tests := []struct {
		name     string
		test     []string
		disabled bool
		wantErr  string
	}{
		{"empty is disabled", nil, true, ""},
		{"NONE is disabled", []string{"NONE"}, true, ""},
		{"CMD", []string{"CMD", "true"}, false, ""},
		{"CMD-SHELL", []string{"CMD-SHELL", "exit 0"}, false, ""},
		{"CMD without a program", []string{"CMD"}, false, `healthcheck test "CMD" has no command`},
		{"CMD-SHELL with an empty string", []string{"CMD-SHELL", ""}, false, `healthcheck test "CMD-SHELL" has no command`},
		{"unknown form", []string{"curl", "-f", "localhost"}, false, `healthcheck test must start with "CMD", "CMD-SHELL" or "NONE", got "curl"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Check{Test: tt.test}
			if got := c.Disabled(); got != tt.disabled {
				t.Errorf("Disabled() = %v, want %v", got, tt.disabled)
			}
			err := c.Validate()
			if got := errString(err); got != tt.wantErr {
				t.Errorf("Validate() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"short output is kept", []string{"hello ", "world\n"}, "hello world\n"},
		{"one long write keeps the end", []string{strings.Repeat("a", 5000) + "END"}, strings.Repeat("a", OutputLimit-3) + "END"},
		{"many writes keep the end", []string{strings.Repeat("b", 3000), strings.Repeat("c", 3000)}, strings.Repeat("b", OutputLimit-3000) + strings.Repeat("c", 3000)},
		{"a rune cut at the start is dropped", []string{"é" + strings.Repeat("x", OutputLimit-1)}, strings.Repeat("x", OutputLimit-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl tail
			for _, w := range tt.writes {
				if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if got := tl.String(); got != tt.want {
				t.Errorf("String() = %d bytes %.20q…, want %d bytes %.20q…", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}
