package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultHoldTimeout is how long a new connection waits for a backend when
// Options.HoldTimeout is zero.
const DefaultHoldTimeout = 30 * time.Second

// Options configures a Proxy.
type Options struct {
	// Listen is the host address to own: "127.0.0.1:8080", ":8080".
	Listen string
	// Name is the service's name, for errors and logs.
	Name string
	// HoldTimeout is how long a new connection may wait for a backend
	// (none set, Hold, or dials refused) before it is reset. Zero means
	// DefaultHoldTimeout; a negative value means no waiting at all: with no
	// backend ready a connection is reset at once, and a refused dial is
	// not retried.
	HoldTimeout time.Duration
	// Logger receives the proxy's messages; nil discards them.
	Logger *slog.Logger
	// Recorder, when set, turns on the HTTP mode: every HTTP/1.x exchange
	// is parsed as it passes and reported to it (see Recorder).
	Recorder Recorder
}

// Proxy owns one host port and forwards its connections to a service's
// replicas. Its methods are safe for concurrent use.
type Proxy struct {
	ln     *net.TCPListener
	name   string
	hold   time.Duration
	log    *slog.Logger
	warn   limiter       // rate-limits the per-connection warnings
	dialer net.Dialer    // read-only after Listen
	pipes  *pipePool     // nil where there is no splice(2)
	done   chan struct{} // closed by shutdown
	wg     sync.WaitGroup

	shutOnce sync.Once

	mu       sync.Mutex        // guards the fields below
	backends []*backend        // where new connections go; empty: they wait
	next     int               // where the least-conn scan starts (round-robin among ties)
	held     bool              // Hold was called and SetBackends not since
	changed  chan struct{}     // closed, and replaced, when backends or held change
	sessions map[*session]bool // live client connections
	closed   bool              // shutdown began: no new sessions, no wg.Add
	serving  bool              // Serve was called
	connID   uint64            // last connection id given out

	// Counters for Stats; atomics, not guarded by mu.
	accepted     atomic.Uint64
	waiting      atomic.Int64
	holdTimeouts atomic.Uint64
	retries      atomic.Uint64
	replays      atomic.Uint64

	recorder atomic.Pointer[recorderRef] // nil: plain mode; read once per connection
}

// recorderRef boxes a Recorder for an atomic pointer.
type recorderRef struct{ r Recorder }

// backend is one replica's address and its open connections.
type backend struct {
	addr   string
	active int // sessions connected or dialing; guarded by Proxy.mu
}

// Stats is a snapshot of a Proxy's connections.
type Stats struct {
	Active       int    // client connections open now, waiting or forwarding
	Waiting      int    // of those, how many wait for a backend
	Accepted     uint64 // client connections accepted since Listen
	HoldTimeouts uint64 // connections reset because no backend came in time
	Retries      uint64 // failed dials that were retried
	Replays      uint64 // first chunks sent again after a backend reset
}

// Listen binds opts.Listen and returns a Proxy that holds every connection
// until SetBackends gives it somewhere to send them. It fails with a
// *ListenError when the port cannot be bound. Call Serve to accept
// connections, and Close to release the port.
func Listen(opts Options) (*Proxy, error) {
	if opts.Listen == "" {
		return nil, &ListenError{Service: opts.Name, Err: errors.New("no address to listen on")}
	}
	port := 0
	if _, ps, err := net.SplitHostPort(opts.Listen); err == nil {
		port, _ = strconv.Atoi(ps)
	}
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, &ListenError{Service: opts.Name, Addr: opts.Listen, Port: port, Err: err}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if port == 0 {
		port = l.Addr().(*net.TCPAddr).Port
	}
	log = log.With(keyService, opts.Name, keyPort, port)
	hold := opts.HoldTimeout
	if hold == 0 {
		hold = DefaultHoldTimeout
	}
	p := &Proxy{
		ln:       l.(*net.TCPListener),
		name:     opts.Name,
		hold:     hold,
		log:      log,
		warn:     limiter{every: time.Second},
		done:     make(chan struct{}),
		changed:  make(chan struct{}),
		sessions: make(map[*session]bool),
		pipes:    newPipePool(),
	}
	p.SetRecorder(opts.Recorder)
	log.Debug("proxy listening", keyAddr, p.ln.Addr().String())
	return p, nil
}

// SetRecorder turns the HTTP mode on (r not nil) or off (nil) for the
// connections accepted from now on; open ones keep the mode they began in.
func (p *Proxy) SetRecorder(r Recorder) {
	if r == nil {
		p.recorder.Store(nil)
		return
	}
	p.recorder.Store(&recorderRef{r})
}

// Addr returns the address the proxy listens on.
func (p *Proxy) Addr() net.Addr { return p.ln.Addr() }

// SetBackends sets the replicas' addresses ("127.0.0.1:8000") that new
// connections go to, and ends a Hold. Connections waiting for a backend
// proceed at once. An empty list holds new connections. Connections already
// forwarded stay with their backend.
func (p *Proxy) SetBackends(addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := make(map[string]*backend, len(p.backends))
	for _, b := range p.backends {
		old[b.addr] = b
	}
	seen := make(map[string]bool, len(addrs))
	bs := make([]*backend, 0, len(addrs))
	for _, a := range addrs {
		if seen[a] {
			continue
		}
		seen[a] = true
		b := old[a]
		if b == nil {
			b = &backend{addr: a}
		}
		bs = append(bs, b)
	}
	p.backends = bs
	p.next = 0
	p.held = false
	p.notifyLocked()
	p.log.Debug("proxy backends", keyBackends, addrs)
}

