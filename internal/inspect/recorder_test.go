package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
)

func TestRecorder_Records(t *testing.T) {
	r := newRecorder(t, Options{})
	reqBody := []byte(`{"name":"widget","tags":["a","b"]}`)
	respBody := []byte(`{"id":7,"name":"widget"}`)
	play(r, synth{
		service: "api", remote: "127.0.0.1:51234", conn: 3, seq: 2,
		method: "POST", target: "/api/items?draft=1", host: "localhost:8000",
		reqHeader: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"abc"}},
		reqBody:   reqBody,
		status:    201, reason: "Created",
		respHeader: http.Header{
			"Content-Type":  {"application/json"},
			"Server-Timing": {`db;dur=12.5;desc="select items", app;dur=30`, "cache;desc=miss"},
		},
		respBody: respBody,
		chunk:    5,
		wait:     40 * time.Millisecond, total: 55 * time.Millisecond, held: 3 * time.Millisecond,
	})
	flush(t, r)
	got := newest(t, r.sink)
	want := Exchange{
		ID: got.ID, Service: "api", Conn: 3, Seq: 2, Remote: "127.0.0.1:51234",
		Request: Request{
			Method: "POST", Target: "/api/items?draft=1", Proto: "HTTP/1.1", Host: "localhost:8000",
			// The head as received: Host is one of its fields.
			Header: http.Header{"Content-Type": {"application/json"}, "Host": {"localhost:8000"}, "X-Request-Id": {"abc"}},
			Body:   reqBody, Size: int64(len(reqBody)),
		},
		Response: Response{
			Proto: "HTTP/1.1", Status: 201, Reason: "Created",
			Header: http.Header{
				"Content-Type":  {"application/json"},
				"Server-Timing": {`db;dur=12.5;desc="select items", app;dur=30`, "cache;desc=miss"},
			},
			Body: respBody, Size: int64(len(respBody)),
		},
		Start: t0, FirstByte: t0.Add(40 * time.Millisecond), End: t0.Add(55 * time.Millisecond),
		Held: 3 * time.Millisecond,
		Timing: []ServerTiming{
			{Name: "db", Dur: 12.5, Desc: "select items"}, {Name: "app", Dur: 30}, {Name: "cache", Desc: "miss"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored exchange:\n got %+v\nwant %+v", got, want)
	}
	if d, w := got.Duration(), 55*time.Millisecond; d != w {
		t.Errorf("Duration = %v, want %v", d, w)
	}
	if d, w := got.Wait(), 40*time.Millisecond; d != w {
		t.Errorf("Wait = %v, want %v", d, w)
	}
	if u, w := got.URL(), "http://localhost:8000/api/items?draft=1"; u != w {
		t.Errorf("URL = %q, want %q", u, w)
	}
	if s := r.Stats(); s.Stored != 1 || s.Dropped != 0 || s.Failed != 0 || s.Buffered != 0 {
		t.Errorf("Stats = %+v, want 1 stored and nothing buffered", s)
	}
}

func TestRecorder_FailedAndUpgraded(t *testing.T) {
	r := newRecorder(t, Options{})
	t.Run("no response", func(t *testing.T) {
		play(r, synth{target: "/slow", total: time.Second, err: errors.New("backend reset the connection")})
		flush(t, r)
		got := newest(t, r.sink)
		if got.Response.Status != 0 || !got.FirstByte.IsZero() || got.Error != "backend reset the connection" {
			t.Errorf("got status %d, first byte %v, error %q", got.Response.Status, got.FirstByte, got.Error)
		}
	})
	t.Run("websocket upgrade is recorded with its 101", func(t *testing.T) {
		play(r, synth{
			target:     "/ws",
			reqHeader:  http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}},
			status:     101,
			respHeader: http.Header{"Upgrade": {"websocket"}, "Sec-Websocket-Accept": {"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}},
			upgraded:   true, wait: time.Millisecond, total: 5 * time.Second,
		})
		flush(t, r)
		got := newest(t, r.sink)
		if got.Response.Status != 101 || !got.Upgraded || got.Response.Header.Get("Upgrade") != "websocket" {
			t.Errorf("got status %d, upgraded %v, header %v", got.Response.Status, got.Upgraded, got.Response.Header)
		}
	})
}

func TestRecorder_BodyCap(t *testing.T) {
	tests := []struct {
		name          string
		cap           int
		body          int
		chunk         int
		wantKept      int
		wantTruncated bool
	}{
		{"under the cap", 100, 60, 7, 60, false},
		{"exactly the cap", 100, 100, 7, 100, false},
		{"over the cap", 100, 250, 7, 100, true},
		{"over the cap in one chunk", 100, 250, 0, 100, true},
		{"bodies not kept", -1, 250, 7, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, unknown := range []bool{false, true} {
				r := newRecorder(t, Options{BodyCap: tt.cap})
				body := bytes.Repeat([]byte("0123456789"), tt.body/10)
				play(r, synth{method: "PUT", reqBody: body, status: 200, respBody: body, chunk: tt.chunk, unknownLen: unknown})
				flush(t, r)
				got := newest(t, r.sink)
				for _, m := range []struct {
					what      string
					body      []byte
					size      int64
					truncated bool
				}{
					{"request", got.Request.Body, got.Request.Size, got.Request.Truncated},
					{"response", got.Response.Body, got.Response.Size, got.Response.Truncated},
				} {
					if len(m.body) != tt.wantKept || !bytes.Equal(m.body, body[:tt.wantKept]) {
						t.Errorf("chunked=%v: %s body: kept %d bytes, want the first %d", unknown, m.what, len(m.body), tt.wantKept)
					}
					if m.size != int64(tt.body) || m.truncated != tt.wantTruncated {
						t.Errorf("chunked=%v: %s: size %d truncated %v, want %d %v", unknown, m.what, m.size, m.truncated, tt.body, tt.wantTruncated)
					}
				}
			}
		})
	}
}

