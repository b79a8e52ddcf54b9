package inspect

import (
	"bytes"
	"hash/crc32"
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
	sum := crc32.Checksum(body, crcTable)
	rec := appendMeta(nil, &ex, nil, nil, 3, len(body), sum)
	var m meta
	if err := decodeMeta(rec, &m); err != nil {
		t.Fatal(err)
	}
	if m.bodyOff != 3 || m.bodyLen != len(body) || !m.hasCRC || m.bodyCRC != sum {
		t.Errorf("body at %d+%d, checksum %v %x; want 3+%d, %x", m.bodyOff, m.bodyLen, m.hasCRC, m.bodyCRC, len(body), sum)
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
	if err := decodeMeta(appendMeta(nil, &bare, nil, nil, 0, 0, 0), &m); err != nil {
		t.Fatal(err)
	}
	if got := m.exchange(); !reflect.DeepEqual(got, bare) {
		t.Errorf("bare round trip:\n got %+v\nwant %+v", got, bare)
	}

	// A record of format 1 (schema 0005) has no checksum.
	if err := decodeMeta(appendMetaVersion(nil, 1, &ex, nil, nil, 3, len(body), sum), &m); err != nil {
		t.Fatal(err)
	}
	if got := m.exchange(); m.hasCRC || m.bodyOff != 3 || m.bodyLen != len(body) || !reflect.DeepEqual(got, withoutBodies(ex)) {
		t.Errorf("format 1: checksum %v, body at %d+%d\n got %+v\nwant %+v", m.hasCRC, m.bodyOff, m.bodyLen, got, withoutBodies(ex))
	}
}

// withoutBodies is ex as its meta record alone gives it back.
func withoutBodies(ex Exchange) Exchange {
	ex.Request.Body, ex.Response.Body, ex.Frames = nil, nil, nil
	return ex
}

// A recorded exchange keeps its heads byte for byte; they are parsed when
// read.
func TestCodec_RawHeads(t *testing.T) {
	req := []byte("GET /x HTTP/1.0\r\nhost: example\r\nX-Folded: a\r\n  b\r\n\r\n")
	resp := []byte("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
	ex := Exchange{ID: 1, Start: t0}
	var m meta
	if err := decodeMeta(appendMeta(nil, &ex, req, resp, 0, 0, 0), &m); err != nil {
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
	rec := appendMeta(nil, &ex, nil, nil, 0, 0, 0)
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
	for _, v := range []byte{0, metaVersion + 1} {
		var m meta
		if err := decodeMeta(append([]byte{v}, rec[1:]...), &m); err == nil {
			t.Errorf("a meta record of format %d: no error", v)
		}
	}
}

// startBytes and endBytes write what appendBytes does, whatever the size
// of the length.
func TestCodec_BytesInPlace(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 1 << 21} {
		p := bytes.Repeat([]byte{'p'}, n)
		b, at := startBytes([]byte("x"))
		b = append(b, p...)
		b, start := endBytes(b, at)
		if want := appendBytes([]byte("x"), p); !bytes.Equal(b, want) || start != len(want)-n {
			t.Errorf("%d bytes: wrote %d bytes, starting at %d; want %d, at %d", n, len(b), start, len(want), len(want)-n)
		}
	}
}

func FuzzDecodeRecords(f *testing.F) {
	ex := Exchange{ID: 9, Request: Request{Method: "GET", Target: "/", Body: []byte("b")}, Frames: []Frame{{Payload: []byte("p")}}}
	f.Add(appendMeta(nil, &ex, nil, nil, 0, 0, 0))
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

// bodyRecord is ex's body record, the same whether writeBody gathers none,
// some or all of it.
func bodyRecord(t testing.TB, ex *Exchange) []byte {
	var want []byte
	for _, gather := range []int{0, 16, 1 << 10} {
		var b bytes.Buffer
		n, sum, err := writeBody(&b, ex, make([]byte, 0, gather))
		if err != nil || n != b.Len() || sum != crc32.Checksum(b.Bytes(), crcTable) {
			t.Fatalf("writeBody gathering %d: %d, %x, %v; wrote %d, checksum %x", gather, n, sum, err, b.Len(), crc32.Checksum(b.Bytes(), crcTable))
		}
		if want != nil && !bytes.Equal(b.Bytes(), want) {
			t.Fatalf("writeBody gathering %d:\n%q\nwant\n%q", gather, b.Bytes(), want)
		}
		want = b.Bytes()
	}
	return want
}
