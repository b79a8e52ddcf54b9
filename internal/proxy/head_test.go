package proxy

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseHead(t *testing.T) {
	line, h, err := ParseHead([]byte("GET /x HTTP/1.1\r\nHost: a\r\nx-multi: 1\r\nAccept: */*\r\nX-Multi: 2\r\nX-Fold: one\r\n  two\r\nEmpty:\r\n\r\n"))
	if err != nil || line != "GET /x HTTP/1.1" {
		t.Fatalf("line %q, %v", line, err)
	}
	want := http.Header{"Host": {"a"}, "X-Multi": {"1", "2"}, "Accept": {"*/*"}, "X-Fold": {"one two"}, "Empty": {""}}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Errorf("header %v, want %v", h, want)
	}
	for _, bad := range []string{"GET / HTTP/1.1\r\nNo colon\r\n\r\n", "GET / HTTP/1.1\r\nBad name: x\r\n\r\n", "GET / HTTP/1.1\r\n: x\r\n\r\n"} {
		if _, _, err := ParseHead([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// scanHeadCases are heads whose framing scanHead must read as
// framingOf(ParseHead) does; they seed FuzzScanHead too.
var scanHeadCases = []string{
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
	"HTTP/1.1 200\r\r\n\r\n",
	"POST / HTTP/1.1\r\ncontent-LENGTH: 5, 5\r\nContent-Length: 7\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: -0\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: \u00a05\u00a0\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 1\r\n 2\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n 3\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chun\r\n ked\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n \r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chun\u212aed\r\n\r\n", // KELVIN SIGN folds to k
	"POST / HTTP/1.1\r\nTran\u017ffer-Encoding: chunked\r\n\r\n", // LONG S is not a token byte
	"POST / HTTP/1.1\r\nTransfer_Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n",
	"GET / HTTP/1.1\r\nUpgrade: h2c\r\nUpgrade: websocket\r\n\r\n",
	"GET / HTTP/1.1\r\nUpgrade: web\r\n socket\r\n\r\n",
	"GET / HTTP/1.1\n\tfolded before any field: x\n\n",
	"GET / HTTP/1.1\nHost : x\n\n",
	"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
	"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
	"\r\n",
	"",
}

// framingOf is what the proxy read of a head before scanHead, from the
// header ParseHead builds: the reference scanHead must agree with.
func framingOf(h http.Header) (length int64, chunked, websocket bool, err error) {
	websocket = strings.EqualFold(h.Get("Upgrade"), "websocket")
	if te := h.Values("Transfer-Encoding"); len(te) > 0 {
		last := strings.TrimSpace(te[len(te)-1])
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = strings.TrimSpace(last[i+1:])
		}
		if !strings.EqualFold(last, "chunked") {
			return 0, false, websocket, fmt.Errorf("transfer coding other than chunked")
		}
		return -1, true, websocket, nil
	}
	cl := h.Values("Content-Length")
	if len(cl) == 0 {
		return -1, false, websocket, nil
	}
	first, _, _ := strings.Cut(cl[0], ",")
	n, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	if err != nil || n < 0 {
		return 0, false, websocket, fmt.Errorf("bad Content-Length")
	}
	return n, false, websocket, nil
}

// checkScanHead fails t where scanHead disagrees with ParseHead and
// framingOf on head, or parseDecimal with strconv.ParseInt on its first
// line.
func checkScanHead(t *testing.T, head []byte) {
	t.Helper()
	first, f, err := scanHead(head)
	wantFirst, h, wantErr := ParseHead(head)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: scanHead error %v, ParseHead error %v", head, err, wantErr)
	}
	if err != nil {
		return
	}
	if string(first) != wantFirst {
		t.Errorf("%q: first line %q, want %q", head, first, wantFirst)
	}
	length, chunked, err := f.bodyLength()
	wantLength, wantChunked, wantWS, wantErr := framingOf(h)
	if length != wantLength || chunked != wantChunked || f.websocket() != wantWS || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Errorf("%q: length %d chunked %v websocket %v err %v; want %d %v %v %v",
			head, length, chunked, f.websocket(), err, wantLength, wantChunked, wantWS, wantErr)
	}
	n, ok := parseDecimal(first)
	m, perr := strconv.ParseInt(string(first), 10, 64)
	if wantOK := perr == nil && m >= 0; ok != wantOK || (ok && n != m) {
		t.Errorf("parseDecimal(%q) = %d, %v; strconv.ParseInt: %d, %v", first, n, ok, m, perr)
	}
}

