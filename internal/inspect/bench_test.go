package inspect

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
)

// nopSink stores nothing: the benchmarks measure the forwarding path only.
type nopSink struct{ next int64 }

func (s *nopSink) Add(_ context.Context, exs []*Exchange) error {
	for _, ex := range exs {
		s.next++
		ex.ID = s.next
	}
	return nil
}
func (s *nopSink) List(context.Context, Filter) ([]Exchange, error) { return nil, nil }
func (s *nopSink) Get(context.Context, int64) (Exchange, error)     { return Exchange{}, ErrNotFound }

// BenchmarkRecorder_Exchange is the cost the proxy pays per exchange: every
// proxy.Recorder call of one request and its response.
func BenchmarkRecorder_Exchange(b *testing.B) {
	for _, bc := range []struct {
		name  string
		body  int
		chunk int
	}{
		{"100B", 100, 100},
		{"1MiB-in-64KiB", 1 << 20, 64 << 10},
		{"8MiB-in-64KiB-over-cap", 8 << 20, 64 << 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r, err := New(Options{Sink: &nopSink{}, QueueLen: 1 << 16, MemoryLimit: 1 << 40})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			chunk := bytes.Repeat([]byte("x"), bc.chunk)
			reqH := reqHead("GET", "/", "localhost", http.Header{"Accept": {"*/*"}, "User-Agent": {"wrk"}})
			respH := respHead(200, "OK", http.Header{"Content-Type": {"text/plain"}})
			now := time.Now()
			b.SetBytes(int64(bc.body))
			b.ReportAllocs()
			for b.Loop() {
				ex := r.Begin(&proxy.RequestHead{Service: "web", Conn: 1, Seq: 1, Remote: "127.0.0.1:1", Start: now,
					Method: "GET", Head: reqH, ContentLength: 0})
				ex.Response(&proxy.ResponseHead{Start: now, Status: 200, Head: respH, ContentLength: int64(bc.body)})
				for sent := 0; sent < bc.body; sent += bc.chunk {
					ex.ResponseBody(chunk)
				}
				ex.End(&proxy.ExchangeEnd{End: now, ResponseBytes: int64(bc.body)})
			}
			b.StopTimer()
			r.Flush(context.Background())
		})
	}
}
