package share

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/berth-dev/berth/internal/berthtest"
)

// app is the shared service: a local HTTP server.
type app struct {
	srv *httptest.Server
	// hits counts the requests that reached it.
	hits atomic.Int64
	// last holds the last request's headers.
	last atomic.Pointer[http.Header]
	// lastHost holds the last request's Host.
	lastHost atomic.Pointer[string]
	// release lets /events send its second event.
	release chan struct{}
}

func startApp(t *testing.T) *app {
	t.Helper()
	a := &app{release: make(chan struct{})}
	mux := http.NewServeMux()
	// /events?type=T streams two events, the second one only once the
	// test releases it.
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.URL.Query().Get("type"))
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-a.release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: two\n\n")
	})
	// /echo switches to an echo protocol, as a WebSocket upgrade does.
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		buf := make([]byte, 512)
		for {
			n, err := brw.Read(buf)
			if err != nil {
				return
			}
			c.Write(buf[:n])
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from web: %s %s\n", r.Method, r.URL.Path)
	})
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		h := r.Header.Clone()
		a.last.Store(&h)
		host := r.Host
		a.lastHost.Store(&host)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) target() string { return a.srv.Listener.Addr().String() }

// running is a Sharer started by a test.
type running struct {
	url    string
	events chan Event
	done   chan error
	cancel context.CancelFunc
}

// share starts a Sharer of a through d with o (Via, keys, Target and a
// loopback bind filled in) and waits until it shares.
func share(t *testing.T, d *testSSHD, a *app, o Options) *running {
	t.Helper()
	r := startSharer(t, d, a, o)
	select {
	case e := <-r.events:
		if e.Kind != Sharing {
			t.Fatalf("first event: got %+v, want Sharing", e)
		}
		r.url = e.URL
	case err := <-r.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not sharing within 20s")
	}
	return r
}

// startSharer starts Run in the background; stop is registered as cleanup.
func startSharer(t *testing.T, d *testSSHD, a *app, o Options) *running {
	t.Helper()
	if o.Via == "" {
		o.Via = d.via()
	}
	if o.Identity == "" {
		o.Identity = d.clientKey
	}
	if o.KnownHosts == "" {
		o.KnownHosts = d.knownHosts
	}
	if o.Target == "" && a != nil {
		o.Target = a.target()
	}
	if o.Bind == "" {
		o.Bind = "127.0.0.1"
	}
	if o.Service == "" {
		o.Service = "web"
	}
	if o.RemotePort == 0 {
		o.RemotePort = berthtest.FreePort(t)
	}
	events := make(chan Event, 256)
	o.Notify = func(e Event) { events <- e }
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{events: events, done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and waits for it; it fails the test if Run does not
// return nil promptly.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run after stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Run did not return within 10s of its ctx ending")
	}
}

