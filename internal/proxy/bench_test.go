package proxy

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
)

// The benchmarks compare the proxy with a direct connection to the same
// backend. For the figures against nginx and httputil.ReverseProxy, see
// bench/proxy.

// benchTarget returns the address to dial for the backend at addr: addr
// itself, or a proxy in front of it.
func benchTarget(b *testing.B, viaProxy bool, addr string) string {
	if !viaProxy {
		return addr
	}
	p := startProxy(b, Options{})
	p.SetBackends([]string{addr})
	return p.Addr().String()
}

func benchDial(b *testing.B, addr string) *net.TCPConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// BenchmarkStream measures throughput of one connection sending to a backend
// that discards what it reads.
func BenchmarkStream(b *testing.B) {
	for _, via := range []string{"direct", "proxy"} {
		b.Run(via, func(b *testing.B) {
			be := startBackend(b, "127.0.0.1:0", func(c *net.TCPConn) {
				io.Copy(io.Discard, c)
				c.CloseWrite()
			})
			c := benchDial(b, benchTarget(b, via == "proxy", be.Addr()))
			defer c.Close()
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			c.CloseWrite()
			io.Copy(io.Discard, c) // wait for the backend to have read it all
		})
	}
}

// BenchmarkRoundTrip measures the round trip of a 100-byte message and its
// echo on one open connection: what the proxy adds to each request of a
// keep-alive connection.
func BenchmarkRoundTrip(b *testing.B) {
	for _, via := range []string{"direct", "proxy"} {
		b.Run(via, func(b *testing.B) {
			be := startBackend(b, "127.0.0.1:0", echo)
			c := benchDial(b, benchTarget(b, via == "proxy", be.Addr()))
			defer c.Close()
			msg := make([]byte, 100)
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnect measures a new connection per exchange: connect, send
// 100 bytes, read the 100-byte answer, close. It leaves a socket in
// TIME_WAIT per connection (two through the proxy), so keep -benchtime
// short.
func BenchmarkConnect(b *testing.B) {
	for _, via := range []string{"direct", "proxy"} {
		b.Run(via, func(b *testing.B) {
			be := startBackend(b, "127.0.0.1:0", func(c *net.TCPConn) {
				msg := make([]byte, 100)
				if _, err := io.ReadFull(c, msg); err == nil {
					c.Write(msg)
				}
			})
			addr := benchTarget(b, via == "proxy", be.Addr())
			msg := make([]byte, 100)
			b.ResetTimer()
			for range b.N {
				c := benchDial(b, addr)
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, msg); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// benchRequest is a keep-alive GET of about 100 bytes, as a browser or a
// load generator sends.
const benchRequest = "GET /api/items?page=123 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: berth-bench/1.0\r\nAccept: */*\r\n\r\n"

// benchResponse is a 100-byte response: head and body.
const benchResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 35\r\n\r\n" +
	"0123456789abcdefghijklmnopqrstuvw\r\n"

// answerGETs answers every request head read from c with benchResponse, on
// the raw socket so that the backend itself allocates nothing per exchange.
func answerGETs(c *net.TCPConn) {
	resp := []byte(benchResponse)
	var buf [4096]byte
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return
		}
		n += m
		for {
			i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
			n = copy(buf[:], buf[i+4:n])
		}
		if n == len(buf) {
			return // not a stream of bodiless requests
		}
	}
}

// headCopier is about the least a Recorder can do: it copies each head into
// a reused buffer and keeps nothing. It is its own Exchange, so that it
// allocates nothing either.
type headCopier struct {
	mu   sync.Mutex // guards buf
	buf  []byte
	seen atomic.Int64 // exchanges ended
}

var _ Recorder = (*headCopier)(nil)

func (h *headCopier) Begin(req *RequestHead) Exchange {
	h.mu.Lock()
	h.buf = append(h.buf[:0], req.Head...)
	h.mu.Unlock()
	return h
}

func (h *headCopier) RequestBody([]byte) {}

func (h *headCopier) Response(resp *ResponseHead) {
	h.mu.Lock()
	h.buf = append(h.buf[:0], resp.Head...)
	h.mu.Unlock()
}

func (h *headCopier) ResponseBody([]byte) {}
func (h *headCopier) End(*ExchangeEnd)    { h.seen.Add(1) }

// BenchmarkHTTPExchange measures one exchange of a keep-alive HTTP/1.1
// connection (benchRequest, answered with benchResponse by a raw-socket
// backend): direct, through the plain proxy, and through the HTTP mode with
// headCopier. cpu-ns/op is the whole process's CPU time (user and system)
// per exchange: client, backend and proxy together, so the difference
// between two runs is what the proxy, or its HTTP mode, costs. allocs/op
// counts the process's allocations, of which client and backend make none.
func BenchmarkHTTPExchange(b *testing.B) {
	for _, mode := range []string{"direct", "plain", "http"} {
		b.Run(mode, func(b *testing.B) {
			be := startBackend(b, "127.0.0.1:0", answerGETs)
			addr := be.Addr()
			rec := &headCopier{}
			if mode != "direct" {
				opts := Options{}
				if mode == "http" {
					opts.Recorder = rec
				}
				p := startProxy(b, opts)
				p.SetBackends([]string{addr})
				addr = p.Addr().String()
			}
			c := benchDial(b, addr)
			defer c.Close()
			req, resp := []byte(benchRequest), make([]byte, len(benchResponse))
			exchange := func() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					b.Fatal(err)
				}
			}
			exchange() // connected, and past the replay of the first chunk
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime(b)
			for range b.N {
				exchange()
			}
			cpu = cpuTime(b) - cpu
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			if string(resp) != benchResponse {
				b.Fatalf("response %q", resp)
			}
			if mode == "http" {
				berthtest.Eventually(b, 10*time.Second, "every exchange recorded", func() bool {
					return rec.seen.Load() == int64(b.N)+1
				})
			}
		})
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkObserverExchange is the HTTP mode's own work for one exchange of
// BenchmarkHTTPExchange, without the sockets: what forwardHTTP does with
// each read beyond what forward does, for a request and its response that
// arrive in one read each. It is what the HTTP mode adds to the plain
// proxy's CPU time per exchange, to within cache effects.
func BenchmarkObserverExchange(b *testing.B) {
	rec := &headCopier{}
	o := newObserver(rec, "web", 1, "127.0.0.1:1")
	o.connected("127.0.0.1:2", time.Now())
	req, resp := []byte(benchRequest), []byte(benchResponse)
	b.ReportAllocs()
	for b.Loop() {
		o.blind(true)
		o.request(req, time.Now())
		o.blind(false)
		o.response(resp, time.Now())
	}
	if rec.seen.Load() != int64(b.N) {
		b.Fatalf("%d exchanges ended, want %d", rec.seen.Load(), b.N)
	}
}