// SetBodyCap applies to the exchanges that begin after it; one in flight
// keeps the cap it began with.
func TestRecorder_SetBodyCap(t *testing.T) {
	r := newRecorder(t, Options{})
	if r.BodyCap() != DefaultBodyCap {
		t.Fatalf("BodyCap() = %d, want the default %d", r.BodyCap(), DefaultBodyCap)
	}
	body := bytes.Repeat([]byte("x"), 100)
	inFlight := r.Begin(&proxy.RequestHead{Method: "GET", Head: reqHead("GET", "/old", "", nil), ContentLength: -1})
	r.SetBodyCap(10)
	play(r, synth{target: "/ten", status: 200, respBody: body})
	inFlight.Response(&proxy.ResponseHead{Status: 200, Head: respHead(200, "", nil), ContentLength: -1})
	inFlight.ResponseBody(body)
	inFlight.End(&proxy.ExchangeEnd{End: time.Now(), ResponseBytes: 100})
	r.SetBodyCap(-1)
	play(r, synth{target: "/none", status: 200, respBody: body})
	flush(t, r)
	for _, want := range []struct {
		target string
		kept   int
	}{{"/old", 100}, {"/ten", 10}, {"/none", 0}} {
		exs := list(t, r.sink, Filter{PathContains: want.target})
		if len(exs) != 1 {
			t.Fatalf("%s: %d exchanges", want.target, len(exs))
		}
		ex := get(t, r.sink, exs[0].ID)
		if len(ex.Response.Body) != want.kept || ex.Response.Size != 100 {
			t.Errorf("%s: kept %d of %d, want %d", want.target, len(ex.Response.Body), ex.Response.Size, want.kept)
		}
	}
}

