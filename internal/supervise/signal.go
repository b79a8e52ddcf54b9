package supervise

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Real-time signal numbers as the C library (and docker) number them.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// signalAliases are the Linux names x/sys/unix does not list.
var signalAliases = map[string]syscall.Signal{
	"SIGIOT":  syscall.SIGABRT,
	"SIGPOLL": syscall.SIGIO,
	"SIGCLD":  syscall.SIGCHLD,
}

// ParseSignal parses a signal as compose's stop_signal and docker accept it:
// a name with or without the SIG prefix, in any case ("SIGTERM", "term"),
// "RTMIN+3" / "SIGRTMAX-1", or a number from 1 to 64 ("15").
func ParseSignal(name string) (syscall.Signal, error) {
	s := strings.TrimSpace(name)
	if s == "" {
		return 0, fmt.Errorf("parse signal %q: empty signal name", name)
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, fmt.Errorf("parse signal %q: signal number out of range 1-%d", name, sigRTMax)
		}
		return syscall.Signal(n), nil
	}
	u := strings.ToUpper(s)
	if !strings.HasPrefix(u, "SIG") {
		u = "SIG" + u
	}
	if sig := unix.SignalNum(u); sig != 0 {
		return sig, nil
	}
	if sig, ok := signalAliases[u]; ok {
		return sig, nil
	}
	if sig, ok := parseRT(u); ok {
		return sig, nil
	}
	return 0, fmt.Errorf("parse signal %q: unknown signal", name)
}

// parseRT parses SIGRTMIN, SIGRTMIN+n, SIGRTMAX and SIGRTMAX-n.
func parseRT(u string) (syscall.Signal, bool) {
	base, sign, rest := 0, 0, ""
	switch {
	case strings.HasPrefix(u, "SIGRTMIN"):
		base, sign, rest = sigRTMin, 1, strings.TrimPrefix(u, "SIGRTMIN")
	case strings.HasPrefix(u, "SIGRTMAX"):
		base, sign, rest = sigRTMax, -1, strings.TrimPrefix(u, "SIGRTMAX")
	default:
		return 0, false
	}
	if rest == "" {
		return syscall.Signal(base), true
	}
	if (sign > 0 && rest[0] != '+') || (sign < 0 && rest[0] != '-') {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n < 0 || n > sigRTMax-sigRTMin {
		return 0, false
	}
	return syscall.Signal(base + sign*n), true
}

// signalName returns "SIGTERM", "SIGRTMIN+2", or "signal 99".
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	switch {
	case sig == sigRTMin:
		return "SIGRTMIN"
	case sig > sigRTMin && sig < sigRTMax:
		return fmt.Sprintf("SIGRTMIN+%d", int(sig)-sigRTMin)
	case sig == sigRTMax:
		return "SIGRTMAX"
	}
	return fmt.Sprintf("signal %d", int(sig))
}
