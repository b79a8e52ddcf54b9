package inspect

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// An exchange written from its fields (a replay) reads back the same, bodies
// and frames included, with Timing parsed from its Server-Timing.
func TestCodec_RoundTrip(t *testing.T) {
	ex := Exchange{
		ID: 42, ReplayOf: 7, Service: "web", Conn: 3, Seq: 2, Remote: "127.0.0.1:5000", Backend: "127.0.0.1:8000",
		Request: Request{
			Method: "POST", Target: "/a?b=1", Proto: "HTTP/1.1", Host: "localhost:8000",
			Header: http.Header{"Host": {"localhost:8000"}, "X-Two": {"1", "2"}, "X-Odd": {`say "hi" naïve ☃`}, "Empty": {""}},
			Body:   []byte("req"), Size: 10, Truncated: true,
		},
		Response: Response{
			Proto: "HTTP/1.1", Status: 404, Reason: "Not Found",
			Header: http.Header{"Server-Timing": {"db;dur=1.5"}},
			Body:   []byte("no"), Size: 2,
		},
		Start: t0, FirstByte: t0.Add(time.Millisecond), End: t0.Add(2 * time.Millisecond), Held: time.Microsecond,
		Upgraded: true, Error: "backend closed",
		Timing: []ServerTiming{{Name: "db", Dur: 1.5}},
		Frames: []Frame{
			{Time: t0, FromClient: true, Opcode: 1, Fin: true, Length: 2, Payload: []byte("hi")},
			{Time: t0.Add(time.Second), Opcode: 8, Compressed: true, Length: 0},
		},
		FrameCount: 5,
	}
	body := bodyRecord(t, &ex)
	rec := appendMeta(nil, &ex, nil, nil, 3, len(body))
	var m meta
	if err := decodeMeta(rec, &m); err != nil {
		t.Fatal(err)
	}
	if m.bodyOff != 3 || m.bodyLen != len(body) {
		t.Errorf("body at %d+%d, want 3+%d", m.bodyOff, m.bodyLen, len(body))
	}
	got := m.exchange()
	if err := decodeBody(body, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ex) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, ex)
	}

	// No response head, zero times: they stay absent.
	bare := Exchange{ID: 1, Request: Request{Method: "GET", Target: "/", Proto: "HTTP/1.1", Header: http.Header{}}}
	if err := decodeMeta(appendMeta(nil, &bare, nil, nil, 0, 0), &m); err != nil {
		t.Fatal(err)
	}
	if got := m.exchange(); !reflect.DeepEqual(got, bare) {
		t.Errorf("bare round trip:\n got %+v\nwant %+v", got, bare)
	}
}

// A recorded exchange keeps its heads byte for byte; they are parsed when
// read.
func TestCodec_RawHeads(t *testing.T) {
	req := []byte("GET /x HTTP/1.0\r\nhost: example\r\nX-Folded: a\r\n  b\r\n\r\n")
	resp := []byte("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
	ex := Exchange{ID: 1, Start: t0}
	var m meta
	if err := decodeMeta(appendMeta(nil, &ex, req, resp, 0, 0), &m); err != nil {
		t.Fatal(err)
	}
	if string(m.reqHead) != string(req) || string(m.respHead) != string(resp) {
		t.Errorf("heads changed: %q %q", m.reqHead, m.respHead)
	}
	got := m.exchange()
	if got.Request.Method != "GET" || got.Request.Target != "/x" || got.Request.Proto != "HTTP/1.0" || got.Request.Host != "example" ||
		got.Request.Header.Get("X-Folded") != "a b" || got.Response.Status != 200 || got.Response.Reason != "OK" {
		t.Errorf("parsed %+v %+v", got.Request, got.Response)
	}
}

// Cut or corrupt records fail with an error, never a panic.
func TestCodec_ShortRecords(t *testing.T) {
	ex := Exchange{ID: 9, Service: "web", Request: Request{Method: "GET", Target: "/"}, Frames: []Frame{{Payload: []byte("p")}}}
	rec := appendMeta(nil, &ex, nil, nil, 0, 0)
	body := bodyRecord(t, &ex)
	for n := range len(rec) {
		var m meta
		if err := decodeMeta(rec[:n], &m); err == nil {
			t.Errorf("meta cut at %d of %d bytes: no error", n, len(rec))
		}
	}
	for n := range len(body) {
		var got Exchange
		if err := decodeBody(body[:n], &got); err == nil {
			t.Errorf("body cut at %d of %d bytes: no error", n, len(body))
		}
	}
	var m meta
	if err := decodeMeta(append([]byte{99}, rec[1:]...), &m); err == nil {
		t.Error("a meta record of an unknown format: no error")
	}
}

func FuzzDecodeRecords(f *testing.F) {
	ex := Exchange{ID: 9, Request: Request{Method: "GET", Target: "/", Body: []byte("b")}, Frames: []Frame{{Payload: []byte("p")}}}
	f.Add(appendMeta(nil, &ex, nil, nil, 0, 0))
	f.Add(bodyRecord(f, &ex))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m meta
		if decodeMeta(b, &m) == nil {
			m.exchange()
		}
		var got Exchange
		decodeBody(b, &got)
	})
}

// bodyRecord is ex's body record.
func bodyRecord(t testing.TB, ex *Exchange) []byte {
	var b bytes.Buffer
	n, err := writeBody(&b, ex)
	if err != nil || n != b.Len() {
		t.Fatalf("writeBody: %d, %v; wrote %d", n, err, b.Len())
	}
	return b.Bytes()
}
