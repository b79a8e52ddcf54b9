package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// maxReplays bounds how often one connection's first chunk is sent
	// again after a backend reset it.
	maxReplays = 3
	// Dial retry backoff.
	// Dials on loopback are cheap; a service coming back should be found
	// within a few milliseconds of listening.
	minBackoff = 2 * time.Millisecond
	maxBackoff = 10 * time.Millisecond
)

// aLongTimeAgo is a read deadline in the past: setting it makes a blocked
// read return at once.
var aLongTimeAgo = time.Unix(1, 0)

// session is one client connection and the backend connection(s) made for
// it. Two goroutines run it:
//
//   - run connects to a backend, hands the connection to pump over attach,
//     reads the backend's first bytes and then forwards backend→client. It is
//     the only goroutine that sends on attach or closes it, and the one that
//     decides on a replay.
//   - pump reads the client's first chunk, and for every backend received
//     over attach writes that chunk and forwards client→backend, then sends
//     exactly one result on report. It ranges over attach until run closes
//     it, at the backend's first byte (commit) or when run ends.
//
// report has room for one result and run consumes a result before it sends
// another backend, so pump never blocks on it.
type session struct {
	p      *Proxy
	id     uint64
	client *net.TCPConn
	start  time.Time
	ctx    context.Context // ends when the session is aborted
	cancel context.CancelFunc
	attach chan *net.TCPConn
	report chan pumpResult
	left   atomic.Int32 // goroutines still running; the last one cleans up

	// HTTP mode (Options.Recorder); obs is nil in plain mode.
	obs      *observer
	firstFed atomic.Bool // the first chunk was handed to obs (once, whatever the replays)

	mu        sync.Mutex   // guards the fields below
	backend   *net.TCPConn // the current backend connection, nil while connecting
	be        *backend     // what backend was picked from, for release
	first     []byte       // the client's first chunk, until the backend's first byte
	firstAt   time.Time    // when it was read
	committed bool         // the backend sent a byte: no replay any more
	closed    bool         // abort was called
}

// pumpResult is what pump says about one backend connection.
type pumpResult struct {
	// replayable: nothing beyond the kept first chunk was taken from the
	// client, so the chunk can be sent to another backend.
	replayable bool
	err        error
}

func newSession(p *Proxy, c *net.TCPConn, id uint64) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		p:      p,
		id:     id,
		client: c,
		start:  time.Now(),
		ctx:    ctx,
		cancel: cancel,
		attach: make(chan *net.TCPConn, 1),
		report: make(chan pumpResult, 1),
	}
	s.left.Store(2)
	if ref := p.recorder.Load(); ref != nil {
		s.obs = newObserver(ref.r, p.name, id, c.RemoteAddr().String())
	}
	return s
}

// exit is deferred by both goroutines; the last one closes the connections
// and forgets the session.
func (s *session) exit() {
	if s.left.Add(-1) == 0 {
		s.mu.Lock()
		s.closed = true
		b, be := s.backend, s.be
		s.backend, s.be = nil, nil
		s.mu.Unlock()
		s.cancel()
		s.client.Close()
		if b != nil {
			b.Close()
		}
		if be != nil {
			s.p.release(be)
		}
		if s.obs != nil {
			s.obs.finish()
		}
		s.p.remove(s)
	}
	s.p.wg.Done()
}

// abort closes both connections, so that both goroutines return. With
// reset, the client gets a RST rather than a FIN: it must not take what it
// got for a whole reply.
func (s *session) abort(reset bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	b := s.backend
	s.mu.Unlock()
	s.cancel()
	if reset {
		s.client.SetLinger(0)
	}
	s.client.Close()
	if b != nil {
		b.Close()
	}
}

func (s *session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// setBackend makes b the session's backend connection, or reports false
// (and closes b) if the session was aborted meanwhile.
func (s *session) setBackend(b *net.TCPConn, be *backend) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		b.Close()
		s.p.release(be)
		return false
	}
	s.backend, s.be = b, be
	s.mu.Unlock()
	return true
}

// commit records that the backend sent its first byte: the first chunk is
// no longer needed.
func (s *session) commit() {
	s.mu.Lock()
	s.committed = true
	s.first = nil
	s.mu.Unlock()
}

// dropBackend closes the current backend connection, for a replay.
func (s *session) dropBackend() {
	s.mu.Lock()
	b, be := s.backend, s.be
	s.backend, s.be = nil, nil
	s.mu.Unlock()
	if b != nil {
		b.Close()
	}
	if be != nil {
		s.p.release(be)
	}
}

