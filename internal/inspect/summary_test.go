package inspect

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// A Summary's JSON is what json.Marshal says of the summarized exchange,
// field for field, appended after what the buffer holds.
func TestSummary_AppendJSON(t *testing.T) {
	for _, ex := range []Exchange{
		{},
		{
			ID: 4, ReplayOf: 1, Service: "web", Conn: 7, Seq: 2, Remote: "127.0.0.1:5000", Backend: "127.0.0.1:8000",
			Request:  Request{Method: "POST", Target: `/a?q="x"&y=<z>`, Proto: "HTTP/1.1", Host: "naïve.test", Size: 12, Truncated: true},
			Response: Response{Proto: "HTTP/1.1", Status: 201, Reason: "Created", Size: 3, Truncated: true},
			Start:    t0, FirstByte: t0.Add(1500 * time.Microsecond), End: t0.Add(time.Second), Held: time.Millisecond,
			Upgraded: true, Error: "cut\nshort \x01", FrameCount: 3,
		},
	} {
		want, err := json.Marshal(&ex)
		if err != nil {
			t.Fatal(err)
		}
		b := (*Summary)(&ex).AppendJSON([]byte("prefix"))
		got, ok := cutPrefix(b, "prefix")
		if !ok {
			t.Fatalf("AppendJSON lost what the buffer held: %s", b)
		}
		var gotV, wantV any
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatalf("AppendJSON is not JSON: %v\n%s", err, got)
		}
		json.Unmarshal(want, &wantV)
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
		}
	}
}

func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, false
	}
	return b[len(prefix):], true
}

// OnStored gets exchanges with their heads unparsed; their Summary reads
// the request and status lines and Host from them, and no header fields.
func TestSummary_OfAStoredExchange(t *testing.T) {
	got := make(chan []byte, 1)
	r, err := New(Options{Sink: &nopSink{}, OnStored: func(exs []*Exchange) {
		for _, ex := range exs {
			got <- (*Summary)(ex).AppendJSON(nil)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	play(r, synth{method: "PUT", target: "/items/7?x=1", host: "api.test", reqHeader: http.Header{"Authorization": {"Bearer s3cret"}},
		reqBody: []byte(`{"a":1}`), status: 418, reason: "I'm a teapot", respHeader: http.Header{"Server-Timing": {"db;dur=2"}}, respBody: []byte("short")})
	var s struct {
		ID      int64 `json:"id"`
		Request struct {
			Method, Target, Proto, Host string
			Header                      http.Header
			Size                        int64
		}
		Response struct {
			Status int
			Reason string
			Size   int64
		}
		ServerTiming any `json:"serverTiming"`
	}
	select {
	case b := <-got:
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("summary is not JSON: %v\n%s", err, b)
		}
		rq, rs := s.Request, s.Response
		if s.ID != 1 || rq.Method != "PUT" || rq.Target != "/items/7?x=1" || rq.Proto != "HTTP/1.1" || rq.Host != "api.test" || rq.Size != 7 ||
			rs.Status != 418 || rs.Reason != "I'm a teapot" || rs.Size != 5 {
			t.Errorf("summary %s: wrong lines, Host or sizes", b)
		}
		if rq.Header != nil || s.ServerTiming != nil {
			t.Errorf("summary %s has header fields or Server-Timing", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnStored was not called within 10 s")
	}
}

// BenchmarkSummary_AppendJSON is what a watched inspect stream costs per
// exchange: the summary of an exchange fresh from the Recorder.
func BenchmarkSummary_AppendJSON(b *testing.B) {
	req := reqHead("GET", "/api/items?page=2", "localhost:8000", http.Header{"Accept": {"*/*"}, "User-Agent": {"wrk"}})
	resp := respHead(200, "OK", http.Header{"Content-Type": {"application/json"}, "Content-Length": {"100"}})
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		ex := Exchange{ID: 7, Service: "web", Conn: 3, Seq: 9, Remote: "127.0.0.1:50000", Backend: "127.0.0.1:8000",
			Start: t0, FirstByte: t0.Add(time.Millisecond), End: t0.Add(2 * time.Millisecond), rawReq: req, rawResp: resp}
		ex.Response.Size = 100
		buf = (*Summary)(&ex).AppendJSON(buf[:0])
	}
}
