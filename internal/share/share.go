package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Defaults of the Options durations.
const (
	DefaultMinBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
	DefaultKeepAlive     = 15 * time.Second
	DefaultDialTimeout   = 15 * time.Second
	DefaultShutdownGrace = 2 * time.Second
)

// Options configure a Sharer. Target and Via are required.
type Options struct {
	// Service names the shared service in messages.
	Service string
	// Target is the host:port visitors' requests go to: the service's
	// published port, on loopback.
	Target string
	// Via is the SSH server: user@host[:port] (see ParseVia).
	Via string
	// RemotePort is the port the server listens on for visitors. 0 lets
	// the server pick one; that port is then asked for again on every
	// reconnection, so the public address stays the same.
	RemotePort int
	// Bind is the address the server listens on: an IP, or "" / "*" for
	// every interface (0.0.0.0). OpenSSH honours it only with
	// `GatewayPorts clientspecified` (or yes) in its sshd_config; otherwise
	// it listens on its loopback only.
	Bind string

	// Auth, AllowDebug and DebugPaths configure the gate (see
	// HandlerOptions).
	Auth       *Credentials
	AllowDebug bool
	DebugPaths []string

	// Identity is a private key file to log in with. When empty, the
	// existing ones of Home/.ssh/id_ed25519, id_ecdsa and id_rsa are used.
	Identity string
	// AgentSocket is the SSH agent's socket ($SSH_AUTH_SOCK); its keys are
	// tried after the files. Empty: no agent.
	AgentSocket string
	// KnownHosts is the known_hosts file the server's key is checked
	// against. Empty: Home/.ssh/known_hosts.
	KnownHosts string
	// Home is the home folder for the defaults above. Empty: the user's.
	Home string

	// MinBackoff and MaxBackoff bound the wait between reconnections: it
	// starts at MinBackoff and doubles up to MaxBackoff. It starts again
	// from MinBackoff once a link has stayed up for MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// KeepAlive is how often the link is checked with a keepalive request;
	// a link that does not answer within the same time is taken as lost.
	KeepAlive time.Duration
	// DialTimeout bounds connecting, logging in and asking for the port.
	DialTimeout time.Duration
	// ShutdownGrace is how long requests in flight may finish when Run's
	// ctx ends.
	ShutdownGrace time.Duration

	// Notify, when set, is told of every change of the link, from Run's
	// goroutine, one call at a time. It must not block for long.
	Notify func(Event)
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
}

// EventKind says what changed.
type EventKind int

const (
	// Sharing: the first link is up; URL is the public address.
	Sharing EventKind = iota + 1
	// LinkLost: the link dropped, or a reconnection failed (Err says why);
	// the next attempt is in Retry.
	LinkLost
	// LinkBack: a reconnection succeeded; URL is the public address.
	LinkBack
)

// Event is a change of a Sharer's link.
type Event struct {
	Kind EventKind
	// URL is the public address (Sharing, LinkBack).
	URL string
	// Err is why the link is down (LinkLost).
	Err error
	// Retry is the wait before the next attempt (LinkLost).
	Retry time.Duration
	// Attempt counts the reconnection attempts since the link dropped,
	// from 1 (LinkLost).
	Attempt int
}

// Sharer keeps one service shared through one SSH server.
type Sharer struct {
	opts       Options
	via        Via
	bind       net.IP
	knownHosts string
	handler    *Handler
	log        *slog.Logger
	// port is the remote port, fixed by the first link. Only Run's
	// goroutine touches it.
	port int
}