// client has no keep-alive, so that every request goes over the link as
// it is now.
var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, u string, mod ...func(*http.Request)) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mod {
		m(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestShare(t *testing.T) {
	d := startSSHD(t)
	a := startApp(t)

	t.Run("forwarded port serves the app", func(t *testing.T) {
		r := share(t, d, a, Options{})
		u, err := url.Parse(r.url)
		if err != nil {
			t.Fatal(err)
		}
		if u.Hostname() != "127.0.0.1" || u.Port() == "" {
			t.Fatalf("URL %q: want http://127.0.0.1:PORT", r.url)
		}
		code, body, _ := get(t, r.url+"/hello")
		if code != 200 || body != "hello from web: GET /hello\n" {
			t.Fatalf("got %d %q, want 200 from the app", code, body)
		}
		h := *a.last.Load()
		if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("X-Forwarded-For: got %q, want the visitor's address 127.0.0.1", got)
		}
		if got := h.Get("X-Forwarded-Host"); got != u.Host {
			t.Errorf("X-Forwarded-Host: got %q, want %q", got, u.Host)
		}
		if got := *a.lastHost.Load(); got != a.target() {
			t.Errorf("Host seen by the app: got %q, want its own %q", got, a.target())
		}
	})

	t.Run("server picks the port when none is given", func(t *testing.T) {
		// startSharer fills RemotePort in: build this one by hand.
		events := make(chan Event, 16)
		s, err := New(Options{Service: "web", Target: a.target(), Via: d.via(), Bind: "127.0.0.1",
			Identity: d.clientKey, KnownHosts: d.knownHosts, Notify: func(e Event) { events <- e }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		var e Event
		select {
		case e = <-events:
		case err := <-done:
			t.Fatalf("Run: %v", err)
		}
		u, _ := url.Parse(e.URL)
		if p, _ := strconv.Atoi(u.Port()); p == 0 {
			t.Fatalf("URL %q: no port", e.URL)
		}
		if code, _, _ := get(t, e.URL+"/"); code != 200 {
			t.Fatalf("got %d, want 200", code)
		}
	})

	// Server-sent events, and a token stream as LLM apps send them.
	for _, ctype := range []string{"text/event-stream", "application/x-ndjson"} {
		t.Run("stream of "+ctype+" passes unbuffered", func(t *testing.T) {
			r := share(t, d, a, Options{})
			resp, err := client.Get(r.url + "/events?type=" + url.QueryEscape(ctype))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			lines := make(chan string, 8)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					if sc.Text() != "" {
						lines <- sc.Text()
					}
				}
			}()
			// The app holds its second event until the first has arrived
			// here: a buffering proxy would deliver neither.
			select {
			case l := <-lines:
				if l != "data: one" {
					t.Fatalf("first event: got %q", l)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("the first event did not arrive while the stream was open")
			}
			a.release <- struct{}{}
			select {
			case l := <-lines:
				if l != "data: two" {
					t.Fatalf("second event: got %q", l)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the second event did not arrive")
			}
			for range lines {
			}
		})
	}

	t.Run("debug endpoints refused, allowed with AllowDebug", func(t *testing.T) {
		r := share(t, d, a, Options{})
		before := a.hits.Load()
		for _, p := range []string{"/__debug__/sql/", "/console", "/silk/requests/", "/debug/pprof/heap", "/x?__debugger__=yes&cmd=1"} {
			code, body, _ := get(t, r.url+p)
			if code != 403 || !strings.Contains(body, "debug endpoint") || !strings.Contains(body, "--allow-debug") {
				t.Errorf("GET %s: got %d %q, want 403 saying why and how to allow it", p, code, body)
			}
		}
		if n := a.hits.Load() - before; n != 0 {
			t.Errorf("%d refused request(s) reached the app", n)
		}
		r2 := share(t, d, a, Options{AllowDebug: true})
		if code, body, _ := get(t, r2.url+"/__debug__/sql/"); code != 200 || !strings.Contains(body, "/__debug__/sql/") {
			t.Errorf("with AllowDebug: got %d %q, want the app's 200", code, body)
		}
	})

	t.Run("basic auth required when set", func(t *testing.T) {
		r := share(t, d, a, Options{Auth: &Credentials{User: "ann", Password: "s3cret"}})
		code, _, h := get(t, r.url+"/")
		if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("without credentials: got %d (WWW-Authenticate %q), want 401 with a Basic challenge", code, h.Get("WWW-Authenticate"))
		}
		if code, _, _ := get(t, r.url+"/", func(q *http.Request) { q.SetBasicAuth("ann", "wrong") }); code != 401 {
			t.Errorf("wrong password: got %d, want 401", code)
		}
		code, body, _ := get(t, r.url+"/in", func(q *http.Request) { q.SetBasicAuth("ann", "s3cret") })
		if code != 200 || !strings.Contains(body, "GET /in") {
			t.Errorf("with credentials: got %d %q, want the app's 200", code, body)
		}
		if got := a.last.Load().Get("Authorization"); got != "" {
			t.Errorf("the app saw the share's Authorization header %q", got)
		}
	})

	t.Run("protocol upgrade passes, and stop ends it", func(t *testing.T) {
		r := share(t, d, a, Options{})
		u, _ := url.Parse(r.url)
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /echo HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", u.Host)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("got %s, want 101", resp.Status)
		}
		for _, msg := range []string{"ping\n", "pong\n"} {
			fmt.Fprint(c, msg)
			got, err := br.ReadString('\n')
			if err != nil || got != msg {
				t.Fatalf("echo: got %q, %v; want %q", got, err, msg)
			}
		}
		// Stopping with the upgraded connection open ends it, and Run
		// returns (stop fails the test otherwise).
		r.stop(t)
		if _, err := br.ReadString('\n'); err == nil {
			t.Fatal("the upgraded connection is still open after stop")
		}
	})

	t.Run("stop closes the remote port", func(t *testing.T) {
		r := share(t, d, a, Options{})
		u, _ := url.Parse(r.url)
		r.stop(t)
		// The server no longer listens for visitors (cancel-tcpip-forward).
		waitFor(t, 5*time.Second, "remote port closed", func() error {
			c, err := net.DialTimeout("tcp", u.Host, time.Second)
			if err != nil {
				return nil
			}
			c.Close()
			return errNotYet
		})
	})
}

func TestShare_Reconnects(t *testing.T) {
	d := startSSHD(t)
	a := startApp(t)
	r := share(t, d, a, Options{})
	if code, _, _ := get(t, r.url+"/before"); code != 200 {
		t.Fatalf("before the cut: got %d", code)
	}

	d.kill()
	var lost Event
	select {
	case lost = <-r.events:
	case <-time.After(10 * time.Second):
		t.Fatal("no LinkLost within 10s of killing sshd")
	}
	if lost.Kind != LinkLost || lost.Err == nil || lost.Retry != DefaultMinBackoff {
		t.Fatalf("after the cut: got %+v, want LinkLost with a cause, retrying in %s", lost, DefaultMinBackoff)
	}
	t.Logf("link lost: %v; reconnecting in %s", lost.Err, lost.Retry)
	d.start()

	deadline := time.After(20 * time.Second)
	for back := false; !back; {
		select {
		case e := <-r.events:
			switch e.Kind {
			case LinkBack:
				back = true
				if e.URL != r.url {
					t.Errorf("after reconnecting: URL %q, want the same %q", e.URL, r.url)
				}
			case LinkLost:
				t.Logf("still down: %v (retry in %s)", e.Err, e.Retry)
			default:
				t.Fatalf("unexpected event %+v", e)
			}
		case err := <-r.done:
			t.Fatalf("Run ended: %v", err)
		case <-deadline:
			t.Fatal("no LinkBack within 20s of restarting sshd")
		}
	}
	if code, body, _ := get(t, r.url+"/after"); code != 200 || !strings.Contains(body, "GET /after") {
		t.Fatalf("after the link came back: got %d %q", code, body)
	}
}

func TestShare_HostKey(t *testing.T) {
	d := startSSHD(t)
	fp := ssh.FingerprintSHA256(d.hostKey)
	dir := t.TempDir()

	run := func(t *testing.T, knownHosts string) *HostKeyError {
		t.Helper()
		s, err := New(Options{Service: "web", Target: "127.0.0.1:1", Via: d.via(), Identity: d.clientKey,
			KnownHosts: knownHosts, Bind: "127.0.0.1", RemotePort: berthtest.FreePort(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = s.Run(ctx)
		var herr *HostKeyError
		if !errors.As(err, &herr) {
			t.Fatalf("Run: got %v, want a *HostKeyError", err)
		}
		msg := err.Error()
		t.Logf("the error:\n%s", msg)
		for _, want := range []string{d.addr(), fp, "ssh-keyscan -p " + strconv.Itoa(d.port) + " 127.0.0.1 >> " + knownHosts} {
			if !strings.Contains(msg, want) {
				t.Errorf("error does not name %q:\n%s", want, msg)
			}
		}
		return herr
	}

	t.Run("another key for the host is refused", func(t *testing.T) {
		other := filepath.Join(dir, "other_ed25519")
		keygen(t, other)
		kh := filepath.Join(dir, "known_hosts_other")
		writeKnownHosts(t, kh, d.addr(), readPub(t, other+".pub"))
		herr := run(t, kh)
		if len(herr.Known) != 1 || !strings.Contains(herr.Error(), "does not match") || !strings.Contains(herr.Error(), "ssh-keygen -R") {
			t.Errorf("want a mismatch naming the known key and how to replace it:\n%v", herr)
		}
	})

	t.Run("a known key of another type is refused, not a failed negotiation", func(t *testing.T) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ssh.NewPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		kh := filepath.Join(dir, "known_hosts_rsa")
		writeKnownHosts(t, kh, d.addr(), pub)
		if herr := run(t, kh); len(herr.Known) != 1 {
			t.Errorf("want a mismatch with the known rsa key: %v", herr)
		}
	})

	t.Run("an unknown host is refused", func(t *testing.T) {
		kh := filepath.Join(dir, "known_hosts_empty")
		if err := os.WriteFile(kh, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		herr := run(t, kh)
		if len(herr.Known) != 0 || !strings.Contains(herr.Error(), "not known") {
			t.Errorf("want an unknown-host error: %v", herr)
		}
		// No file at all is the same.
		run(t, filepath.Join(dir, "missing", "known_hosts"))
	})
}

func TestShare_FirstConnectionFails(t *testing.T) {
	d := startSSHD(t)
	run := func(t *testing.T, o Options) error {
		t.Helper()
		o.Service, o.Target, o.Bind = "web", "127.0.0.1:1", "127.0.0.1"
		if o.Identity == "" {
			o.Identity = d.clientKey
		}
		if o.KnownHosts == "" {
			o.KnownHosts = d.knownHosts
		}
		if o.Via == "" {
			o.Via = d.via()
		}
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = s.Run(ctx)
		if err == nil {
			t.Fatal("Run: got nil, want an error")
		}
		return err
	}
	t.Run("key not authorized", func(t *testing.T) {
		k := filepath.Join(t.TempDir(), "stranger")
		keygen(t, k)
		err := run(t, Options{Identity: k})
		t.Logf("the error:\n%v", err)
		if !strings.Contains(err.Error(), "authorized_keys") {
			t.Errorf("want a hint about authorized_keys: %v", err)
		}
	})
	t.Run("nothing listens", func(t *testing.T) {
		err := run(t, Options{Via: d.user + "@127.0.0.1:" + strconv.Itoa(berthtest.FreePort(t))})
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("want connection refused: %v", err)
		}
	})
	t.Run("remote port taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		err = run(t, Options{RemotePort: l.Addr().(*net.TCPAddr).Port})
		t.Logf("the error:\n%v", err)
		if !strings.Contains(err.Error(), "--remote-port") {
			t.Errorf("want a hint about --remote-port: %v", err)
		}
	})
}

func TestShare_HungLink(t *testing.T) {
	d := startSSHD(t)
	a := startApp(t)
	r := share(t, d, a, Options{KeepAlive: 200 * time.Millisecond, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if code, _, _ := get(t, r.url+"/before"); code != 200 {
		t.Fatalf("before: got %d", code)
	}
	// Freeze the session: the TCP connection stays open but nothing
	// answers, as when a laptop sleeps or a network drops packets.
	session := descendants(d.pid())
	if len(session) == 0 {
		t.Fatal("no sshd session process found")
	}
	signalAll(session, syscall.SIGSTOP)
	t.Cleanup(func() { signalAll(session, syscall.SIGCONT) })

	var lost Event
	select {
	case lost = <-r.events:
	case <-time.After(5 * time.Second):
		t.Fatal("the hung link was not noticed within 5s (keepalive 200ms)")
	}
	if lost.Kind != LinkLost || !strings.Contains(fmt.Sprint(lost.Err), "keepalive") {
		t.Fatalf("got %+v, want LinkLost because of the keepalive", lost)
	}
	// The frozen session still holds the remote port: reconnections are
	// refused until it ends, which it does once it runs again and finds
	// its client gone.
	select {
	case e := <-r.events:
		if e.Kind != LinkLost || !strings.Contains(fmt.Sprint(e.Err), "tcpip-forward request denied") {
			t.Fatalf("while the old session holds the port: got %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnection attempt within 10s")
	}
	signalAll(session, syscall.SIGCONT)
	deadline := time.After(20 * time.Second)
	for back := false; !back; {
		select {
		case e := <-r.events:
			back = e.Kind == LinkBack
		case <-deadline:
			t.Fatal("no LinkBack within 20s of the old session ending")
		}
	}
	if code, _, _ := get(t, r.url+"/after"); code != 200 {
		t.Fatalf("after: got %d", code)
	}
}

func signalAll(pids []int, sig syscall.Signal) {
	for _, p := range pids {
		_ = syscall.Kill(p, sig)
	}
}
