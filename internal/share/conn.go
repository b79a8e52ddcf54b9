package share

import (
	"io"
	"net"
	"sync"
)

// pipeListener hands out the connections of an SSH forward listener through
// an in-memory net.Pipe, so that they support deadlines. The SSH library's
// connections do not (SetReadDeadline fails), and net/http depends on them:
// to hijack a connection for a protocol upgrade (WebSocket) it interrupts
// its own pending read with a deadline, and without one it would wait for
// the visitor's next bytes, which never come before the 101 answer. The
// read-header and idle timeouts also need them.
type pipeListener struct {
	net.Listener
	// copiers counts the goroutines copying between the two sides; they
	// end when either side is closed.
	copiers *sync.WaitGroup
}

// Accept returns the next visitor's connection.
func (l *pipeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	inner, outer := net.Pipe()
	l.copiers.Add(2)
	go func() {
		defer l.copiers.Done()
		_, _ = io.Copy(outer, c)
		// The visitor is gone (or the link): the server sees EOF.
		outer.Close()
	}()
	go func() {
		defer l.copiers.Done()
		_, _ = io.Copy(c, outer)
		// The server closed (or hijacked and closed) its side.
		c.Close()
		outer.Close()
	}()
	return &addrConn{Conn: inner, local: c.LocalAddr(), remote: c.RemoteAddr()}, nil
}

// addrConn reports the addresses of the SSH connection it stands for (the
// visitor's address, for X-Forwarded-For), not the pipe's.
type addrConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *addrConn) LocalAddr() net.Addr  { return c.local }
func (c *addrConn) RemoteAddr() net.Addr { return c.remote }