// run connects to a backend and forwards backend→client. See session.
func (s *session) run() {
	defer s.exit()
	attachOpen := true
	closeAttach := func() {
		if attachOpen {
			attachOpen = false
			close(s.attach)
		}
	}
	defer closeAttach()

	for replays := 0; ; replays++ {
		b, be, err := s.connect()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				s.p.holdTimeouts.Add(1)
				s.p.warn.do(func(dropped int) {
					s.p.log.Warn("proxy: no backend ready in time; connection reset",
						keyClient, s.client.RemoteAddr().String(), keyWaited, time.Since(s.start).Round(time.Millisecond).String(), keyErr, err, keyDropped, dropped)
				})
				if !s.answerUnavailable() {
					s.abort(true)
				}
			}
			return
		}
		if !s.setBackend(b, be) {
			return
		}
		if s.obs != nil {
			s.obs.connected(be.addr, time.Now())
		}
		s.attach <- b

		buf, n, err := readFirst(b)
		if n > 0 {
			closeAttach() // commit: no replay from here on
			s.commit()
			if s.obs != nil {
				s.obs.response((*buf)[:n], time.Now()) // before the write: see forwardHTTP
			}
			_, werr := s.client.Write((*buf)[:n])
			bufPool.Put(buf)
			if werr != nil {
				s.abort(true)
				return
			}
			if s.obs != nil {
				_, err = forwardHTTP(s.client, b, s.p.pipes, s.obs, false)
				s.obs.responseEnd(err)
			} else {
				_, err = forward(s.client, b, s.p.pipes)
			}
			s.endBackendToClient(err)
			return
		}
		if s.isClosed() {
			return
		}
		if replays < maxReplays && s.mayReplay(err) && s.replayable() {
			s.p.replays.Add(1)
			s.p.log.Debug("proxy: backend ended the connection before replying; sending the first chunk again",
				keyClient, s.client.RemoteAddr().String(), keyBackend, be.addr, keyAttempt, replays+1, keyErr, err)
			continue
		}
		closeAttach()
		s.endBackendToClient(err)
		return
	}
}

// mayReplay reports whether a backend connection that ended with err before
// sending a byte may be replaced by another, with the same first chunk. A
// reset always may: the backend did not read all that was sent (it never
// accepted the connection, or died with bytes unread), so it did not act on
// it. A clean close may when the client has sent nothing yet (a process
// stopping closes the connections it accepted without reading them: the
// client's preconnected socket must not see that), or when the first chunk
// is an HTTP request with an idempotent method: a server that read a request
// may have acted on it (net/http's Server.Shutdown reads a request and closes
// without answering).
func (s *session) mayReplay(err error) bool {
	if errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	if err == io.EOF {
		s.mu.Lock()
		first := s.first
		s.mu.Unlock()
		return len(first) == 0 || idempotentHTTP(first)
	}
	return false
}

// idempotentHTTP reports whether b starts with an HTTP/1 request line whose
// method is idempotent (RFC 9110, 9.2.2).
func idempotentHTTP(b []byte) bool {
	line, _, ok := bytes.Cut(b, []byte("\r\n"))
	if !ok {
		return false
	}
	method, rest, _ := bytes.Cut(line, []byte(" "))
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
	default:
		return false
	}
	_, proto, ok := bytes.Cut(rest, []byte(" "))
	return ok && bytes.HasPrefix(proto, []byte("HTTP/1."))
}

// replayable drops the current backend connection, takes pump off it and
// reports whether the client's bytes can be sent to another one.
func (s *session) replayable() bool {
	s.dropBackend()
	select {
	case <-s.attach:
		// pump had not taken it: it is still reading the first chunk.
		return true
	default:
	}
	// pump has it: a read deadline in the past gets it out of forward.
	s.client.SetReadDeadline(aLongTimeAgo)
	res := <-s.report
	s.client.SetReadDeadline(time.Time{})
	return res.replayable
}

// endBackendToClient passes the end of the backend→client direction on: a
// FIN as a half-close, anything else as a reset of the whole session.
func (s *session) endBackendToClient(err error) {
	if err == nil || err == io.EOF {
		s.client.CloseWrite()
		return
	}
	s.abort(true)
}

