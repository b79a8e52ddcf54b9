package cli

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/inspect"
	"github.com/berth-dev/berth/internal/server"
)

func TestRequestText_RoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		body string
	}{
		{"json without a final newline", `{"a":1}`},
		{"text with a final newline", "line 1\nline 2\n"},
		{"no body", ""},
		{"a body that starts with #", "# not a comment\nx"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &server.ExchangeDetail{Exchange: inspect.Exchange{ID: 7, Service: "web", Request: inspect.Request{
				Method: "POST", Target: "/api/items?x=1", Proto: "HTTP/1.1", Host: "127.0.0.1:8080",
				Header: http.Header{"Content-Type": {"application/json"}, "Content-Length": {"7"}, "X-Two": {"a", "b"}},
				Body:   []byte(c.body), Size: int64(len(c.body)),
			}}}
			text, err := requestText(d)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(text, "\nContent-Length:") {
				t.Errorf("the text form shows Content-Length, which the replay sets:\n%s", text)
			}
			got, err := parseRequestText(text)
			if err != nil {
				t.Fatalf("parse:\n%s\n%v", text, err)
			}
			if got.Method != "POST" || got.Target != "/api/items?x=1" {
				t.Errorf("request line: %q %q", got.Method, got.Target)
			}
			want := http.Header{"Host": {"127.0.0.1:8080"}, "Content-Type": {"application/json"}, "X-Two": {"a", "b"}}
			if len(got.Headers) != len(want) || got.Headers.Get("Host") != "127.0.0.1:8080" || strings.Join(got.Headers.Values("X-Two"), ",") != "a,b" {
				t.Errorf("headers: got %v, want %v", got.Headers, want)
			}
			if got.Body == nil || *got.Body != c.body {
				t.Errorf("body: got %q, want %q", deref(got.Body), c.body)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestParseRequestText(t *testing.T) {
	for _, c := range []struct {
		name, text string
		method     string
		target     string
		body       string
		err        string
	}{
		{name: "edited, CRLF", text: "# c\r\nPUT /x HTTP/1.1\r\nA: 1\r\n\r\nnew\r\n", method: "PUT", target: "/x", body: "new"},
		{name: "no blank line, no body", text: "GET /y\nA: 1\n", method: "GET", target: "/y", body: ""},
		{name: "empty cancels", text: "# only comments\n\n", err: "replay cancelled"},
		{name: "bad request line", text: "GET\n", err: "want METHOD TARGET"},
		{name: "relative target", text: "GET api/items HTTP/1.1\n", err: `target "api/items"`},
		{name: "bad header", text: "GET / HTTP/1.1\nno colon here\n\n", err: `header line "no colon here"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseRequestText(c.text)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != c.method || got.Target != c.target || deref(got.Body) != c.body {
				t.Errorf("got %q %q body %q, want %q %q %q", got.Method, got.Target, deref(got.Body), c.method, c.target, c.body)
			}
		})
	}
}

func TestRequestText_BinaryBody(t *testing.T) {
	d := &server.ExchangeDetail{Exchange: inspect.Exchange{ID: 3, Request: inspect.Request{Method: "POST", Target: "/up", Body: []byte{0xff, 0x00, 0x01}, Size: 3}}}
	if _, err := requestText(d); err == nil || !strings.Contains(err.Error(), "binary") {
		t.Fatalf("err %v, want one about a binary body", err)
	}
}

func TestInspectFormat(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{0, "-"}, {850 * time.Microsecond, "850µs"}, {1234 * time.Microsecond, "1.23ms"}, {12345 * time.Microsecond, "12.3ms"}, {123456 * time.Microsecond, "123ms"}, {1500 * time.Millisecond, "1.50s"}} {
		if got := shortDuration(c.d); got != c.want {
			t.Errorf("shortDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {50 << 20, "50 MiB"}} {
		if got := byteSize(c.n); got != c.want {
			t.Errorf("byteSize(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	if got := prettyBody("application/x-www-form-urlencoded", "user=bob&msg=hi+there%21"); got != "user = bob\nmsg = hi there!\n" {
		t.Errorf("form: %q", got)
	}
	if got := prettyBody("application/json; charset=utf-8", `{"a":[1,2]}`); got != "{\n  \"a\": [\n    1,\n    2\n  ]\n}" {
		t.Errorf("json: %q", got)
	}
}

func TestFormatExchange_WebSocket(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &server.ExchangeDetail{Exchange: inspect.Exchange{
		ID: 9, Service: "ws", Backend: "127.0.0.1:8000", Upgraded: true, FrameCount: 3, Start: t0, End: t0.Add(time.Second),
		Request:  inspect.Request{Method: "GET", Target: "/socket", Proto: "HTTP/1.1", Host: "localhost:8080"},
		Response: inspect.Response{Status: 101, Reason: "Switching Protocols", Proto: "HTTP/1.1"},
		Frames: []inspect.Frame{
			{Time: t0, FromClient: true, Opcode: 1, Fin: true, Length: 5, Payload: []byte("hello")},
			{Time: t0, Opcode: 2, Fin: true, Length: 3, Payload: []byte{1, 2, 3}},
		},
	}, Curl: "curl http://localhost:8080/socket"}
	out := formatExchange(d)
	for _, want := range []string{"Served by 127.0.0.1:8000\n", "Response: 101 Switching Protocols", "WebSocket frames: 3 (the first 2 kept)", "↑ ", "text   5 B  hello\n", "↓ ", "binary 3 B\n", "curl:\n  curl http://localhost:8080/socket\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show does not have %q:\n%s", want, out)
		}
	}
}
