package proxy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
)

func TestProxy_Forward(t *testing.T) {
	t.Run("client half-closes, backend answers then closes", func(t *testing.T) {
		be := startBackend(t, "127.0.0.1:0", func(c *net.TCPConn) {
			b, _ := io.ReadAll(c)
			fmt.Fprintf(c, "got %d bytes: %s", len(b), bytes.ToUpper(b))
		})
		p := startProxy(t, Options{})
		p.SetBackends([]string{be.Addr()})

		c := dial(t, p)
		io.WriteString(c, "hello, ")
		io.WriteString(c, "world")
		c.CloseWrite()
		got, err := readAll(t, c)
		if want := "got 12 bytes: HELLO, WORLD"; got != want || err != nil {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	})
	t.Run("backend speaks first", func(t *testing.T) {
		be := startBackend(t, "127.0.0.1:0", func(c *net.TCPConn) {
			io.WriteString(c, "220 ready\n")
			echo(c)
		})
		p := startProxy(t, Options{})
		p.SetBackends([]string{be.Addr()})

		c := dial(t, p)
		greeting := make([]byte, 10)
		if _, err := io.ReadFull(c, greeting); err != nil || string(greeting) != "220 ready\n" {
			t.Fatalf("greeting: got %q, %v", greeting, err)
		}
		for i := range 3 {
			msg := fmt.Sprintf("line %d\n", i)
			io.WriteString(c, msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
				t.Fatalf("echo %d: got %q, %v; want %q", i, got, err, msg)
			}
		}
		c.CloseWrite()
		if rest, err := readAll(t, c); rest != "" || err != nil {
			t.Fatalf("after half-close: got %q, %v; want EOF", rest, err)
		}
	})
	t.Run("backend half-closes, client still sends", func(t *testing.T) {
		got := make(chan string, 1)
		be := startBackend(t, "127.0.0.1:0", func(c *net.TCPConn) {
			io.WriteString(c, "bye")
			c.CloseWrite()
			b, _ := io.ReadAll(c)
			got <- string(b)
		})
		p := startProxy(t, Options{})
		p.SetBackends([]string{be.Addr()})

		c := dial(t, p)
		if s, err := readAll(t, c); s != "bye" || err != nil {
			t.Fatalf("got %q, %v; want bye then EOF", s, err)
		}
		io.WriteString(c, "still here")
		c.CloseWrite()
		if s := <-got; s != "still here" {
			t.Fatalf("backend got %q after its half-close", s)
		}
	})
	t.Run("backend reset is passed on as a reset", func(t *testing.T) {
		be := startBackend(t, "127.0.0.1:0", func(c *net.TCPConn) {
			io.WriteString(c, "partial")
			io.ReadFull(c, make([]byte, 4))
			c.SetLinger(0)
		})
		p := startProxy(t, Options{})
		p.SetBackends([]string{be.Addr()})

		c := dial(t, p)
		io.WriteString(c, "ping")
		got, err := readAll(t, c)
		if got != "partial" || !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %q, %v; want %q then a reset", got, err, "partial")
		}
	})
	berthtest.Eventually(t, 10*time.Second, "sessions to end", func() bool { return proxyGoroutines() == 0 })
}

