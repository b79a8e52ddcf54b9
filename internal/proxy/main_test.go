package proxy

import (
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
)

// TestMain ends the package's tests with a goroutine-leak check.
func TestMain(m *testing.M) { berthtest.Main(m) }

// proxyGoroutines counts this package's goroutines, for checks in the
// middle of a test.
func proxyGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "berth/internal/proxy.(*session)") {
			n++
		}
	}
	return n
}

// startProxy listens on a free loopback port and serves until the end of the
// test, which checks that Serve returned nil.
func startProxy(t testing.TB, opts Options) *Proxy {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Name == "" {
		opts.Name = "web"
	}
	p, err := Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(context.Background()) }()
	t.Cleanup(func() {
		p.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return p
}

// backendServer is a TCP server run by the test, handling each connection
// with handle. Stop closes the listener and waits for the handlers.
type backendServer struct {
	ln     net.Listener
	handle func(*net.TCPConn)
	wg     sync.WaitGroup

	mu    sync.Mutex // guards conns
	conns map[net.Conn]bool
	n     int // connections accepted
}

func startBackend(t testing.TB, addr string, handle func(*net.TCPConn)) *backendServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &backendServer{ln: ln, handle: handle, conns: map[net.Conn]bool{}}
	b.wg.Add(1)
	go b.serve()
	t.Cleanup(func() { b.Stop(true) })
	return b
}

func (b *backendServer) Addr() string { return b.ln.Addr().String() }

func (b *backendServer) Accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *backendServer) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns[c] = true
		b.n++
		b.mu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.handle(c.(*net.TCPConn))
			c.Close()
			b.mu.Lock()
			delete(b.conns, c)
			b.mu.Unlock()
		}()
	}
}

// Stop closes the listener and, with kill, every open connection, then waits
// for the handlers.
func (b *backendServer) Stop(kill bool) {
	b.ln.Close()
	if kill {
		b.mu.Lock()
		for c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
	}
	b.wg.Wait()
}

// echo sends back what it reads, then half-closes.
func echo(c *net.TCPConn) {
	io.Copy(c, c)
	c.CloseWrite()
}

// says answers every connection with name, then closes.
func says(name string) func(*net.TCPConn) {
	return func(c *net.TCPConn) { io.WriteString(c, name) }
}

// dial connects to p.
func dial(t testing.TB, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// readAll reads c to EOF with a generous deadline.
func readAll(t testing.TB, c net.Conn) (string, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}