// TestRecorder_LargeBodyAllocatesOnlyTheCap passes a 50 MB response through
// in 64 KiB chunks, as the proxy forwards a download, and measures what the
// hot path allocates.
func TestRecorder_LargeBodyAllocatesOnlyTheCap(t *testing.T) {
	const (
		size  = 50 << 20
		chunk = 64 << 10
		cap   = DefaultBodyCap
	)
	buf := bytes.Repeat([]byte{'x'}, chunk)
	for _, tt := range []struct {
		name     string
		length   int64 // Content-Length in the head
		maxAlloc uint64
	}{
		{"content-length known: one buffer of the cap", size, cap + 64<<10},
		{"chunked: doubling up to the cap", -1, 2*cap + 64<<10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder(t, Options{})
			ex := r.Begin(&proxy.RequestHead{Service: "web", Method: "GET", Start: t0, Head: reqHead("GET", "/big", "", nil)})
			ex.Response(&proxy.ResponseHead{Start: t0, Status: 200, Head: respHead(200, "", nil), ContentLength: tt.length})

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for sent := 0; sent < size; sent += chunk {
				ex.ResponseBody(buf)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > tt.maxAlloc {
				t.Errorf("passing %d MB through allocated %d bytes, want at most %d", size>>20, alloc, tt.maxAlloc)
			}
			total := int64(size)
			if n := testing.AllocsPerRun(100, func() { ex.ResponseBody(buf); total += chunk }); n != 0 {
				t.Errorf("a chunk past the cap costs %v allocations, want 0", n)
			}
			if s := r.Stats(); s.Buffered > cap {
				t.Errorf("Stats.Buffered = %d while the exchange is in flight, want at most the cap %d", s.Buffered, cap)
			}
			ex.End(&proxy.ExchangeEnd{End: t0.Add(time.Second), ResponseBytes: total})
			flush(t, r)
			got := newest(t, r.sink)
			if len(got.Response.Body) != cap || got.Response.Size != total || !got.Response.Truncated {
				t.Errorf("kept %d bytes of %d, truncated %v; want %d kept, truncated", len(got.Response.Body), got.Response.Size, got.Response.Truncated, cap)
			}
		})
	}
}

func TestRecorder_MemoryLimit(t *testing.T) {
	r := newRecorder(t, Options{BodyCap: 1000, MemoryLimit: 1500})
	body := bytes.Repeat([]byte("a"), 1000)
	// Two exchanges in flight at once: the second finds the budget spent.
	first := r.Begin(&proxy.RequestHead{Method: "POST", Start: t0, Head: reqHead("POST", "/1", "", nil), ContentLength: 1000})
	second := r.Begin(&proxy.RequestHead{Method: "POST", Start: t0, Head: reqHead("POST", "/2", "", nil), ContentLength: 1000})
	first.RequestBody(body)
	second.RequestBody(body)
	if s := r.Stats(); s.Buffered > 1500 || s.Trimmed != 1 {
		t.Errorf("Stats = %+v, want at most 1500 buffered and 1 trimmed", s)
	}
	first.End(&proxy.ExchangeEnd{End: t0, RequestBytes: 1000})
	second.End(&proxy.ExchangeEnd{End: t0, RequestBytes: 1000})
	flush(t, r)
	a, b := get(t, r.sink, 1), get(t, r.sink, 2)
	if len(a.Request.Body) != 1000 || a.Request.Truncated {
		t.Errorf("first: kept %d, truncated %v; want all 1000", len(a.Request.Body), a.Request.Truncated)
	}
	if len(b.Request.Body) != 0 || !b.Request.Truncated || b.Request.Size != 1000 {
		t.Errorf("second: kept %d of %d, truncated %v; want none kept, truncated", len(b.Request.Body), b.Request.Size, b.Request.Truncated)
	}
	if s := r.Stats(); s.Buffered != 0 {
		t.Errorf("Stats.Buffered = %d once stored, want 0", s.Buffered)
	}
}

