package proxy

import (
	"io"
	"net"
	"testing"
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