// New checks o and returns a Sharer. Nothing is dialled until Run.
func New(o Options) (*Sharer, error) {
	via, err := ParseVia(o.Via)
	if err != nil {
		return nil, err
	}
	if o.RemotePort < 0 || o.RemotePort > 65535 {
		return nil, fmt.Errorf("remote port %d: want 0 (the server picks) to 65535", o.RemotePort)
	}
	bind, err := parseBind(o.Bind)
	if err != nil {
		return nil, err
	}
	if o.Home == "" {
		o.Home, _ = os.UserHomeDir()
	}
	kh := o.KnownHosts
	if kh == "" {
		if o.Home == "" {
			return nil, errors.New("no known_hosts file: the home folder is unknown; pass --known-hosts FILE")
		}
		kh = filepath.Join(o.Home, ".ssh", "known_hosts")
	}
	defaults(&o.MinBackoff, DefaultMinBackoff)
	defaults(&o.MaxBackoff, DefaultMaxBackoff)
	defaults(&o.KeepAlive, DefaultKeepAlive)
	defaults(&o.DialTimeout, DefaultDialTimeout)
	defaults(&o.ShutdownGrace, DefaultShutdownGrace)
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(keyService, o.Service)
	h, err := NewHandler(HandlerOptions{
		Service:    o.Service,
		Target:     o.Target,
		Auth:       o.Auth,
		AllowDebug: o.AllowDebug,
		DebugPaths: o.DebugPaths,
		Logger:     o.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &Sharer{opts: o, via: via, bind: bind, knownHosts: kh, handler: h, log: log, port: o.RemotePort}, nil
}

func defaults(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// parseBind turns --bind into the IP to ask the server for.
func parseBind(s string) (net.IP, error) {
	switch s {
	case "", "*":
		return net.IPv4zero, nil
	case "localhost":
		return net.IPv4(127, 0, 0, 1), nil
	}
	ip := net.ParseIP(strings.Trim(s, "[]"))
	if ip == nil {
		return nil, fmt.Errorf("bind address %q: want an IP address (0.0.0.0, 127.0.0.1, ::)", s)
	}
	return ip, nil
}

// url is the public address of the share on port.
func (s *Sharer) url(port int) string {
	host := s.via.Host
	if !s.bind.IsUnspecified() {
		host = s.bind.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

func (s *Sharer) notify(e Event) {
	if s.opts.Notify != nil {
		s.opts.Notify(e)
	}
}

// Run connects, publishes the port and serves visitors until ctx ends,
// reconnecting when the link drops. It returns nil when ctx ends; an error
// when the first connection fails (nothing is retried then: the address,
// the keys or the server's configuration need fixing), or when the
// server's host key stops matching on a reconnection. Run returns only
// after every goroutine it started has ended.
func (s *Sharer) Run(ctx context.Context) error {
	defer s.handler.Close()
	lk, err := s.connect(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.notify(Event{Kind: Sharing, URL: s.url(s.port)})
	backoff := s.opts.MinBackoff
	for {
		up := time.Now()
		err := s.serve(ctx, lk)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(up) >= s.opts.MaxBackoff {
			backoff = s.opts.MinBackoff
		}
		for attempt := 1; ; attempt++ {
			s.log.Info("link lost", keyAttempt, attempt, keyErr, err)
			s.notify(Event{Kind: LinkLost, Err: err, Retry: backoff, Attempt: attempt})
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = nextBackoff(backoff, s.opts.MaxBackoff)
			lk, err = s.connect(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			var herr *HostKeyError
			if errors.As(err, &herr) {
				return err
			}
		}
		s.log.Info("link back")
		s.notify(Event{Kind: LinkBack, URL: s.url(s.port)})
	}
}

// nextBackoff doubles d, up to max.
func nextBackoff(d, max time.Duration) time.Duration {
	d *= 2
	if d > max || d <= 0 {
		return max
	}
	return d
}

// sleep waits d, or until ctx ends; it reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// link is one SSH connection and the remote listener it asked for.
type link struct {
	client *ssh.Client
	ln     net.Listener
}

// connect dials the server and asks it to listen on the share's port.
func (s *Sharer) connect(ctx context.Context) (*link, error) {
	hk, err := loadHostKeys(s.knownHosts)
	if err != nil {
		return nil, err
	}
	c, err := dialSSH(ctx, s.via, &s.opts, hk, s.opts.DialTimeout)
	if err != nil {
		return nil, err
	}
	// The server answers the forward request, or the connection is closed.
	stopCtx := context.AfterFunc(ctx, func() { c.Close() })
	timer := time.AfterFunc(s.opts.DialTimeout, func() { c.Close() })
	ln, err := c.ListenTCP(&net.TCPAddr{IP: s.bind, Port: s.port})
	timer.Stop()
	stopCtx()
	if err != nil {
		c.Close()
		_ = c.Wait()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		where := net.JoinHostPort(s.bind.String(), strconv.Itoa(s.port))
		return nil, fmt.Errorf("ask %s to listen on %s: %w\nhint: the port may be taken on the server, or its sshd_config forbids forwarding (AllowTcpForwarding); try another --remote-port", s.via.Addr(), where, err)
	}
	if s.port == 0 {
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			s.port = a.Port
		}
	}
	s.log.Debug("link up", keyAddr, s.via.Addr())
	return &link{client: c, ln: ln}, nil
}

// serve serves visitors on lk until the link drops (it returns why) or ctx
// ends (it shuts down, letting requests in flight finish within
// ShutdownGrace, and returns nil). Every goroutine it starts has ended when
// it returns.
func (s *Sharer) serve(ctx context.Context, lk *link) error {
	// Requests are cancelled when the link ends, not as soon as ctx does:
	// a stop lets them finish within the grace period.
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()
	// active counts connections (from StateNew, counted in Serve's own
	// goroutine before it can return, until StateClosed or
	// StateHijacked) and handlers (a hijacked connection's handler still
	// runs), so that it never drops to zero while either is alive.
	var active sync.WaitGroup
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			active.Add(1)
			defer active.Done()
			s.handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				active.Add(1)
			case http.StateClosed, http.StateHijacked:
				active.Done()
			}
		},
	}
	var copiers sync.WaitGroup
	served := make(chan error, 1)
	go func() { served <- srv.Serve(&pipeListener{Listener: lk.ln, copiers: &copiers}) }()

	// The keepalive loop closes the client when the server stops
	// answering; kaErr is read after kaDone is closed and ka has ended.
	var ka sync.WaitGroup
	var kaErr error
	kaDone := make(chan struct{})
	ka.Add(1)
	go func() {
		defer ka.Done()
		kaErr = s.keepAlive(kaDone, lk.client)
	}()

	var lost error
	select {
	case <-ctx.Done():
		// Stop listening on the server (cancel-tcpip-forward), let requests
		// in flight finish. A link that hangs is closed after the grace.
		grace, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
		t := time.AfterFunc(s.opts.ShutdownGrace, func() { lk.client.Close() })
		_ = srv.Shutdown(grace)
		t.Stop()
		cancel()
		<-served
	case lost = <-served:
	}
	cancelReqs()
	_ = srv.Close()
	close(kaDone)
	lk.client.Close()
	werr := lk.client.Wait()
	ka.Wait()
	active.Wait()
	copiers.Wait()
	if ctx.Err() != nil {
		return nil
	}
	switch {
	case kaErr != nil:
		return kaErr
	case werr != nil && !errors.Is(werr, io.EOF):
		return werr
	case lost != nil && !errors.Is(lost, io.EOF):
		return lost
	}
	return errors.New("the server closed the connection")
}

// keepAlive sends a keepalive request every KeepAlive until stop is
// closed or the client is closed. A request without an answer within
// KeepAlive closes the client; the error says so.
func (s *Sharer) keepAlive(stop <-chan struct{}, c *ssh.Client) error {
	tick := time.NewTicker(s.opts.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
		var mu sync.Mutex // guards timedOut
		timedOut := false
		t := time.AfterFunc(s.opts.KeepAlive, func() {
			mu.Lock()
			timedOut = true
			mu.Unlock()
			c.Close()
		})
		// OpenSSH answers unknown requests with a failure: any answer will do.
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		t.Stop()
		mu.Lock()
		to := timedOut
		mu.Unlock()
		if to {
			return fmt.Errorf("no answer to keepalive within %s", s.opts.KeepAlive)
		}
		if err != nil {
			return nil
		}
	}
}
