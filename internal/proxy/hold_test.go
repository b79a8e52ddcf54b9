package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
)

// httpBackend is an HTTP server on a fixed address that the test stops and
// starts again, as a service's restart does.
type httpBackend struct {
	t    *testing.T
	addr string
	gen  atomic.Int32

	srv    *http.Server
	served chan struct{}
}

func newHTTPBackend(t *testing.T) *httpBackend {
	b := &httpBackend{t: t, addr: "127.0.0.1:0"}
	b.start()
	b.addr = b.srv.Addr
	t.Cleanup(b.stop)
	return b
}

// start listens on b.addr again and serves.
func (b *httpBackend) start() {
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		b.t.Fatalf("listen again on %s: %v", b.addr, err)
	}
	gen := b.gen.Add(1)
	b.srv = &http.Server{
		Addr: ln.Addr().String(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ok %s from %d", r.URL.Path, gen)
		}),
	}
	b.served = make(chan struct{})
	go func(srv *http.Server, served chan struct{}) {
		defer close(served)
		srv.Serve(ln)
	}(b.srv, b.served)
}

// stop closes the listener and waits for the requests being served.
func (b *httpBackend) stop() {
	if b.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.srv.Shutdown(ctx)
	<-b.served
	b.srv = nil
}

// loadResult is what a client loop saw.
type loadResult struct {
	ok, failed int
	slowest    time.Duration
	errs       []string
}

// load makes HTTP requests through p, one connection each, from workers
// goroutines, until stop is closed.
func load(t *testing.T, p *Proxy, workers int, stop <-chan struct{}) *loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	url := "http://" + p.Addr().String()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pace the loop a little: every request opens two TCP
			// connections, and the ephemeral ports they leave in
			// TIME_WAIT are not unlimited.
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				path := fmt.Sprintf("/w%d/%d", w, i)
				start := time.Now()
				err := get(client, url+path, "ok "+path+" from ")
				d := time.Since(start)
				mu.Lock()
				if err != nil {
					res.failed++
					if len(res.errs) < 5 {
						res.errs = append(res.errs, err.Error())
					}
				} else {
					res.ok++
				}
				res.slowest = max(res.slowest, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return &res
}

// get requests url and checks that the body starts with want.
func get(client *http.Client, url, want string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: reading body: %w", url, err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), want) {
		return fmt.Errorf("GET %s: %s %q", url, resp.Status, body)
	}
	return nil
}

func TestProxy_RestartLosesNoRequest(t *testing.T) {
	const (
		restarts = 5
		down     = 60 * time.Millisecond // how long the service is away
		up       = 60 * time.Millisecond
	)
	for _, tc := range []struct {
		name string
		hold bool // the engine calls Hold before the stop, SetBackends after the start
	}{
		{"engine holds the port during the restart", true},
		{"engine says nothing: refused dials are retried", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := newHTTPBackend(t)
			p := startProxy(t, Options{HoldTimeout: 10 * time.Second})
			p.SetBackends([]string{be.addr})

			stop := make(chan struct{})
			done := make(chan *loadResult)
			go func() { done <- load(t, p, 3, stop) }()

			for range restarts {
				time.Sleep(up) // let requests through
				if tc.hold {
					p.Hold()
				}
				be.stop()
				time.Sleep(down)
				be.start()
				if tc.hold {
					p.SetBackends([]string{be.addr})
				}
			}
			time.Sleep(up)
			close(stop)
			res := <-done

			st := p.Stats()
			t.Logf("%d requests, %d failed, slowest %v; %+v", res.ok+res.failed, res.failed, res.slowest, st)
			if res.failed != 0 {
				t.Fatalf("%d of %d requests failed through %d restarts: %s", res.failed, res.ok+res.failed, restarts, strings.Join(res.errs, "; "))
			}
			if res.ok < 50 {
				t.Fatalf("only %d requests went through; the loop did not run", res.ok)
			}
			if got := be.gen.Load(); got != restarts+1 {
				t.Fatalf("backend ran %d times; want %d", got, restarts+1)
			}
			// Some requests must have arrived while the backend was away
			// and been held, or the test proved nothing.
			if res.slowest < down/2 {
				t.Fatalf("slowest request took %v: none was held through a restart", res.slowest)
			}
			if !tc.hold && st.Retries == 0 {
				t.Fatalf("no dial was retried: %+v", st)
			}
		})
	}
}

