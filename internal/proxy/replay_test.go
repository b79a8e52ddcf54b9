package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
)

// readHead reads an HTTP request head from c.
func readHead(c net.Conn) string {
	r := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := r.ReadString('\n')
		head.WriteString(line)
		if err != nil || line == "\r\n" {
			return head.String()
		}
	}
}

func TestProxy_Replay(t *testing.T) {
	// answer reads n bytes (n < 0: to EOF) and answers "got " + them.
	answer := func(n int) func(*net.TCPConn) {
		return func(c *net.TCPConn) {
			var b []byte
			if n < 0 {
				b, _ = io.ReadAll(c)
			} else {
				b = make([]byte, n)
				io.ReadFull(c, b)
			}
			io.WriteString(c, "got "+string(b))
		}
	}
	// resetAfter makes a handler that reads n bytes (n < 0: to EOF), points
	// the proxy at next and resets the connection without answering.
	resetAfter := func(p **Proxy, n int, next **backendServer) func(*net.TCPConn) {
		return func(c *net.TCPConn) {
			if n < 0 {
				io.ReadAll(c)
			} else {
				io.ReadFull(c, make([]byte, n))
			}
			if *next != nil {
				(*p).SetBackends([]string{(*next).Addr()})
			}
			c.SetLinger(0)
		}
	}

	t.Run("a reset before the first byte: the first chunk goes to the next backend", func(t *testing.T) {
		var p *Proxy
		var b *backendServer
		a := startBackend(t, "127.0.0.1:0", resetAfter(&p, 4, &b))
		b = startBackend(t, "127.0.0.1:0", answer(4))
		p = startProxy(t, Options{})
		p.SetBackends([]string{a.Addr()})

		c := dial(t, p)
		io.WriteString(c, "ping")
		if got, err := readAll(t, c); got != "got ping" || err != nil {
			t.Fatalf("got %q, %v; want %q", got, err, "got ping")
		}
		if st := p.Stats(); st.Replays != 1 || a.Accepted() != 1 || b.Accepted() != 1 {
			t.Fatalf("stats %+v, a accepted %d, b %d; want one replay", st, a.Accepted(), b.Accepted())
		}
	})
	t.Run("the client's half-close is replayed too", func(t *testing.T) {
		var p *Proxy
		var b *backendServer
		a := startBackend(t, "127.0.0.1:0", resetAfter(&p, -1, &b))
		b = startBackend(t, "127.0.0.1:0", answer(-1))
		p = startProxy(t, Options{})
		p.SetBackends([]string{a.Addr()})

		c := dial(t, p)
		io.WriteString(c, "ping")
		c.CloseWrite()
		if got, err := readAll(t, c); got != "got ping" || err != nil {
			t.Fatalf("got %q, %v; want %q", got, err, "got ping")
		}
	})
	t.Run("the old listener closes with the connection in its queue", func(t *testing.T) {
		// What a restart looks like: the old process never accepted the
		// connection, and its kernel resets it when the process goes.
		if _, err := os.Stat("/proc/net/tcp"); err != nil {
			t.Skip("needs /proc/net/tcp:", err)
		}
		old, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		b := startBackend(t, "127.0.0.1:0", answer(4))
		p := startProxy(t, Options{})
		p.SetBackends([]string{old.Addr().String()})

		c := dial(t, p)
		io.WriteString(c, "ping")
		port := old.Addr().(*net.TCPAddr).Port
		berthtest.Eventually(t, 10*time.Second, "the first chunk to reach the old listener's queue", func() bool { return queued(t, port) >= 4 })
		p.SetBackends([]string{b.Addr()})
		old.Close()
		if got, err := readAll(t, c); got != "got ping" || err != nil {
			t.Fatalf("got %q, %v; want %q", got, err, "got ping")
		}
		if st := p.Stats(); st.Replays != 1 {
			t.Fatalf("stats %+v; want one replay", st)
		}
	})
	t.Run("a clean close before the first byte of a GET: replayed", func(t *testing.T) {
		var p *Proxy
		var b *backendServer
		a := startBackend(t, "127.0.0.1:0", func(c *net.TCPConn) {
			readHead(c)
			p.SetBackends([]string{b.Addr()})
		})
		b = startBackend(t, "127.0.0.1:0", func(c *net.TCPConn) {
			readHead(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		})
		p = startProxy(t, Options{})
		p.SetBackends([]string{a.Addr()})

		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + p.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("got %s %q", resp.Status, body)
		}
	})

	// Cases where the proxy must pass the failure on.
	for _, tc := range []struct {
		name    string
		backend func(c *net.TCPConn, sent chan<- bool)
		client  func(c *net.TCPConn, sent <-chan bool)
		want    string // what the client reads before the error
		wantErr error  // nil: EOF
	}{{
		name: "a clean close before the first byte of a POST",
		backend: func(c *net.TCPConn, _ chan<- bool) {
			readHead(c)
		},
		client: func(c *net.TCPConn, _ <-chan bool) {
			io.WriteString(c, "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		},
	}, {
		name: "a clean close before the first byte of something not HTTP",
		backend: func(c *net.TCPConn, _ chan<- bool) {
			io.ReadFull(c, make([]byte, 4))
		},
		client: func(c *net.TCPConn, _ <-chan bool) { io.WriteString(c, "INCR") },
	}, {
		name: "a reset after the backend sent a byte",
		backend: func(c *net.TCPConn, _ chan<- bool) {
			io.WriteString(c, "x")
			io.ReadFull(c, make([]byte, 4))
			c.SetLinger(0)
		},
		client:  func(c *net.TCPConn, _ <-chan bool) { io.WriteString(c, "ping") },
		want:    "x",
		wantErr: syscall.ECONNRESET,
	}, {
		name: "a reset after the client sent more than its first chunk",
		backend: func(c *net.TCPConn, sent chan<- bool) {
			io.ReadFull(c, make([]byte, 4))
			sent <- true
			io.ReadFull(c, make([]byte, 4))
			c.SetLinger(0)
		},
		client: func(c *net.TCPConn, sent <-chan bool) {
			io.WriteString(c, "ping")
			<-sent
			io.WriteString(c, "more")
		},
		wantErr: syscall.ECONNRESET,
	}} {
		t.Run(tc.name+": passed on", func(t *testing.T) {
			sent := make(chan bool, 1)
			a := startBackend(t, "127.0.0.1:0", func(c *net.TCPConn) { tc.backend(c, sent) })
			b := startBackend(t, "127.0.0.1:0", answer(4))
			p := startProxy(t, Options{})
			// Both backends: a replay would go to b, which is free.
			p.SetBackends([]string{a.Addr(), b.Addr()})

			c := dial(t, p)
			tc.client(c, sent)
			got, err := readAll(t, c)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			if st := p.Stats(); st.Replays != 0 || b.Accepted() != 0 {
				t.Fatalf("stats %+v, b accepted %d; want no replay", st, b.Accepted())
			}
		})
	}

	t.Run("at most 3 replays", func(t *testing.T) {
		var p *Proxy
		var none *backendServer
		a := startBackend(t, "127.0.0.1:0", resetAfter(&p, 4, &none))
		p = startProxy(t, Options{})
		p.SetBackends([]string{a.Addr()})
		c := dial(t, p)
		io.WriteString(c, "ping")
		if got, err := readAll(t, c); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %q, %v; want a reset", got, err)
		}
		if st := p.Stats(); st.Replays != maxReplays || a.Accepted() != maxReplays+1 {
			t.Fatalf("stats %+v, backend accepted %d; want %d replays", st, a.Accepted(), maxReplays)
		}
	})
}

// queued returns the bytes waiting in the receive queue of a connection
// accepted by the kernel on local port but not yet by the program, read
// from /proc/net/tcp; -1 if there is none.
func queued(t testing.TB, port int) int {
	t.Helper()
	f, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	hexPort := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(f), "\n")[1:] {
		fields := strings.Fields(line)
		// sl local_address rem_address st tx_queue:rx_queue …
		if len(fields) < 5 || !strings.HasSuffix(fields[1], hexPort) || fields[3] != "01" {
			continue
		}
		_, rx, _ := strings.Cut(fields[4], ":")
		n, _ := strconv.ParseInt(rx, 16, 64)
		return int(n)
	}
	return -1
}
