package supervise

import (
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in      string
		want    syscall.Signal
		wantErr string
	}{
		{in: "SIGTERM", want: syscall.SIGTERM},
		{in: "TERM", want: syscall.SIGTERM},
		{in: "15", want: syscall.SIGTERM},
		{in: "SIGINT", want: syscall.SIGINT},
		{in: "sigint", want: syscall.SIGINT},
		{in: "quit", want: syscall.SIGQUIT},
		{in: " SIGHUP ", want: syscall.SIGHUP},
		{in: "SIGKILL", want: syscall.SIGKILL},
		{in: "USR2", want: syscall.SIGUSR2},
		{in: "SIGIOT", want: syscall.SIGABRT},
		{in: "9", want: syscall.SIGKILL},
		{in: "64", want: 64},
		{in: "RTMIN", want: 34},
		{in: "SIGRTMIN+3", want: 37},
		{in: "RTMAX-1", want: 63},
		{in: "SIGTERMX", wantErr: `parse signal "SIGTERMX": unknown signal`},
		{in: "FOO", wantErr: `parse signal "FOO": unknown signal`},
		{in: "", wantErr: `parse signal "": empty signal name`},
		{in: "0", wantErr: `parse signal "0": signal number out of range 1-64`},
		{in: "65", wantErr: `parse signal "65": signal number out of range 1-64`},
		{in: "-9", wantErr: `parse signal "-9": signal number out of range 1-64`},
		{in: "RTMIN-1", wantErr: `parse signal "RTMIN-1": unknown signal`},
		{in: "RTMIN+31", wantErr: `parse signal "RTMIN+31": unknown signal`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSignal(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseSignal(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSignal(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestSignalName(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		want string
	}{
		{syscall.SIGKILL, "SIGKILL"},
		{syscall.SIGTERM, "SIGTERM"},
		{34, "SIGRTMIN"},
		{36, "SIGRTMIN+2"},
		{64, "SIGRTMAX"},
		{99, "signal 99"},
	}
	for _, tt := range tests {
		if got := signalName(tt.sig); got != tt.want {
			t.Errorf("signalName(%d) = %q, want %q", tt.sig, got, tt.want)
		}
	}
}

func TestExitError_Error(t *testing.T) {
	tests := []struct {
		err  ExitError
		want string
	}{
		{ExitError{Code: 3}, "exit status 3"},
		{ExitError{Code: 137, Signal: syscall.SIGKILL}, "killed by signal SIGKILL"},
		{ExitError{Code: 130, Signal: syscall.SIGINT}, "killed by signal SIGINT"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}
