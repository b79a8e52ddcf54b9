package proxy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
)

func TestForward_MixedSizes(t *testing.T) {
	// One keep-alive connection carries small and large messages in turn,
	// so forward goes from copying to splicing and back; each message is
	// echoed and checked.
	be := startBackend(t, "127.0.0.1:0", echo)
	p := startProxy(t, Options{})
	p.SetBackends([]string{be.Addr()})
	c := dial(t, p)

	rng := rand.New(rand.NewPCG(1, 2))
	for i, size := range []int{100, 1, copyMax - 1, copyMax, copyMax + 1, 1 << 20, 100, 5 << 20, 3, firstChunk + 7, 200} {
		msg := make([]byte, size)
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			werr <- err
		}()
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("message %d (%d bytes): %v", i, size, err)
		}
		if err := <-werr; err != nil {
			t.Fatalf("message %d: write: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("message %d (%d bytes) came back different", i, size)
		}
	}
	if runtime.GOOS == "linux" {
		// Idle, the connection holds no pipe.
		berthtest.Eventually(t, 10*time.Second, "pipes to be put back", func() bool { return lent(p) == 0 })
	}
}

func TestForward_Splices(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("splice(2) is Linux's")
	}
	// A large body is spliced: after a 4 MiB transfer, the pool has made
	// pipes (and a small message makes none).
	be := startBackend(t, "127.0.0.1:0", echo)
	p := startProxy(t, Options{})
	p.SetBackends([]string{be.Addr()})
	c := dial(t, p)

	exchange := func(size int) {
		t.Helper()
		msg := bytes.Repeat([]byte("x"), size)
		go c.Write(msg)
		if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	exchange(100)
	if _, n := p.pipes.counts(); n != 0 {
		t.Fatalf("%d pipes made for a 100-byte message; want none", n)
	}
	exchange(4 << 20)
	berthtest.Eventually(t, 10*time.Second, "pipes to be put back", func() bool { return lent(p) == 0 })
	if _, n := p.pipes.counts(); n == 0 {
		t.Fatalf("no pipe was used for a 4 MiB message")
	}
}

func TestIdempotentHTTP(t *testing.T) {
	for _, tc := range []struct {
		first string
		want  bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"HEAD /a?b HTTP/1.0\r\n\r\n", true},
		{"PUT /x HTTP/1.1\r\n", true},
		{"DELETE /x HTTP/1.1\r\n", true},
		{"OPTIONS * HTTP/1.1\r\n", true},
		{"POST / HTTP/1.1\r\n\r\n", false},
		{"PATCH / HTTP/1.1\r\n\r\n", false},
		{"GET / HTTP/1.1", false}, // no end of line yet
		{"GET /\r\n", false},      // HTTP/0.9
		{"GET / SPDY/3\r\n", false},
		{"get / HTTP/1.1\r\n", false},
		{"\x16\x03\x01", false}, // TLS
		{"", false},
	} {
		if got := idempotentHTTP([]byte(tc.first)); got != tc.want {
			t.Errorf("idempotentHTTP(%q) = %v; want %v", tc.first, got, tc.want)
		}
	}
}

func lent(p *Proxy) int {
	n, _ := p.pipes.counts()
	return n
}