// connect waits for a backend and dials it, retrying refused dials, until
// the hold deadline. The error wraps context.DeadlineExceeded when the
// deadline passed, and context.Canceled when the session was aborted.
func (s *session) connect() (*net.TCPConn, *backend, error) {
	noHold := s.p.hold < 0
	ctx, cancel := s.ctx, context.CancelFunc(func() {})
	if !noHold {
		ctx, cancel = context.WithDeadline(s.ctx, s.start.Add(s.p.hold))
	}
	defer cancel()

	var (
		timer    *time.Timer
		backoff  = minBackoff
		waiting  bool
		lastErr  error
		attempts int
	)
	defer func() {
		if waiting {
			s.p.waiting.Add(-1)
		}
		if timer != nil {
			timer.Stop()
		}
	}()
	wait := func() {
		if !waiting {
			waiting = true
			s.p.waiting.Add(1)
		}
	}
	for {
		be, changed := s.p.pick()
		if be == nil {
			if noHold {
				return nil, nil, s.connectErr(context.DeadlineExceeded, lastErr)
			}
			wait()
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return nil, nil, s.connectErr(context.Cause(ctx), lastErr)
			}
		}
		attempts++
		c, err := s.p.dialer.DialContext(ctx, "tcp", be.addr)
		if err == nil {
			return c.(*net.TCPConn), be, nil
		}
		s.p.release(be)
		if ctx.Err() != nil {
			return nil, nil, s.connectErr(context.Cause(ctx), err)
		}
		if noHold {
			return nil, nil, s.connectErr(context.DeadlineExceeded, err)
		}
		lastErr = err
		s.p.retries.Add(1)
		s.p.log.Debug("proxy: dial failed; retrying", keyBackend, be.addr, keyAttempt, attempts, keyErr, err)
		wait()
		if timer == nil {
			timer = time.NewTimer(backoff)
		} else {
			timer.Reset(backoff)
		}
		select {
		case <-timer.C:
		case <-changed:
			// New backends (or a hold): look again at once.
			timer.Stop()
		case <-ctx.Done():
			return nil, nil, s.connectErr(context.Cause(ctx), lastErr)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// connectErr says why connect gave up: err is context.DeadlineExceeded or
// context.Canceled, last the last dial error or nil.
func (s *session) connectErr(err, last error) error {
	if last != nil {
		return &holdError{err: err, last: last}
	}
	return err
}

// holdError is a connect failure after at least one dial failed.
type holdError struct {
	err  error // context.DeadlineExceeded or context.Canceled
	last error // the last dial error
}

func (e *holdError) Error() string   { return e.err.Error() + "; last dial: " + cause(e.last).Error() }
func (e *holdError) Unwrap() []error { return []error{e.err, e.last} }

// pump reads the client's first chunk and forwards client→backend for each
// backend run attaches. See session.
func (s *session) pump() {
	defer s.exit()
	first, eof, err := s.readClientFirst()
	if err != nil {
		s.abort(true)
		return
	}
	s.mu.Lock()
	s.firstAt = time.Now()
	if !s.committed {
		s.first = first
	}
	gone := eof && len(first) == 0 && s.backend == nil
	s.mu.Unlock()
	if gone {
		// The client closed while waiting for a backend, having sent
		// nothing: it gave up.
		s.abort(false)
		return
	}
	for b := range s.attach {
		res := s.pumpTo(b, first, &eof)
		s.report <- res
		if res.err != nil && !res.replayable {
			s.abort(true)
		}
	}
}

// readClientFirst reads the client's first chunk into a slice of its own.
// eof reports that the client closed its side.
func (s *session) readClientFirst() (first []byte, eof bool, err error) {
	buf, n, err := readFirst(s.client)
	if n > 0 {
		first = make([]byte, n)
		copy(first, (*buf)[:n])
		bufPool.Put(buf)
	}
	if err == io.EOF {
		return first, true, nil
	}
	return first, false, err
}

// pumpTo forwards client→backend b: the kept first chunk, then forward
// until the client's EOF. *eof is set once the client's EOF was seen with
// nothing after the first chunk.
func (s *session) pumpTo(b *net.TCPConn, first []byte, eof *bool) pumpResult {
	if len(first) > 0 {
		s.feedFirst(first) // before the write: see forwardHTTP
		if _, err := b.Write(first); err != nil {
			return pumpResult{replayable: true, err: err}
		}
	}
	if *eof {
		b.CloseWrite()
		if s.obs != nil {
			s.obs.requestEnd(nil)
		}
		return pumpResult{replayable: true}
	}
	var n int64
	var err error
	if s.obs != nil {
		n, err = forwardHTTP(b, s.client, s.p.pipes, s.obs, true)
		if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			s.obs.requestEnd(err)
		}
	} else {
		n, err = forward(b, s.client, s.p.pipes)
	}
	switch {
	case err == nil:
		b.CloseWrite()
		*eof = n == 0
		return pumpResult{replayable: n == 0}
	case n == 0 && errors.Is(err, os.ErrDeadlineExceeded):
		// run set the deadline to take us off b; nothing was read past the
		// first chunk.
		return pumpResult{replayable: true, err: err}
	default:
		return pumpResult{err: err}
	}
}

// feedFirst hands the client's first chunk to the HTTP mode, once.
func (s *session) feedFirst(first []byte) {
	if s.obs == nil || !s.firstFed.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	at := s.firstAt
	s.mu.Unlock()
	s.obs.request(first, at)
}

// answerUnavailable answers a connection in HTTP mode that waited in vain
// for a backend with a 503 that says why, when the client sent a whole
// request head; it reports whether it did (else the caller resets).
func (s *session) answerUnavailable() bool {
	if s.obs == nil {
		return false
	}
	s.mu.Lock()
	first := s.first
	s.mu.Unlock()
	if headEnd(first, 0) < 0 {
		return false
	}
	waited := time.Since(s.start).Round(time.Millisecond)
	body := "berth: service \"" + s.p.name + "\" did not accept connections within " + waited.String() +
		"; is it running and listening on its port? See: berth ps, berth logs " + s.p.name + "\n"
	resp := []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	s.feedFirst(first)
	s.obs.response(resp, time.Now())
	if _, err := s.client.Write(resp); err != nil {
		return false
	}
	s.client.CloseWrite()
	return true
}