func TestProxy_LargeTransfer(t *testing.T) {
	const size = 50 << 20
	be := startBackend(t, "127.0.0.1:0", echo)
	p := startProxy(t, Options{})
	p.SetBackends([]string{be.Addr()})
	c := dial(t, p)

	sent := make(chan [sha256.Size]byte, 1)
	go func() {
		h := sha256.New()
		rng := rand.NewChaCha8([32]byte{1, 2, 3})
		buf := make([]byte, 256<<10)
		for n := 0; n < size; n += len(buf) {
			rng.Read(buf)
			h.Write(buf)
			if _, err := c.Write(buf); err != nil {
				t.Errorf("write: %v", err)
				break
			}
		}
		c.CloseWrite()
		sent <- [sha256.Size]byte(h.Sum(nil))
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil || n != size {
		t.Fatalf("read back %d bytes, %v; want %d", n, err, size)
	}
	if got, want := [sha256.Size]byte(h.Sum(nil)), <-sent; got != want {
		t.Fatalf("the bytes read back differ from those sent")
	}
}

func TestProxy_SetBackends(t *testing.T) {
	named := func(name string) func(*net.TCPConn) {
		return func(c *net.TCPConn) {
			io.WriteString(c, name)
			echo(c)
		}
	}
	a := startBackend(t, "127.0.0.1:0", named("a"))
	b := startBackend(t, "127.0.0.1:0", named("b"))
	p := startProxy(t, Options{})

	// first reads the backend's name from a new connection.
	first := func(t *testing.T) (*net.TCPConn, string) {
		c := dial(t, p)
		name := make([]byte, 1)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, name); err != nil {
			t.Fatalf("read name: %v", err)
		}
		c.SetReadDeadline(time.Time{})
		return c, string(name)
	}

	t.Run("no backend yet: the connection waits", func(t *testing.T) {
		done := make(chan string, 1)
		go func() {
			c, err := net.Dial("tcp", p.Addr().String())
			if err != nil {
				done <- err.Error()
				return
			}
			defer c.Close()
			name := make([]byte, 1)
			io.ReadFull(c, name)
			done <- string(name)
		}()
		berthtest.Eventually(t, 10*time.Second, "the connection to wait", func() bool { return p.Stats().Waiting == 1 })
		p.SetBackends([]string{a.Addr()})
		if got := <-done; got != "a" {
			t.Fatalf("got %q; want a", got)
		}
	})
	t.Run("switch", func(t *testing.T) {
		p.SetBackends([]string{a.Addr()})
		ca, name := first(t)
		if name != "a" {
			t.Fatalf("got %q; want a", name)
		}
		p.SetBackends([]string{b.Addr()})
		if _, name := first(t); name != "b" {
			t.Fatalf("after switch: got %q; want b", name)
		}
		// The connection made before the switch stays with a.
		io.WriteString(ca, "still a?")
		got := make([]byte, 8)
		if _, err := io.ReadFull(ca, got); err != nil || string(got) != "still a?" {
			t.Fatalf("old connection: got %q, %v", got, err)
		}
	})
	t.Run("least connections, ties round-robin", func(t *testing.T) {
		p.SetBackends([]string{a.Addr(), b.Addr()})
		idle(t, p)
		count := map[string]int{}
		var conns []*net.TCPConn
		var names []string
		for range 4 {
			c, name := first(t)
			count[name]++
			conns = append(conns, c)
			names = append(names, name)
		}
		if count["a"] != 2 || count["b"] != 2 {
			t.Fatalf("4 connections went %v; want 2 to each", count)
		}
		// Free one connection: the next one goes to its backend, which now
		// has fewer.
		conns[0].Close()
		berthtest.Eventually(t, 10*time.Second, "the closed connection to end", func() bool { return p.Stats().Active == 3 })
		for range 2 {
			c, name := first(t)
			if name != names[0] {
				t.Fatalf("next connection went to %q; want %q, the one with fewer", name, names[0])
			}
			c.Close()
			berthtest.Eventually(t, 10*time.Second, "the connection to end", func() bool { return p.Stats().Active == 3 })
		}
		for _, c := range conns {
			c.Close()
		}
	})
	t.Run("duplicates are ignored", func(t *testing.T) {
		p.SetBackends([]string{a.Addr(), a.Addr(), b.Addr()})
		idle(t, p)
		seen := map[string]int{}
		for range 4 {
			c, name := first(t)
			seen[name]++
			defer c.Close()
		}
		if seen["a"] != 2 || seen["b"] != 2 {
			t.Fatalf("got %v; want 2 each", seen)
		}
	})
}

// idle closes nothing but waits until p has no open connection.
func idle(t testing.TB, p *Proxy) {
	t.Helper()
	berthtest.Eventually(t, 10*time.Second, "no open connection", func() bool { return p.Stats().Active == 0 })
}

func TestProxy_ManyConnections(t *testing.T) {
	be := startBackend(t, "127.0.0.1:0", echo)
	p := startProxy(t, Options{})
	p.SetBackends([]string{be.Addr()})

	const clients, rounds = 100, 10
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			errs <- func() error {
				c, err := net.Dial("tcp", p.Addr().String())
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				for r := range rounds {
					msg := fmt.Sprintf("client %d round %d\n", i, r)
					if _, err := io.WriteString(c, msg); err != nil {
						return err
					}
					got := make([]byte, len(msg))
					if _, err := io.ReadFull(c, got); err != nil {
						return err
					}
					if string(got) != msg {
						return fmt.Errorf("got %q; want %q", got, msg)
					}
				}
				return nil
			}()
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	berthtest.Eventually(t, 10*time.Second, "every session to end", func() bool { return p.Stats().Active == 0 && proxyGoroutines() == 0 })
	if st := p.Stats(); st.Accepted != clients {
		t.Fatalf("stats %+v; want %d accepted", st, clients)
	}
}

func TestLimiter(t *testing.T) {
	l := limiter{every: time.Hour}
	var got []int
	for range 4 {
		l.do(func(dropped int) { got = append(got, dropped) })
	}
	l.last = time.Now().Add(-2 * time.Hour) // an hour went by
	l.do(func(dropped int) { got = append(got, dropped) })
	if want := []int{0, 3}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got calls with dropped %v; want %v", got, want)
	}
}