func TestScanHead(t *testing.T) {
	for _, head := range scanHeadCases {
		checkScanHead(t, []byte(head))
	}
	for _, s := range []string{"0", "+0", "-0", "007", "-7", "+", "-", "", "1_000", "0x10", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999"} {
		checkScanHead(t, []byte(s))
	}
}

// FuzzScanHead checks that the proxy's own reading of a head agrees with
// ParseHead's, which is what the proxy read before it stopped building a
// header.
func FuzzScanHead(f *testing.F) {
	for _, head := range scanHeadCases {
		f.Add([]byte(head))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		checkScanHead(t, head)
	})
}

func TestMethodString(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PROPFIND", "get"} {
		if got := methodString([]byte(m)); got != m {
			t.Errorf("methodString(%q) = %q", m, got)
		}
	}
	if n := testing.AllocsPerRun(10, func() { methodString([]byte("OPTIONS")) }); n != 0 {
		t.Errorf("methodString of a standard method: %v allocations", n)
	}
}

// The Recorder gets each head byte for byte as it was received, whether
// it came in one read or several, and what was read of it.
func TestObserver_HeadAsReceived(t *testing.T) {
	req := "\r\nPROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nDepth: 1\r\nContent-Length: 3\r\n\r\n"
	resp := "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, split := range []int{1, 5, 1 << 10} {
		t.Run(fmt.Sprintf("reads of %d bytes", split), func(t *testing.T) {
			tp := &tape{t: t}
			o := newObserver(tp, "web", 1, "127.0.0.1:1")
			o.connected("127.0.0.1:2", time.Now())
			feed := func(s string, f func([]byte, time.Time)) {
				for i := 0; i < len(s); i += split {
					f([]byte(s[i:min(i+split, len(s))]), time.Now())
				}
			}
			feed(req+"abc", o.request)
			feed(resp+"2\r\nok\r\n0\r\n\r\n", o.response)
			x := tp.wait(1)[0]
			if got, want := string(x.req.Head), req[2:]; got != want {
				t.Errorf("request head %q, want %q", got, want)
			}
			if got := string(x.resp.Head); got != resp {
				t.Errorf("response head %q, want %q", got, resp)
			}
			if x.req.Method != "PROPFIND" || x.target != "/dav/" || x.reqH.Get("Depth") != "1" || x.req.ContentLength != 3 {
				t.Errorf("request %s %s depth %q length %d", x.req.Method, x.target, x.reqH.Get("Depth"), x.req.ContentLength)
			}
			if x.resp.Status != 207 || x.resp.ContentLength != -1 || x.respH.Get("Content-Type") != "application/xml" {
				t.Errorf("response %d length %d type %q", x.resp.Status, x.resp.ContentLength, x.respH.Get("Content-Type"))
			}
			if x.reqBody.String() != "abc" || x.body.String() != "ok" || x.end.Err != nil {
				t.Errorf("bodies %q %q, err %v", x.reqBody.String(), x.body.String(), x.end.Err)
			}
		})
	}
}

// Following an exchange of a keep-alive connection allocates nothing, with
// a Recorder that keeps nothing.
func TestObserver_NoAllocsPerExchange(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, tc := range []struct{ name, req, resp string }{
		{"get", benchRequest, benchResponse},
		{"post", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
			"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"},
		{"chunked", "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\n\r\n",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n"},
		{"head and 304", "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nIf-None-Match: \"a\"\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &headCopier{}
			o := newObserver(rec, "web", 1, "127.0.0.1:1")
			o.connected("127.0.0.1:2", time.Now())
			req, resp := []byte(tc.req), []byte(tc.resp)
			exchange := func() {
				o.request(req, time.Now())
				o.response(resp, time.Now())
			}
			exchange() // the first one makes what is reused
			if n := testing.AllocsPerRun(100, exchange); n != 0 {
				t.Errorf("%v allocations per exchange", n)
			}
			if o.passive || rec.seen.Load() == 0 {
				t.Errorf("passive %v, %d exchanges ended", o.passive, rec.seen.Load())
			}
		})
	}
}
