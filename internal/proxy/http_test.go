package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/berthtest"
)

// tape is a Recorder that keeps everything it is told, and fails the test
// on a call out of the contract's order. It copies what it is passed, which
// is valid only during the call, and parses the heads with ParseHead.
type tape struct {
	t       testing.TB
	frames  bool // its exchanges implement FrameRecorder
	sateAt  int  // if > 0, an exchange is Sated once it has this many bytes of a body
	decline func(target string) bool

	mu    sync.Mutex
	ended []*taped
	all   []*taped
}

type taped struct {
	tp      *tape
	req     *RequestHead // a copy, Head too
	target  string       // from req.Head
	reqH    http.Header  // ParseHead(req.Head)
	resp    *ResponseHead
	respH   http.Header
	reqBody bytes.Buffer
	body    bytes.Buffer
	end     *ExchangeEnd
	frames  []Frame
}

type framedTape struct{ *taped }

func (tp *tape) Begin(req *RequestHead) Exchange {
	line, h := tp.parse(req.Head)
	_, target, _ := strings.Cut(line, " ")
	target, _, _ = strings.Cut(target, " ")
	if tp.decline != nil && tp.decline(target) {
		return nil
	}
	r := *req
	r.Head = bytes.Clone(req.Head)
	x := &taped{tp: tp, req: &r, target: target, reqH: h}
	tp.mu.Lock()
	tp.all = append(tp.all, x)
	tp.mu.Unlock()
	if tp.frames {
		return framedTape{x}
	}
	return x
}

// parse parses a head the proxy passed, which ParseHead must not fail on.
func (tp *tape) parse(head []byte) (string, http.Header) {
	line, h, err := ParseHead(bytes.Clone(head))
	if err != nil {
		tp.t.Errorf("ParseHead(%q) of a head the proxy passed: %v", head, err)
	}
	return line, h
}

func (x *taped) check(what string) {
	if x.end != nil {
		x.tp.t.Errorf("%s after End (%s %s)", what, x.req.Method, x.target)
	}
}

func (x *taped) RequestBody(p []byte) {
	x.tp.mu.Lock()
	defer x.tp.mu.Unlock()
	x.check("RequestBody")
	x.reqBody.Write(p)
}

func (x *taped) Response(r *ResponseHead) {
	x.tp.mu.Lock()
	defer x.tp.mu.Unlock()
	x.check("Response")
	if x.resp != nil {
		x.tp.t.Errorf("second Response for %s", x.target)
	}
	_, x.respH = x.tp.parse(r.Head)
	c := *r
	c.Head = bytes.Clone(r.Head)
	x.resp = &c
}

func (x *taped) ResponseBody(p []byte) {
	x.tp.mu.Lock()
	defer x.tp.mu.Unlock()
	x.check("ResponseBody")
	if x.resp == nil {
		x.tp.t.Errorf("ResponseBody before Response")
	}
	x.body.Write(p)
}

func (x *taped) End(e *ExchangeEnd) {
	x.tp.mu.Lock()
	defer x.tp.mu.Unlock()
	x.check("End")
	c := *e
	x.end = &c
	x.tp.ended = append(x.tp.ended, x)
}

func (x *taped) Sated(response bool) bool {
	x.tp.mu.Lock()
	defer x.tp.mu.Unlock()
	b := &x.reqBody
	if response {
		b = &x.body
	}
	return x.tp.sateAt > 0 && b.Len() >= x.tp.sateAt
}

func (x framedTape) Frame(f *Frame) {
	x.tp.mu.Lock()
	defer x.tp.mu.Unlock()
	x.check("Frame")
	g := *f
	g.Payload = bytes.Clone(f.Payload)
	x.frames = append(x.frames, g)
}

// wait returns the first n exchanges to end, once they have.
func (tp *tape) wait(n int) []*taped {
	tp.t.Helper()
	berthtest.Eventually(tp.t, 10*time.Second, fmt.Sprintf("%d exchanges recorded", n), func() bool {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		return len(tp.ended) >= n
	})
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]*taped(nil), tp.ended[:n]...)
}

// inspected starts a proxy in HTTP mode in front of the handler h.
func inspected(t *testing.T, h http.Handler, opts Options) (*Proxy, *tape, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tp := &tape{t: t}
	if opts.Recorder == nil {
		opts.Recorder = tp
	}
	p := startProxy(t, opts)
	p.SetBackends([]string{srv.Listener.Addr().String()})
	return p, tp, srv
}

