package inspect

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/proxy"
)

// TestMain ends the package's tests with a goroutine-leak check: every
// Recorder and DB a test opened must have been closed.
func TestMain(m *testing.M) { berthtest.Main(m) }

// t0 is the start of every synthetic exchange's clock.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func dbPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "state", FileName)
}

// openDBAt opens the database at path, closed at the end of the test.
func openDBAt(t testing.TB, path string, o DBOptions) *DB {
	t.Helper()
	d, err := OpenDB(path, o)
	if err != nil {
		t.Fatalf("OpenDB(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("DB.Close: %v", err)
		}
	})
	return d
}

// newRecorder returns a Recorder on a new database (unless o.Sink is set),
// both closed at the end of the test.
func newRecorder(t testing.TB, o Options) *Recorder {
	t.Helper()
	if o.Sink == nil {
		o.Sink = openDBAt(t, dbPath(t), DBOptions{})
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() }) // registered after the DB's: runs first
	return r
}

// synth is an exchange as a proxy would report it.
type synth struct {
	service    string
	remote     string
	conn       uint64
	seq        int
	method     string
	target     string
	host       string
	reqHeader  http.Header
	reqBody    []byte
	status     int // 0: no response
	reason     string
	respHeader http.Header
	respBody   []byte
	chunk      int           // body chunk size; 0: each body in one call
	start      time.Time     // t0 if zero
	wait       time.Duration // start → response head
	total      time.Duration // start → end
	held       time.Duration
	upgraded   bool
	err        error
	unknownLen bool // report ContentLength -1 (chunked)
}

// play drives rec through one exchange the way the proxy will: Begin,
// request body chunks, Response, response body chunks, End.
func play(rec proxy.Recorder, s synth) {
	if s.service == "" {
		s.service = "web"
	}
	if s.method == "" {
		s.method = "GET"
	}
	if s.target == "" {
		s.target = "/"
	}
	if s.host == "" {
		s.host = "localhost:8000"
	}
	if s.remote == "" {
		s.remote = "127.0.0.1:40000"
	}
	if s.start.IsZero() {
		s.start = t0
	}
	if s.reqHeader == nil {
		s.reqHeader = http.Header{}
	}
	cl := func(b []byte) int64 {
		if s.unknownLen {
			return -1
		}
		return int64(len(b))
	}
	ex := rec.Begin(&proxy.RequestHead{
		Service: s.service, Conn: s.conn, Seq: s.seq, Remote: s.remote, Start: s.start,
		Method: s.method, Head: reqHead(s.method, s.target, s.host, s.reqHeader), ContentLength: cl(s.reqBody),
	})
	if ex == nil {
		return
	}
	chunks(s.reqBody, s.chunk, ex.RequestBody)
	if s.status != 0 {
		if s.respHeader == nil {
			s.respHeader = http.Header{}
		}
		ex.Response(&proxy.ResponseHead{
			Start: s.start.Add(s.wait), Status: s.status, Head: respHead(s.status, s.reason, s.respHeader),
			ContentLength: cl(s.respBody),
		})
		chunks(s.respBody, s.chunk, ex.ResponseBody)
	}
	ex.End(&proxy.ExchangeEnd{
		End: s.start.Add(s.total), RequestBytes: int64(len(s.reqBody)), ResponseBytes: int64(len(s.respBody)),
		Upgraded: s.upgraded, Held: s.held, Err: s.err,
	})
}

func chunks(b []byte, size int, f func([]byte)) {
	if size <= 0 {
		size = len(b)
	}
	for len(b) > 0 {
		n := min(size, len(b))
		f(b[:n])
		b = b[n:]
	}
}

// flush waits until r has stored everything that ended.
func flush(t testing.TB, r *Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// list returns every stored exchange matching f, newest first.
func list(t testing.TB, s Sink, f Filter) []Exchange {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = -1
	}
	exs, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return exs
}

func ids(exs []Exchange) []int64 {
	out := []int64{}
	for _, ex := range exs {
		out = append(out, ex.ID)
	}
	return out
}

func get(t testing.TB, s Sink, id int64) Exchange {
	t.Helper()
	ex, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%d): %v", id, err)
	}
	return ex
}

// newest returns the newest stored exchange, with its bodies.
func newest(t testing.TB, s Sink) Exchange {
	t.Helper()
	exs := list(t, s, Filter{Limit: 1})
	if len(exs) == 0 {
		t.Fatal("no exchange stored")
	}
	return get(t, s, exs[0].ID)
}

// reqHead is a request head as the proxy passes it to Begin.
func reqHead(method, target, host string, h http.Header) []byte {
	return appendRequestHead(nil, &Request{Method: method, Target: target, Proto: "HTTP/1.1", Host: host, Header: h})
}

// respHead is a response head as the proxy passes it to Response.
func respHead(status int, reason string, h http.Header) []byte {
	return appendResponseHead(nil, &Response{Proto: "HTTP/1.1", Status: status, Reason: reason, Header: h})
}