// TestRecorder_CallsAfterEndAreIgnored: a late body call must not touch a
// buffer that the Recorder's goroutine is storing.
func TestRecorder_CallsAfterEndAreIgnored(t *testing.T) {
	r := newRecorder(t, Options{})
	ex := r.Begin(&proxy.RequestHead{Method: "POST", Start: t0, Head: reqHead("POST", "/", "", nil), ContentLength: -1})
	ex.RequestBody([]byte("kept"))
	ex.End(&proxy.ExchangeEnd{End: t0, RequestBytes: 4})
	ex.RequestBody([]byte(" late"))
	ex.ResponseBody([]byte("late"))
	ex.End(&proxy.ExchangeEnd{End: t0})
	flush(t, r)
	got := newest(t, r.sink)
	if string(got.Request.Body) != "kept" || got.Request.Size != 4 {
		t.Errorf("request body %q size %d, want %q 4", got.Request.Body, got.Request.Size, "kept")
	}
	if s := r.Stats(); s.Stored != 1 {
		t.Errorf("Stats.Stored = %d, want 1 (End twice stores once)", s.Stored)
	}
}

// Recordings are reused once their batch is stored: an exchange recorded
// on a reused one keeps nothing of the one before (heads long and short,
// bodies or none).
func TestRecorder_ReusesRecordings(t *testing.T) {
	r := newRecorder(t, Options{})
	want := map[string]string{} // target → response body
	for round := range 4 {
		for i := range 30 {
			target := fmt.Sprintf("/r%d/e%d?pad=%s", round, i, strings.Repeat("p", (i*37)%700))
			s := synth{method: "POST", target: target, host: fmt.Sprintf("h%d.test", i), status: 200 + i%3,
				respHeader: http.Header{"X-Round": {fmt.Sprint(round)}}}
			if i%2 == 0 {
				s.reqBody = []byte("req " + target)
				s.respBody = []byte("resp " + target)
			}
			want[target] = string(s.respBody)
			play(r, s)
		}
		flush(t, r)
	}
	exs := list(t, r.sink, Filter{Limit: -1})
	if len(exs) != len(want) {
		t.Fatalf("stored %d exchanges, want %d", len(exs), len(want))
	}
	for _, sum := range exs {
		ex := get(t, r.sink, sum.ID)
		target := ex.Request.Target
		body, ok := want[target]
		if !ok {
			t.Fatalf("exchange %d has target %q, which was not sent", ex.ID, target)
		}
		delete(want, target)
		round := strings.TrimPrefix(strings.Split(target, "/")[1], "r")
		if string(ex.Response.Body) != body || ex.Response.Header.Get("X-Round") != round ||
			(body != "" && string(ex.Request.Body) != "req "+target) || (body == "" && ex.Request.Body != nil) {
			t.Errorf("exchange %d (%s): request body %q, response body %q, X-Round %q: mixed with another exchange",
				ex.ID, target, ex.Request.Body, ex.Response.Body, ex.Response.Header.Get("X-Round"))
		}
	}
}

// TestRecorder_ConcurrentConnections runs many connections at once, request
// and response bodies of one exchange on two goroutines as the proxy does;
// run with -race.
func TestRecorder_ConcurrentConnections(t *testing.T) {
	r := newRecorder(t, Options{BodyCap: 4096})
	const conns, perConn = 16, 20
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range perConn {
				ex := r.Begin(&proxy.RequestHead{Service: "web", Conn: uint64(c + 1), Seq: s + 1, Method: "POST", Start: t0, Head: reqHead("POST", "/", "", nil), ContentLength: -1})
				ex.Response(&proxy.ResponseHead{Start: t0, Status: 200, Head: respHead(200, "", nil), ContentLength: -1})
				var both sync.WaitGroup
				both.Add(2)
				go func() {
					defer both.Done()
					for range 10 {
						ex.RequestBody([]byte(strings.Repeat("q", 1000)))
					}
				}()
				go func() {
					defer both.Done()
					for range 10 {
						ex.ResponseBody([]byte(strings.Repeat("r", 1000)))
					}
				}()
				both.Wait()
				ex.End(&proxy.ExchangeEnd{End: t0, RequestBytes: 10000, ResponseBytes: 10000})
			}
		}()
	}
	wg.Wait()
	flush(t, r)
	exs := list(t, r.sink, Filter{})
	if len(exs) != conns*perConn {
		t.Fatalf("stored %d exchanges, want %d", len(exs), conns*perConn)
	}
	for _, ex := range exs {
		if !ex.Request.Truncated || ex.Request.Size != 10000 || ex.Response.Size != 10000 {
			t.Fatalf("exchange %d: sizes %d/%d truncated %v", ex.ID, ex.Request.Size, ex.Response.Size, ex.Request.Truncated)
		}
	}
}

