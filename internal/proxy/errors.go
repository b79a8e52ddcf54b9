package proxy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// ListenError says that a proxy could not bind its host port. Err is the
// error from net.Listen: errors.Is(err, syscall.EADDRINUSE) tells a port that
// is already taken.
type ListenError struct {
	Service string // the service the port is published for
	Addr    string // Options.Listen, as given
	Port    int    // 0 when Addr has no numeric port
	Err     error
}

func (e *ListenError) Error() string {
	what := "proxy"
	if e.Service != "" {
		what = fmt.Sprintf("proxy for service %q", e.Service)
	}
	if errors.Is(e.Err, syscall.EADDRINUSE) && e.Port != 0 {
		return fmt.Sprintf("%s: listen on %s: port %d is already in use", what, e.Addr, e.Port)
	}
	return fmt.Sprintf("%s: listen on %s: %v", what, e.Addr, cause(e.Err))
}

func (e *ListenError) Unwrap() error { return e.Err }

// cause strips the layers of a net error that repeat what the message
// already says ("listen tcp 127.0.0.1:80: bind: permission denied" becomes
// "permission denied").
func cause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) && sys.Err != nil {
		err = sys.Err
	}
	return err
}