func TestProxy_HoldTimeout(t *testing.T) {
	const hold = 200 * time.Millisecond

	// request connects, sends a request and reads until the proxy ends
	// the connection.
	request := func(t *testing.T, p *Proxy) (time.Duration, string, error) {
		c := dial(t, p)
		start := time.Now()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		got, err := readAll(t, c)
		return time.Since(start), got, err
	}

	t.Run("no backend", func(t *testing.T) {
		p := startProxy(t, Options{HoldTimeout: hold})
		took, got, err := request(t, p)
		if !errors.Is(err, syscall.ECONNRESET) || got != "" {
			t.Fatalf("got %q, %v; want a connection reset", got, err)
		}
		if took < hold/2 || took > hold+5*time.Second { // the hold starts at accept, maybe before dial returns
			t.Fatalf("reset after %v; want about %v", took, hold)
		}
		if st := p.Stats(); st.HoldTimeouts != 1 {
			t.Fatalf("stats %+v; want 1 hold timeout", st)
		}
		berthtest.Eventually(t, 10*time.Second, "the session to end", func() bool { return p.Stats().Active == 0 && proxyGoroutines() == 0 })
	})
	t.Run("held", func(t *testing.T) {
		be := startBackend(t, "127.0.0.1:0", says("hi"))
		p := startProxy(t, Options{HoldTimeout: hold})
		p.SetBackends([]string{be.Addr()})
		p.Hold()
		_, got, err := request(t, p)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %q, %v; want a connection reset", got, err)
		}
		if be.Accepted() != 0 {
			t.Fatalf("a held connection reached the backend")
		}
	})
	t.Run("backend refuses", func(t *testing.T) {
		// A port that nothing listens on.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		p := startProxy(t, Options{HoldTimeout: hold})
		p.SetBackends([]string{addr})
		_, got, err := request(t, p)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %q, %v; want a connection reset", got, err)
		}
		if st := p.Stats(); st.Retries < 2 || st.HoldTimeouts != 1 {
			t.Fatalf("stats %+v; want the dial retried until the hold timeout", st)
		}
	})
	t.Run("negative: no waiting", func(t *testing.T) {
		p := startProxy(t, Options{HoldTimeout: -1})
		start := time.Now()
		// The reset can come before connect returns.
		c, err := net.Dial("tcp", p.Addr().String())
		if err == nil {
			defer c.Close()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			_, err = readAll(t, c)
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %v; want a connection reset", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("reset after %v; want at once", took)
		}
	})
	t.Run("client gives up first", func(t *testing.T) {
		p := startProxy(t, Options{HoldTimeout: 10 * time.Second})
		c := dial(t, p)
		berthtest.Eventually(t, 10*time.Second, "the connection to wait", func() bool { return p.Stats().Waiting == 1 })
		c.Close()
		// The proxy notices the client left without waiting for the
		// hold timeout.
		berthtest.Eventually(t, 10*time.Second, "the session to end", func() bool { return p.Stats().Active == 0 && proxyGoroutines() == 0 })
	})
}

func TestProxy_Close(t *testing.T) {
	t.Run("while connections are held and forwarded", func(t *testing.T) {
		be := startBackend(t, "127.0.0.1:0", echo)
		p, err := Listen(Options{Listen: "127.0.0.1:0", Name: "web"})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- p.Serve(context.Background()) }()

		// One forwarded connection…
		p.SetBackends([]string{be.Addr()})
		fwd := dial(t, p)
		io.WriteString(fwd, "x")
		io.ReadFull(fwd, make([]byte, 1))
		// …and three held ones.
		p.Hold()
		var held []*net.TCPConn
		for range 3 {
			held = append(held, dial(t, p))
		}
		berthtest.Eventually(t, 10*time.Second, "3 connections to wait", func() bool { return p.Stats().Waiting == 3 })

		start := time.Now()
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Close took %v", d)
		}
		for i, c := range append(held, fwd) {
			if got, err := readAll(t, c); got != "" || errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("connection %d: got %q, %v; want it closed", i, got, err)
			}
		}
		if st := p.Stats(); st.Active != 0 || st.Waiting != 0 {
			t.Fatalf("after Close: %+v", st)
		}
		// wg.Done is the last thing a session goroutine does: once Close
		// returned, they are only returning.
		berthtest.Eventually(t, 10*time.Second, "session goroutines to return", func() bool { return proxyGoroutines() == 0 })
		if _, err := net.Dial("tcp", p.Addr().String()); err == nil {
			t.Fatalf("the port still accepts after Close")
		}
		p.Close() // idempotent
	})
	t.Run("when Serve's ctx ends", func(t *testing.T) {
		p, err := Listen(Options{Listen: "127.0.0.1:0", Name: "web"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- p.Serve(ctx) }()
		c := dial(t, p)
		berthtest.Eventually(t, 10*time.Second, "the connection to wait", func() bool { return p.Stats().Waiting == 1 })
		cancel()
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if _, err := readAll(t, c); errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read: %v", err)
		}
		berthtest.Eventually(t, 10*time.Second, "session goroutines to return", func() bool { return proxyGoroutines() == 0 })
		if err := p.Serve(context.Background()); err != nil {
			t.Fatalf("Serve after close: %v; want nil", err)
		}
	})
	t.Run("Serve twice", func(t *testing.T) {
		p := startProxy(t, Options{})
		berthtest.Eventually(t, 10*time.Second, "Serve to start", func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.serving
		})
		if err := p.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Fatalf("second Serve: %v; want an error", err)
		}
	})
	t.Run("without Serve", func(t *testing.T) {
		p, err := Listen(Options{Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestListen_PortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	port := taken.Addr().(*net.TCPAddr).Port

	p, err := Listen(Options{Listen: addr, Name: "web"})
	if err == nil {
		p.Close()
		t.Fatalf("Listen on a taken port: no error")
	}
	want := fmt.Sprintf(`proxy for service "web": listen on %s: port %d is already in use`, addr, port)
	if err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err, want)
	}
	var le *ListenError
	if !errors.As(err, &le) || le.Port != port || le.Service != "web" {
		t.Fatalf("got %#v; want a *ListenError for port %d", err, port)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("errors.Is(err, EADDRINUSE) = false for %v", err)
	}

	t.Run("other errors name the address", func(t *testing.T) {
		_, err := Listen(Options{Listen: "127.0.0.1:99999", Name: "api"})
		if err == nil || !strings.HasPrefix(err.Error(), `proxy for service "api": listen on 127.0.0.1:99999: `) {
			t.Fatalf("got %v", err)
		}
		_, err = Listen(Options{Name: "api"})
		if err == nil {
			t.Fatalf("no address: no error")
		}
	})
}