// stalledSink never finishes an Add until its ctx ends.
type stalledSink struct {
	entered chan struct{} // receives a value each time Add starts
	calls   atomic.Int64
}

func (s *stalledSink) Add(ctx context.Context, exs []*Exchange) error {
	s.calls.Add(1)
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *stalledSink) List(context.Context, Filter) ([]Exchange, error) { return nil, nil }
func (s *stalledSink) Get(_ context.Context, id int64) (Exchange, error) {
	return Exchange{}, ErrNotFound
}

func TestRecorder_StalledSinkNeverBlocksTraffic(t *testing.T) {
	sink := &stalledSink{entered: make(chan struct{}, 1)}
	const queue = 4
	r, err := New(Options{Sink: sink, QueueLen: queue, CloseTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	play(r, synth{target: "/first", status: 200, respBody: []byte("x")})
	select {
	case <-sink.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the sink was never called")
	}
	// The sink is stuck in Add. Every End must still return at once: the
	// queue fills, then exchanges are dropped.
	const n = 100
	done := make(chan time.Duration)
	go func() {
		var slowest time.Duration
		for i := range n {
			s := synth{target: "/more", reqBody: []byte("body"), status: 200, respBody: bytes.Repeat([]byte("y"), 100), seq: i}
			start := time.Now()
			play(r, s)
			slowest = max(slowest, time.Since(start))
		}
		done <- slowest
	}()
	select {
	case slowest := <-done:
		t.Logf("slowest exchange with the sink stalled: %v", slowest)
	case <-time.After(10 * time.Second):
		t.Fatal("recording blocked on a stalled sink")
	}
	if s := r.Stats(); s.Dropped != n-queue || s.Queued != queue || s.Stored != 0 {
		t.Errorf("Stats = %+v, want %d dropped, %d queued", s, n-queue, queue)
	}

	start := time.Now()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with the sink stalled, want about CloseTimeout", d)
	}
	s := r.Stats()
	if s.Failed != 1+queue || s.Dropped != n-queue || s.Buffered != 0 {
		t.Errorf("after Close: Stats = %+v, want %d failed, %d dropped, 0 buffered", s, 1+queue, n-queue)
	}
	play(r, synth{target: "/after-close"})
	if s := r.Stats(); s.Dropped != n-queue {
		t.Errorf("an exchange begun after Close counted as dropped: %+v; Begin should return nil", s)
	}
	if err := r.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
}

func TestRecorder_CloseStoresWhatIsQueued(t *testing.T) {
	d := openDBAt(t, dbPath(t), DBOptions{})
	var notified atomic.Int64
	r, err := New(Options{Sink: d, OnStored: func(exs []*Exchange) { notified.Add(int64(len(exs))) }})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		play(r, synth{status: 204})
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(list(t, d, Filter{})); n != 50 {
		t.Errorf("stored %d exchanges by Close, want 50", n)
	}
	if n := notified.Load(); n != 50 {
		t.Errorf("OnStored saw %d exchanges, want 50", n)
	}
}

func TestNew_NeedsASink(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a sink succeeded")
	}
}