// client is an HTTP client whose connections are closed at the end of the
// test.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func TestHTTPMode_KeepAliveExchanges(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Server-Timing", "db;dur=1.5")
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/stream" {
			w.Write([]byte(`{"part":1}`))
			w.(http.Flusher).Flush() // chunked from here
			w.Write([]byte(`{"part":2}`))
			return
		}
		fmt.Fprintf(w, `{"got":%q}`, body)
	})
	p, tp, srv := inspected(t, h, Options{})
	c := client(t)
	base := "http://" + p.Addr().String()

	resp, err := c.Get(base + "/a?q=1")
	mustBody(t, resp, err, `{"got":""}`)
	req, _ := http.NewRequest("POST", base+"/b", strings.NewReader(`{"name":"ada"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = c.Do(req)
	mustBody(t, resp, err, `{"got":"{\"name\":\"ada\"}"}`)
	// A chunked request body (unknown length) and a chunked response.
	pr, pw := io.Pipe()
	go func() { pw.Write([]byte("one,")); pw.Write([]byte("two")); pw.Close() }()
	resp, err = c.Post(base+"/stream", "text/plain", pr)
	mustBody(t, resp, err, `{"part":1}{"part":2}`)

	ex := tp.wait(3)
	for i, want := range []struct{ method, target, reqBody, body string }{
		{"GET", "/a?q=1", "", `{"got":""}`},
		{"POST", "/b", `{"name":"ada"}`, `{"got":"{\"name\":\"ada\"}"}`},
		{"POST", "/stream", "one,two", `{"part":1}{"part":2}`},
	} {
		x := ex[i]
		if x.req.Method != want.method || x.target != want.target {
			t.Errorf("exchange %d: %s %s, want %s %s", i, x.req.Method, x.target, want.method, want.target)
		}
		if x.req.Seq != i+1 || x.req.Conn != ex[0].req.Conn {
			t.Errorf("exchange %d: conn %d seq %d; want one keep-alive connection", i, x.req.Conn, x.req.Seq)
		}
		if got := x.reqBody.String(); got != want.reqBody {
			t.Errorf("exchange %d: request body %q, want %q", i, got, want.reqBody)
		}
		if x.resp == nil || x.resp.Status != 200 || x.respH.Get("Server-Timing") != "db;dur=1.5" {
			t.Fatalf("exchange %d: response %+v", i, x.resp)
		}
		if got := x.body.String(); got != want.body {
			t.Errorf("exchange %d: response body %q, want %q", i, got, want.body)
		}
		if x.end.Err != nil || x.end.Backend != srv.Listener.Addr().String() || x.end.ResponseBytes != int64(len(want.body)) {
			t.Errorf("exchange %d: end %+v", i, x.end)
		}
		if !(x.req.Start.Before(x.resp.Start) || x.req.Start.Equal(x.resp.Start)) || x.end.End.Before(x.resp.Start) {
			t.Errorf("exchange %d: times out of order: %v %v %v", i, x.req.Start, x.resp.Start, x.end.End)
		}
	}
	if got := ex[1].reqH.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("request header Authorization = %q", got)
	}
	if ex[1].req.ContentLength != 14 || ex[2].req.ContentLength != -1 || ex[2].resp.ContentLength != -1 {
		t.Errorf("content lengths: %d %d %d", ex[1].req.ContentLength, ex[2].req.ContentLength, ex[2].resp.ContentLength)
	}
}

func mustBody(t *testing.T, resp *http.Response, err error, want string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != want {
		t.Fatalf("body %q (%v), want %q", b, err, want)
	}
}

// An SSE stream reaches the client event by event: the server sends its
// second event only once the client has the first.
func TestHTTPMode_SSEIsNotBuffered(t *testing.T) {
	got := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			fmt.Fprint(w, "data: timeout\n\n")
			return
		}
		fmt.Fprint(w, "data: two\n\n")
	})
	p, tp, _ := inspected(t, h, Options{})
	resp, err := client(t).Get("http://" + p.Addr().String() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	line, _ := r.ReadString('\n')
	if line != "data: one\n" {
		t.Fatalf("first event %q", line)
	}
	close(got)
	rest, _ := io.ReadAll(r)
	if string(rest) != "\ndata: two\n\n" {
		t.Fatalf("rest %q: the first event was held back", rest)
	}
	x := tp.wait(1)[0]
	if x.body.String() != "data: one\n\ndata: two\n\n" {
		t.Errorf("recorded %q", x.body.String())
	}
}

func TestHTTPMode_LargeDownloadIntact(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB through the proxy")
	}
	const size = 50 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) })
	p, tp, _ := inspected(t, h, Options{})
	resp, err := client(t).Get("http://" + p.Addr().String() + "/big")
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.New()
	n, err := io.Copy(hash, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || !bytes.Equal(hash.Sum(nil), sha256Of(data)) {
		t.Fatalf("download: %d bytes, %v, or corrupted", n, err)
	}
	x := tp.wait(1)[0]
	if x.end.ResponseBytes != size || x.end.Err != nil || x.body.Len() != size {
		t.Errorf("recorded %d bytes (%d passed to the recorder), err %v", x.end.ResponseBytes, x.body.Len(), x.end.Err)
	}
}

func sha256Of(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// Past what the Recorder wants of a body, the rest is spliced: it arrives
// whole, is counted, and the connection's next exchange is still parsed.
func TestHTTPMode_SplicesPastTheCap(t *testing.T) {
	const size = 8 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/up":
			fmt.Fprintf(w, "got %d", n)
		case "/chunked":
			for i := 0; i < len(data); i += 1 << 20 {
				w.Write(data[i : i+1<<20])
				w.(http.Flusher).Flush()
			}
		default:
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data)
		}
	})
	tp := &tape{t: t, sateAt: 4096}
	p, _, _ := inspected(t, h, Options{Recorder: tp})
	c := client(t)
	base := "http://" + p.Addr().String()
	resp, err := c.Get(base + "/down")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %d bytes, %v, or corrupted", len(got), err)
	}
	resp, err = c.Post(base+"/up", "application/octet-stream", bytes.NewReader(data))
	mustBody(t, resp, err, fmt.Sprintf("got %d", size))
	resp, err = c.Get(base + "/chunked")
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("chunked download: %d bytes, %v, or corrupted", len(got), err)
	}

	ex := tp.wait(3)
	for i, x := range ex {
		if x.end.Err != nil || x.req.Conn != ex[0].req.Conn || x.req.Seq != i+1 {
			t.Errorf("exchange %d: conn %d seq %d err %v", i, x.req.Conn, x.req.Seq, x.end.Err)
		}
	}
	for _, x := range []*taped{ex[0], ex[2]} {
		if x.end.ResponseBytes != size || x.body.Len() >= size || x.body.Len() < 4096 {
			t.Errorf("%s: counted %d, shown %d of %d", x.target, x.end.ResponseBytes, x.body.Len(), size)
		}
	}
	if up := ex[1]; up.end.RequestBytes != size || up.reqBody.Len() >= size || up.body.String() != fmt.Sprintf("got %d", size) {
		t.Errorf("upload: counted %d, shown %d; answer %q", up.end.RequestBytes, up.reqBody.Len(), up.body.String())
	}
}

// Raw exchanges that net/http's client would not send: pipelining, HEAD,
// interim responses, a body that runs until the close.
func TestHTTPMode_Framing(t *testing.T) {
	cases := []struct {
		name    string
		send    string
		answer  string // the backend's reply once it has read the request(s)
		want    []string
		wantErr bool
	}{
		{
			name:   "pipelined",
			send:   "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nbb",
			want:   []string{"GET /1 200 a", "GET /2 404 bb"},
		},
		{
			name:   "head then get",
			send:   "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n",
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			want:   []string{"HEAD /h 200 ", "GET /g 204 "},
		},
		{
			name:   "100 continue",
			send:   "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
			answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nhi\r\n0\r\nX-T: 1\r\n\r\n",
			want:   []string{"POST /p 201 hi"},
		},
		{
			name:   "until close",
			send:   "GET /old HTTP/1.1\r\nHost: x\r\n\r\n",
			answer: "HTTP/1.1 200 OK\r\n\r\nall of it",
			want:   []string{"GET /old 200 all of it"},
		},
		{
			name:    "cut short",
			send:    "GET /cut HTTP/1.1\r\nHost: x\r\n\r\n",
			answer:  "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
			want:    []string{"GET /cut 200 abc"},
			wantErr: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp := &tape{t: t}
			be := startBackend(t, "127.0.0.1:0", func(c *net.TCPConn) {
				buf := make([]byte, len(tc.send))
				io.ReadFull(c, buf)
				io.WriteString(c, tc.answer)
			})
			p := startProxy(t, Options{Recorder: tp})
			p.SetBackends([]string{be.Addr()})
			c := dial(t, p)
			io.WriteString(c, tc.send)
			got, _ := readAll(t, c)
			if got != tc.answer {
				t.Fatalf("client got %q, want %q", got, tc.answer)
			}
			ex := tp.wait(len(tc.want))
			for i, w := range tc.want {
				x := ex[i]
				if g := fmt.Sprintf("%s %s %d %s", x.req.Method, x.target, x.resp.Status, x.body.String()); g != w {
					t.Errorf("exchange %d: %q, want %q", i, g, w)
				}
				if (x.end.Err != nil) != tc.wantErr {
					t.Errorf("exchange %d: err %v, want error %v", i, x.end.Err, tc.wantErr)
				}
			}
		})
	}
}

// Bytes that are not HTTP pass untouched and record nothing.
func TestHTTPMode_NotHTTP(t *testing.T) {
	tp := &tape{t: t}
	be := startBackend(t, "127.0.0.1:0", echo)
	p := startProxy(t, Options{Recorder: tp})
	p.SetBackends([]string{be.Addr()})
	c := dial(t, p)
	msg := "\x16\x03\x01 not http at all\r\n\r\nmore"
	io.WriteString(c, msg)
	c.CloseWrite()
	if got, _ := readAll(t, c); got != msg {
		t.Fatalf("echo %q", got)
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if len(tp.all) != 0 {
		t.Errorf("recorded %d exchanges of a non-HTTP stream", len(tp.all))
	}
}

func TestHTTPMode_HoldTimeoutAnswers503(t *testing.T) {
	tp := &tape{t: t}
	p := startProxy(t, Options{Recorder: tp, HoldTimeout: 100 * time.Millisecond})
	resp, err := client(t).Get("http://" + p.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), `service "web" did not accept connections`) {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	x := tp.wait(1)[0]
	if x.resp.Status != 503 || x.end.Backend != "" {
		t.Errorf("recorded %d from %q", x.resp.Status, x.end.Backend)
	}
}

func TestHTTPMode_WebSocketFrames(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), typ, append([]byte("echo "), msg...))
		}
	})
	tp := &tape{t: t, frames: true}
	p, _, _ := inspected(t, h, Options{Recorder: tp})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+p.Addr().String()+"/ws", &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	big := strings.Repeat("x", 70000) // a 64-bit length, and more than MaxFramePayload
	for _, m := range []string{"hello", big} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != "echo "+m {
			t.Fatalf("echo of %d bytes: %d bytes, %v", len(m), len(got), err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "bye")

	x := tp.wait(1)[0]
	if x.resp.Status != 101 || !x.end.Upgraded || x.end.Err != nil {
		t.Fatalf("status %d upgraded %v err %v", x.resp.Status, x.end.Upgraded, x.end.Err)
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var seen []string
	for _, f := range x.frames {
		p := string(f.Payload)
		if f.Opcode == 8 {
			p = "close"
		}
		if len(p) > 12 {
			p = fmt.Sprintf("%s…(%d of %d)", p[:6], len(f.Payload), f.Length)
		}
		seen = append(seen, fmt.Sprintf("%v:%d:%s", f.FromClient, f.Opcode, p))
	}
	want := []string{
		"true:1:hello", "false:1:echo hello",
		fmt.Sprintf("true:1:xxxxxx…(%d of 70000)", MaxFramePayload),
		fmt.Sprintf("false:1:echo x…(%d of 70005)", MaxFramePayload),
		"true:8:close", "false:8:close",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("frames:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

// A Recorder that declines an exchange still gets the next ones of the
// connection right.
func TestHTTPMode_DeclinedExchange(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })
	srv := httptest.NewServer(h)
	defer srv.Close()
	tp := &tape{t: t, decline: func(target string) bool { return target == "/skip" }}
	p := startProxy(t, Options{Recorder: tp})
	p.SetBackends([]string{srv.Listener.Addr().String()})
	c := client(t)
	for _, path := range []string{"/skip", "/keep"} {
		resp, err := c.Post("http://"+p.Addr().String()+path, "text/plain", strings.NewReader(path))
		mustBody(t, resp, err, path)
	}
	x := tp.wait(1)[0]
	if x.target != "/keep" || x.req.Seq != 2 || x.body.String() != "/keep" {
		t.Errorf("recorded %s seq %d body %q", x.target, x.req.Seq, x.body.String())
	}
}

// FuzzObserver feeds arbitrary bytes both ways: the HTTP mode may give up,
// never panic, and ends every exchange it began exactly once.
func FuzzObserver(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), 7)
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), []byte("HTTP/1.1 101 Switching\r\n\r\n\x81\x02hi"), 3)
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x85abcd\x00\x00\x00\x00\x00"), []byte("HTTP/1.1 101 S\r\n\r\n\x88\x00"), 1)
	f.Fuzz(func(t *testing.T, req, resp []byte, split int) {
		tp := &tape{t: t, frames: true}
		o := newObserver(tp, "web", 1, "127.0.0.1:1")
		o.connected("127.0.0.1:2", time.Now())
		if split <= 0 {
			split = 1
		}
		for i := 0; i < len(req) || i < len(resp); i += split {
			o.request(req[min(i, len(req)):min(i+split, len(req))], time.Now())
			o.response(resp[min(i, len(resp)):min(i+split, len(resp))], time.Now())
		}
		o.requestEnd(nil)
		o.responseEnd(nil)
		o.finish()
		tp.mu.Lock()
		defer tp.mu.Unlock()
		if len(tp.ended) != len(tp.all) {
			t.Errorf("%d exchanges begun, %d ended", len(tp.all), len(tp.ended))
		}
	})
}