// Hold makes new connections wait (queued, not refused) until the next
// SetBackends, for a service that is restarting. Connections already
// forwarded are not touched.
func (p *Proxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.held {
		p.held = true
		p.notifyLocked()
		p.log.Debug("proxy holding new connections")
	}
}

// notifyLocked wakes every connection waiting for a change. p.mu must be held.
func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Stats returns a snapshot of the proxy's connections.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	active := len(p.sessions)
	p.mu.Unlock()
	return Stats{
		Active:       active,
		Waiting:      int(p.waiting.Load()),
		Accepted:     p.accepted.Load(),
		HoldTimeouts: p.holdTimeouts.Load(),
		Retries:      p.retries.Load(),
		Replays:      p.replays.Load(),
	}
}

// Serve accepts connections until ctx ends or Close is called, then closes
// the proxy (listener and live connections) and returns once every goroutine
// it started has ended. It returns nil when stopped that way, and an error
// when accepting failed for good (the proxy is closed then too). Serve may
// be called once.
func (p *Proxy) Serve(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	if p.serving {
		p.mu.Unlock()
		return fmt.Errorf("proxy for service %q: Serve called twice", p.name)
	}
	p.serving = true
	p.wg.Add(1)
	p.mu.Unlock()

	go func() {
		defer p.wg.Done()
		select {
		case <-ctx.Done():
			p.shutdown()
		case <-p.done:
		}
	}()
	err := p.accept()
	p.Close()
	return err
}

// accept runs the accept loop. It returns nil once the proxy is shut down.
func (p *Proxy) accept() error {
	var delay time.Duration
	var timer *time.Timer
	for {
		c, err := p.ln.AcceptTCP()
		if err != nil {
			select {
			case <-p.done:
				return nil
			default:
			}
			if !temporary(err) {
				return fmt.Errorf("proxy for service %q: accept on %s: %w", p.name, p.ln.Addr(), err)
			}
			// Out of file descriptors or the like: back off as net/http
			// does, rather than spin.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else {
				delay = min(2*delay, time.Second)
			}
			p.warn.do(func(dropped int) {
				p.log.Warn("proxy accept failed; retrying", keyErr, err, keyDropped, dropped)
			})
			if timer == nil {
				timer = time.NewTimer(delay)
			} else {
				timer.Reset(delay)
			}
			select {
			case <-timer.C:
			case <-p.done:
				timer.Stop()
				return nil
			}
			continue
		}
		delay = 0
		p.accepted.Add(1)
		p.start(c)
	}
}

// temporary reports whether an accept error may go away by itself.
func temporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// start registers a session for c and starts its two goroutines.
func (p *Proxy) start(c *net.TCPConn) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.connID++
	s := newSession(p, c, p.connID)
	p.sessions[s] = true
	p.wg.Add(2)
	p.mu.Unlock()
	go s.run()
	go s.pump()
}

// shutdown stops accepting and closes every live connection, without
// waiting. It is idempotent.
func (p *Proxy) shutdown() {
	p.shutOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		sessions := make([]*session, 0, len(p.sessions))
		for s := range p.sessions {
			sessions = append(sessions, s)
		}
		p.mu.Unlock()
		close(p.done)
		p.ln.Close()
		for _, s := range sessions {
			s.abort(false)
		}
	})
}

// Close stops accepting, closes every live connection (held ones too) and
// waits for the proxy's goroutines to end. It is idempotent, and returns nil.
func (p *Proxy) Close() error {
	p.shutdown()
	p.wg.Wait()
	p.pipes.close()
	return nil
}

// pick returns a backend for a new connection and counts the connection
// against it, or returns nil and the channel that is closed at the next
// change of backends.
func (p *Proxy) pick() (*backend, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.backends)
	if p.held || n == 0 {
		return nil, p.changed
	}
	best := p.next % n
	for i := 1; i < n; i++ {
		j := (p.next + i) % n
		if p.backends[j].active < p.backends[best].active {
			best = j
		}
	}
	p.next = best + 1
	b := p.backends[best]
	b.active++
	return b, p.changed
}

// release uncounts a connection picked for b.
func (p *Proxy) release(b *backend) {
	p.mu.Lock()
	b.active--
	p.mu.Unlock()
}

// remove forgets a session whose goroutines are ending.
func (p *Proxy) remove(s *session) {
	p.mu.Lock()
	delete(p.sessions, s)
	p.mu.Unlock()
}

// limiter lets one call through per interval and counts the others, for
// messages that can repeat once per connection.
type limiter struct {
	every time.Duration

	mu      sync.Mutex // guards the fields below
	last    time.Time
	dropped int
}

// do calls f, with the number of calls dropped since the last one, unless
// the last call was less than l.every ago.
func (l *limiter) do(f func(dropped int)) {
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.dropped++
		l.mu.Unlock()
		return
	}
	l.last = now
	dropped := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	f(dropped)
}
