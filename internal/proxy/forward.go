package proxy

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

const (
	// firstChunk is the most of a connection's first bytes that are read
	// through a buffer (and kept for a replay) instead of spliced.
	firstChunk = 64 << 10
	// copyMax is the most forward copies through user space per wake-up.
	// A read that fills it means more is waiting: the rest is spliced.
	copyMax = 16 << 10
)

// bufPool holds the read buffers, firstChunk bytes each.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, firstChunk)
	return &b
}}

// forward copies src to dst until src's EOF (returning nil) or an error,
// and returns the bytes written to dst.
//
// It adapts to what passes. While messages are small (requests, short
// responses), each time src is readable forward reads once, up to copyMax
// bytes, into a pooled buffer taken only then, and writes them: one read and
// one write, the cheapest way through. A read that fills copyMax means a
// bulk transfer: forward then splices (pipes, see splicePending) what src
// has, and keeps splicing at each wake-up while a wake-up brings at least
// copyMax bytes, so the bulk of a large body never enters user space. An
// idle connection holds neither a buffer nor a pipe.
//
// A read deadline on src ends forward with os.ErrDeadlineExceeded, which is
// how run takes pump off a backend; it is seen only while waiting for src,
// so bytes read are never dropped for it.
func forward(dst, src *net.TCPConn, pipes *pipePool) (int64, error) {
	r, err := newReader(src)
	if err != nil {
		return 0, err
	}
	var written int64
	bulk := false
	for {
		wait := true
		if !bulk {
			buf, n, err := r.read(copyMax)
			if n > 0 {
				m, werr := dst.Write((*buf)[:n])
				bufPool.Put(buf)
				written += int64(m)
				if werr != nil {
					return written, werr
				}
			}
			if err == io.EOF {
				return written, nil
			}
			if err != nil {
				return written, err
			}
			if n < copyMax || pipes == nil {
				continue
			}
			// A full read: more is waiting. Splice it without waiting,
			// and splice at the next wake-up too.
			wait, bulk = false, true
		}
		m, eof, err := pipes.splicePending(dst, src, wait, -1)
		written += m
		if err != nil || eof {
			return written, err
		}
		if wait {
			bulk = m >= copyMax
		}
	}
}

// forwardHTTP is forward for a connection in HTTP mode, one way (request:
// client to backend). Every read is copied through user space and handed to
// the observer, with the time it was read, before it is written on. So the
// Recorder hears of bytes in the order in which they happened: a request
// before its response can come back, a WebSocket message before the answer
// it causes. The rest of a body the Recorder wants no more of is spliced
// (observer.blind). Once the observer stops parsing, the rest goes through
// forward.
func forwardHTTP(dst, src *net.TCPConn, pipes *pipePool, obs *observer, request bool) (int64, error) {
	feed := obs.response
	if request {
		feed = obs.request
	}
	r, err := newReader(src)
	if err != nil {
		return 0, err
	}
	var written int64
	for {
		blind, passive := obs.blind(request)
		if passive {
			break
		}
		if blind != 0 && pipes != nil {
			m, eof, err := pipes.splicePending(dst, src, true, blind)
			written += m
			obs.passedBlind(request, m, time.Now())
			if err != nil || eof {
				return written, err
			}
			continue
		}
		buf, n, err := r.read(firstChunk)
		if n > 0 {
			feed((*buf)[:n], time.Now())
			m, werr := dst.Write((*buf)[:n])
			written += int64(m)
			bufPool.Put(buf)
			if werr != nil {
				return written, werr
			}
		}
		if err == io.EOF {
			return written, nil
		}
		if err != nil {
			return written, err
		}
	}
	n, err := forward(dst, src, pipes)
	return written + n, err
}

// readFirst reads the first bytes of a connection, up to firstChunk, as
// reader.read does.
func readFirst(c *net.TCPConn) (buf *[]byte, n int, err error) {
	r, err := newReader(c)
	if err != nil {
		return nil, 0, err
	}
	return r.read(firstChunk)
}

// reader reads a connection through its syscall.RawConn. Its fields carry
// one read's arguments and results to and from readFD, bound once to fn so
// that a read allocates nothing.
type reader struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // r.readFD
	max int
	buf *[]byte
	n   int
	err error
}

func newReader(c *net.TCPConn) (*reader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &reader{rc: rc}
	r.fn = r.readFD
	return r, nil
}

// read waits until the connection is readable, then reads once, up to max
// bytes, into a pooled buffer, which the caller must put back when n > 0.
// Taking the buffer only once there are bytes to read means an idle
// connection holds none. It returns io.EOF for a closed side.
func (r *reader) read(max int) (buf *[]byte, n int, err error) {
	r.max, r.buf, r.n, r.err = max, nil, 0, nil
	err = r.rc.Read(r.fn)
	buf, n = r.buf, r.n
	r.buf = nil
	if err == nil && r.err != nil {
		err = os.NewSyscallError("read", r.err)
	}
	if n <= 0 {
		if buf != nil {
			bufPool.Put(buf)
		}
		buf, n = nil, 0
		if err == nil {
			err = io.EOF
		}
	}
	return buf, n, err
}

func (r *reader) readFD(fd uintptr) bool {
	r.buf = bufPool.Get().(*[]byte)
	for {
		r.n, r.err = syscall.Read(int(fd), (*r.buf)[:r.max])
		if r.err != syscall.EINTR {
			break
		}
	}
	if r.err == syscall.EAGAIN {
		bufPool.Put(r.buf)
		r.buf, r.n, r.err = nil, 0, nil
		return false // wait until readable
	}
	return true
}
