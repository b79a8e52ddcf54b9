package proxy

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	// pipeSize is what a pipe is asked to hold (F_SETPIPE_SZ): the most
	// one splice moves. 1 MiB, as Go's own splice asks; a refusal (see
	// pipe-max-size and pipe-user-pages-hard in proc(5)) leaves the pipe as
	// it was made, 64 KiB by default.
	pipeSize = 1 << 20
	// pipesKept is how many idle pipes a pipePool keeps for reuse.
	pipesKept = 32
)

// pipe is a kernel pipe that splice moves bytes through. It is empty
// whenever it is in a pipePool.
type pipe struct {
	r, w int
}

// pipePool lends pipes to forward while it splices, so that only transfers
// in progress hold one. Its methods are safe for concurrent use.
type pipePool struct {
	free chan *pipe   // idle pipes
	lent atomic.Int64 // pipes taken and not yet put back
}

func newPipePool() *pipePool {
	return &pipePool{free: make(chan *pipe, pipesKept)}
}

func (pp *pipePool) get() (*pipe, error) {
	select {
	case p := <-pp.free:
		pp.lent.Add(1)
		return p, nil
	default:
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeSize)
	pp.lent.Add(1)
	return &pipe{r: fds[0], w: fds[1]}, nil
}

// put takes back an empty pipe; dirty ones (bytes left in them after an
// error) are closed.
func (pp *pipePool) put(p *pipe, dirty bool) {
	pp.lent.Add(-1)
	if !dirty {
		select {
		case pp.free <- p:
			return
		default:
		}
	}
	p.close()
}

func (p *pipe) close() {
	unix.Close(p.r)
	unix.Close(p.w)
}

// close closes the idle pipes. It is called once nothing uses the pool any
// more: Proxy.Close calls it after every session has ended.
func (pp *pipePool) close() {
	for {
		select {
		case p := <-pp.free:
			p.close()
		default:
			return
		}
	}
}

// splicePending moves what src has to give to dst with splice(2), through a
// pipe, without copying it to user space: at most limit bytes (no limit if
// limit < 0). With wait, it first waits until src is readable. It returns
// when src has nothing more for now (with the bytes written), at the limit,
// at src's EOF (eof), or on an error. It waits for dst to take the bytes.
func (pp *pipePool) splicePending(dst, src *net.TCPConn, wait bool, limit int64) (written int64, eof bool, err error) {
	srcRC, err := src.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	dstRC, err := dst.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	// The pipe is taken once src has bytes, so that waiting holds none.
	var p *pipe
	inPipe := 0
	defer func() {
		if p != nil {
			pp.put(p, inPipe > 0)
		}
	}()
	for limit < 0 || written < limit {
		var in int
		var serr error
		n := pipeSize
		if limit >= 0 {
			n = int(min(int64(n), limit-written))
		}
		err := srcRC.Read(func(fd uintptr) bool {
			if p == nil {
				if p, serr = pp.get(); serr != nil {
					return true
				}
			}
			in, serr = spliceOnce(int(fd), p.w, n)
			if serr == syscall.EAGAIN && wait {
				// Wait for src, before the first bytes only, and
				// without the pipe.
				pp.put(p, false)
				p = nil
				return false
			}
			return true
		})
		wait = false
		if err != nil {
			return written, false, err
		}
		if serr == syscall.EAGAIN {
			return written, false, nil
		}
		if serr != nil {
			var sys *os.SyscallError
			if errors.As(serr, &sys) {
				return written, false, serr
			}
			return written, false, os.NewSyscallError("splice", serr)
		}
		if in == 0 {
			return written, true, nil
		}
		inPipe = in
		for inPipe > 0 {
			var out int
			err := dstRC.Write(func(fd uintptr) bool {
				out, serr = spliceOnce(p.r, int(fd), inPipe)
				return serr != syscall.EAGAIN // wait until dst can take more
			})
			if err != nil {
				return written, false, err
			}
			if serr != nil {
				return written, false, os.NewSyscallError("splice", serr)
			}
			inPipe -= out
			written += int64(out)
		}
	}
	return written, false, nil
}

// spliceOnce is one splice(2) of up to n bytes, retried on EINTR.
func spliceOnce(from, to, n int) (int, error) {
	for {
		m, err := unix.Splice(from, nil, to, nil, n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		if err != unix.EINTR {
			return int(m), err
		}
	}
}

// counts returns the pipes lent out and those kept idle, for tests.
func (pp *pipePool) counts() (lent, idle int) {
	return int(pp.lent.Load()), len(pp.free)
}
