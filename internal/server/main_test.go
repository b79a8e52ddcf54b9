package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-dev/berth/internal/berthtest"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/project"
	"github.com/berth-dev/berth/internal/server"
)

// TestMain ends the package's tests with a goroutine-leak check: every
// engine, server, WebSocket and HTTP connection a test opened must be gone.
func TestMain(m *testing.M) {
	berthtest.Main(m)
}

// testEnv is an engine running a project, with its API served on a Unix
// socket (trusted: the owner) and on a TCP listener of 127.0.0.1 behind
// the loopback guard, as startEngine wires them.
type testEnv struct {
	t        testing.TB
	dir      string // the project folder
	stateDir string
	hub      *hub.Memory
	eng      *engine.Engine
	sock     string
	addr     string // 127.0.0.1:port of the TCP listener
	port     string
	owner    string // the owner token
	tcp      *trackListener

	unix   *http.Client // trusted requests over the Unix socket
	http   *http.Client // requests over TCP (no redirects followed)
	cancel context.CancelFunc
	served sync.WaitGroup
	closed bool
}

// envOptions configure newEnv.
type envOptions struct {
	// files are written into the project folder besides compose.yaml.
	files map[string]string
	// hub configures the engine's hub.
	hub hub.Options
	// stateDir reuses a state folder (an engine restart); "" makes one.
	stateDir string
	// noUp leaves the project down (the engine only serves its store).
	noUp bool
	// dir reuses a project folder.
	dir string
}

// newEnv writes compose into a temporary project folder, brings it up in a
// new engine and serves the engine's API; everything stops at the test's end.
func newEnv(t testing.TB, compose string, opts envOptions) *testEnv {
	t.Helper()
	dir := opts.dir
	if dir == "" {
		dir = t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
			t.Fatal(err)
		}
		for name, text := range opts.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	stateDir := opts.stateDir
	if stateDir == "" {
		stateDir = filepath.Join(t.TempDir(), "state")
	}
	// A Unix socket path is limited to about 100 bytes: keep it short.
	sockDir, err := os.MkdirTemp("", "bsrv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })

	e := &testEnv{t: t, dir: dir, stateDir: stateDir, sock: filepath.Join(sockDir, "berth.sock")}
	e.hub = hub.NewMemory(opts.hub)
	e.eng, err = engine.New(engine.Options{StateDir: stateDir, Hub: e.hub})
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	t.Cleanup(e.shutdown)
	if !opts.noUp {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p, err := project.Load(ctx, project.LoadOptions{WorkingDir: dir, Environ: os.Environ(), Native: true})
		if err != nil {
			t.Fatalf("load project: %v", err)
		}
		if _, err := e.eng.Up(ctx, engine.UpRequest{Project: p, BaseEnv: os.Environ()}); err != nil {
			t.Fatalf("up: %v", err)
		}
	}

	srv := server.New(server.Options{Engine: e.eng, Hub: e.hub})
	ul, err := server.ListenUnix(e.sock)
	if err != nil {
		t.Fatalf("listen unix: %v", err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ul.Close()
		t.Fatalf("listen tcp: %v", err)
	}
	e.tcp = &trackListener{Listener: tl, conns: map[string]*trackConn{}}
	e.addr = tl.Addr().String()
	_, e.port, _ = net.SplitHostPort(e.addr)
	if e.owner, err = server.NewToken(); err != nil {
		t.Fatal(err)
	}
	guard := server.LoopbackGuard(e.owner, e.eng.Store(), e.port)
	srv.SetDashboardURL(server.DashboardURL(e.addr, e.owner))
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.served.Add(2)
	go func() { defer e.served.Done(); _ = srv.Serve(ctx, ul) }()
	go func() { defer e.served.Done(); _ = srv.ServeHandler(ctx, e.tcp, guard.Wrap(srv.Handler())) }()

	sock := e.sock
	e.unix = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableCompression: true,
	}}
	e.http = &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return e
}

// shutdown ends the engine, the server and the hub. It is idempotent.
func (e *testEnv) shutdown() {
	if e.closed {
		return
	}
	e.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.eng.Shutdown(ctx, nil); err != nil {
		e.t.Errorf("engine shutdown: %v", err)
	}
	if e.cancel != nil {
		e.cancel()
		e.served.Wait()
	}
	e.hub.Close()
	if e.unix != nil {
		e.unix.CloseIdleConnections()
		e.http.CloseIdleConnections()
	}
}

// apiResult is an HTTP answer: its status, body and decoded error.
type apiResult struct {
	status int
	header http.Header
	body   []byte
	err    server.APIError
}

// do sends a request with client c; body, if not nil, is sent as JSON.
func (e *testEnv) do(c *http.Client, method, url string, body any, header http.Header) apiResult {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection: its body is the connection itself.
		return apiResult{status: resp.StatusCode, header: resp.Header}
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	res := apiResult{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.StatusCode >= 400 {
		var env struct {
			Error server.APIError `json:"error"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			e.t.Fatalf("%s %s: %d with a body that is not an API error: %q", method, url, resp.StatusCode, b)
		}
		res.err = env.Error
	}
	return res
}

// local sends a request over the Unix socket (as the owner).
func (e *testEnv) local(method, path string, body any) apiResult {
	e.t.Helper()
	return e.do(e.unix, method, "http://berth"+path, body, nil)
}

// remote sends a request over TCP with a Bearer token (none if "").
func (e *testEnv) remote(method, path, token string, body any) apiResult {
	e.t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return e.do(e.http, method, "http://"+e.addr+path, body, h)
}

// mustOK fails the test unless r is a 200.
func mustOK(t testing.TB, r apiResult) apiResult {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	return r
}

// trackListener records the server side of every TCP connection, so a
// test can see when the server dropped one.
type trackListener struct {
	net.Listener
	mu    sync.Mutex // guards conns
	conns map[string]*trackConn
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackConn{Conn: c, closed: make(chan struct{})}
	l.mu.Lock()
	l.conns[c.RemoteAddr().String()] = tc
	l.mu.Unlock()
	return tc, nil
}

// serverSide returns the server's end of the connection whose client end
// has local address addr.
func (l *trackListener) serverSide(addr string) *trackConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[addr]
}

type trackConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *trackConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// frame is one frame a client received.
type frame struct {
	Stream  string          `json:"stream"`
	Seq     uint64          `json:"seq"`
	Payload json.RawMessage `json:"payload"`
}

// control is the payload of a frame on the control stream.
type control struct {
	Op      string          `json:"op"`
	ID      json.RawMessage `json:"id"`
	Streams []string        `json:"streams"`
	Stream  string          `json:"stream"`
	Code    string          `json:"code"`
	Field   *string         `json:"field"`
	Message string          `json:"message"`
	From    uint64          `json:"from"`
	To      uint64          `json:"to"`
	Count   uint64          `json:"count"`
	Since   uint64          `json:"since"`
	First   uint64          `json:"first"`
	Last    uint64          `json:"last"`
}

func (f frame) control(t testing.TB) (control, bool) {
	t.Helper()
	if f.Stream != hub.StreamControl {
		return control{}, false
	}
	var c control
	if err := json.Unmarshal(f.Payload, &c); err != nil {
		t.Fatalf("control frame with a bad payload: %s", f.Payload)
	}
	return c, true
}

// wsClient is a test's WebSocket client of the API.
type wsClient struct {
	t       testing.TB
	conn    *websocket.Conn
	local   net.Addr // the client end of the TCP connection (nil over Unix)
	pending [][]byte
	// messages counts the WebSocket messages read.
	messages int
}

// dialUnix opens the WebSocket over the Unix socket, as the owner.
func (e *testEnv) dialUnix() *wsClient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://berth/api/ws", &websocket.DialOptions{HTTPClient: e.unix})
	if err != nil {
		e.t.Fatalf("dial WebSocket over the Unix socket: %v", err)
	}
	return e.newClient(conn, nil)
}

// dialTCP opens the WebSocket over TCP with a Bearer token.
func (e *testEnv) dialTCP(token string) *wsClient {
	e.t.Helper()
	c, err := e.tryDialTCP(token, http.Header{}, 0)
	if err != nil {
		e.t.Fatalf("dial WebSocket over TCP: %v", err)
	}
	return c
}

// tryDialTCP opens the WebSocket over TCP; rcvbuf > 0 sets the client
// socket's receive buffer (a client that reads slowly stalls sooner).
func (e *testEnv) tryDialTCP(token string, header http.Header, rcvbuf int) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var local net.Addr
	d := net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				local = c.LocalAddr()
			}
			return c, err
		},
	}}
	defer hc.CloseIdleConnections()
	h := header.Clone()
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	conn, resp, err := websocket.Dial(ctx, "ws://"+e.addr+"/api/ws", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	return e.newClient(conn, local), nil
}

func (e *testEnv) newClient(conn *websocket.Conn, local net.Addr) *wsClient {
	conn.SetReadLimit(64 << 20)
	c := &wsClient{t: e.t, conn: conn, local: local}
	e.t.Cleanup(func() { conn.CloseNow() })
	return c
}

// in makes c report failures to t (a subtest).
func (c *wsClient) in(t testing.TB) *wsClient {
	c.t = t
	return c
}

// send writes one text message.
func (c *wsClient) send(text string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		c.t.Fatalf("write %q: %v", text, err)
	}
}

// subscribe asks for streams (since: the last seq had of some of them).
func (c *wsClient) subscribe(id int, streams []string, since map[string]uint64) {
	c.t.Helper()
	req := map[string]any{"op": "subscribe", "id": id, "streams": streams}
	if since != nil {
		req["since"] = since
	}
	b, _ := json.Marshal(map[string]any{"stream": "control", "payload": req})
	c.send(string(b))
}

// next returns the next frame, or the error that ended the connection.
func (c *wsClient) next(ctx context.Context) (frame, error) {
	for len(c.pending) == 0 {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			return frame{}, err
		}
		c.messages++
		for _, part := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(part)) > 0 {
				c.pending = append(c.pending, part)
			}
		}
	}
	b := c.pending[0]
	c.pending = c.pending[1:]
	var f frame
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		c.t.Fatalf("frame is not an envelope {stream, seq, payload}: %v: %q", err, b)
	}
	return f, nil
}

// mustNext is next, failing the test on error.
func (c *wsClient) mustNext(ctx context.Context) frame {
	c.t.Helper()
	f, err := c.next(ctx)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// until reads frames until match returns true and returns them all, the
// matching one last.
func (c *wsClient) until(ctx context.Context, match func(frame) bool) []frame {
	c.t.Helper()
	var fs []frame
	for {
		f := c.mustNext(ctx)
		fs = append(fs, f)
		if match(f) {
			return fs
		}
	}
}

// reply reads frames until the control reply with id, and returns it and
// the data frames read before it.
func (c *wsClient) reply(ctx context.Context, id int) (control, []frame) {
	c.t.Helper()
	want := fmt.Sprint(id)
	var data []frame
	for {
		f := c.mustNext(ctx)
		if ctl, ok := f.control(c.t); ok && string(ctl.ID) == want {
			return ctl, data
		}
		data = append(data, f)
	}
}

// subscribed subscribes and waits for the "subscribed" reply; it returns
// the data frames that came before the reply.
func (c *wsClient) subscribed(ctx context.Context, id int, streams []string, since map[string]uint64) []frame {
	c.t.Helper()
	c.subscribe(id, streams, since)
	ctl, data := c.reply(ctx, id)
	if ctl.Op != hub.OpSubscribed {
		c.t.Fatalf("subscribe %v: got %+v (message %q), want subscribed", streams, ctl, ctl.Message)
	}
	return data
}

// framePump reads a connection's messages in a goroutine, which also
// answers the server's pings while the test is busy elsewhere. It queues
// what it reads without bound, so it never stops reading.
type framePump struct {
	mu    sync.Mutex // guards queue and err
	queue [][]byte
	err   error // why the connection ended; nil while it is open
	wake  chan struct{}
}

// pump starts reading c's messages; from then on, read c's frames only
// with the pump's next. It stops at the end of the test.
func (c *wsClient) pump(t testing.TB) *framePump {
	p := &framePump{wake: make(chan struct{}, 1)}
	done := make(chan struct{})
	t.Cleanup(func() {
		c.conn.CloseNow()
		<-done
	})
	go func() {
		defer close(done)
		for {
			_, b, err := c.conn.Read(context.Background())
			p.mu.Lock()
			if err != nil {
				p.err = err
			}
			for _, part := range bytes.Split(b, []byte("\n")) {
				if len(part) > 0 {
					p.queue = append(p.queue, part)
				}
			}
			p.mu.Unlock()
			select {
			case p.wake <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// next returns the next frame, or the error that ended the connection.
func (p *framePump) next(ctx context.Context) ([]byte, error) {
	for {
		p.mu.Lock()
		if len(p.queue) > 0 {
			b := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.mu.Unlock()
			return b, nil
		}
		err := p.err
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-p.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *wsClient) close() {
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
}

// timeout returns a context that ends after d (and at the test's end).
func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
