package inspect

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
)

// seen is what the test service received.
type seen struct {
	method, uri, host, body string
	header                  http.Header
	ownSkipped              bool // the Recorder refused to record this request's connection
}

// service is an httptest server standing for the service behind the
// inspected port. It answers 200 with its version and an echo of the body.
type service struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seen
}

func startService(t *testing.T, r **Recorder) *service {
	t.Helper()
	s := &service{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		sn := seen{method: req.Method, uri: req.RequestURI, host: req.Host, body: string(b), header: req.Header.Clone()}
		// Were this port inspected, the proxy would report this request with
		// the client's address: the Recorder must skip its own replays.
		sn.ownSkipped = (*r).Begin(&proxy.RequestHead{Remote: req.RemoteAddr, Method: req.Method, Head: reqHead(req.Method, req.RequestURI, req.Host, nil)}) == nil
		s.mu.Lock()
		s.seen = append(s.seen, sn)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Version", "2")
		w.Header().Set("Server-Timing", "handler;dur=1.5")
		io.WriteString(w, "{\n  \"echo\": "+strings.TrimSpace(string(b))+",\n  \"method\": \""+req.Method+"\"\n}\n")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *service) last(t *testing.T) seen {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("the service saw no request")
	}
	return s.seen[len(s.seen)-1]
}

func TestRecorder_Replay(t *testing.T) {
	var r *Recorder
	svc := startService(t, &r)
	r = newRecorder(t, Options{Target: func(service string) (string, error) {
		if service != "api" {
			return "", errors.New("no such service")
		}
		return svc.URL, nil
	}})
	ctx := context.Background()

	// What the proxy saw: a POST and its 201.
	play(r, synth{
		service: "api", method: "POST", target: "/api/items?draft=1", host: "app.localhost:8000",
		reqHeader: http.Header{"Content-Type": {"application/json"}, "X-Custom": {"original"}, "Connection": {"keep-alive"}},
		reqBody:   []byte(`{"name":"widget"}`),
		status:    201, respHeader: http.Header{"Content-Type": {"application/json"}, "X-Version": {"1"}},
		respBody: []byte("{\n  \"echo\": {\"name\":\"widget\"},\n  \"method\": \"POST\"\n}\n"),
	})
	flush(t, r)
	orig := newest(t, r.sink)

	t.Run("as-is", func(t *testing.T) {
		id, err := r.Replay(ctx, orig.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := svc.last(t)
		if got.method != "POST" || got.uri != "/api/items?draft=1" || got.body != `{"name":"widget"}` ||
			got.host != "app.localhost:8000" || got.header.Get("X-Custom") != "original" || got.header.Get("Content-Type") != "application/json" {
			t.Errorf("the service saw %+v", got)
		}
		if ua, ok := got.header["User-Agent"]; ok {
			t.Errorf("the replay added User-Agent %q, which the original did not send", ua)
		}
		if !got.ownSkipped {
			t.Error("Begin recorded the replay's own connection: a replay through an inspected port would be recorded twice")
		}
		rep := get(t, r.sink, id)
		if rep.ReplayOf != orig.ID || rep.Service != "api" || rep.Response.Status != 200 || rep.Request.Method != "POST" ||
			string(rep.Request.Body) != `{"name":"widget"}` || rep.Request.Host != "app.localhost:8000" {
			t.Errorf("replay recorded as %+v", rep)
		}
		if rep.Start.IsZero() || rep.FirstByte.Before(rep.Start) || rep.End.Before(rep.FirstByte) || rep.Remote == "" {
			t.Errorf("replay timings/remote: start %v first byte %v end %v remote %q", rep.Start, rep.FirstByte, rep.End, rep.Remote)
		}
		if len(rep.Timing) != 1 || rep.Timing[0] != (ServerTiming{Name: "handler", Dur: 1.5}) {
			t.Errorf("replay Server-Timing = %+v", rep.Timing)
		}
		if got := ids(list(t, r.sink, Filter{ReplayOf: orig.ID})); len(got) != 1 || got[0] != id {
			t.Errorf("replays of %d: %v, want [%d]", orig.ID, got, id)
		}

		d := Diff(&orig, &rep)
		for _, want := range []string{"status: 201 → 200", "~ X-Version: 1 → 2", "+ Server-Timing: handler;dur=1.5"} {
			if !strings.Contains(d.String(), want) {
				t.Errorf("diff lacks %q:\n%s", want, d)
			}
		}
		if d.Body != "" {
			t.Errorf("same body, but diff says %q", d.Body)
		}
	})

	t.Run("edited", func(t *testing.T) {
		id, err := r.Replay(ctx, orig.ID, &Edit{
			Method: "PUT",
			Path:   "/api/items/7?x=1",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Custom": {"edited"}, "Content-Length": {"999"}},
			Body:   []byte(`{"name":"gadget"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		got := svc.last(t)
		if got.method != "PUT" || got.uri != "/api/items/7?x=1" || got.body != `{"name":"gadget"}` || got.header.Get("X-Custom") != "edited" {
			t.Errorf("the service saw %+v, want the edit", got)
		}
		rep := get(t, r.sink, id)
		if rep.ReplayOf != orig.ID || rep.Request.Method != "PUT" || rep.Request.Target != "/api/items/7?x=1" ||
			string(rep.Request.Body) != `{"name":"gadget"}` || rep.Request.Header.Get("X-Custom") != "edited" {
			t.Errorf("edited replay recorded as %+v", rep.Request)
		}
		d := Diff(&orig, &rep)
		if !strings.Contains(d.Body, `-  "echo": {"name":"widget"},`) || !strings.Contains(d.Body, `+  "echo": {"name":"gadget"},`) ||
			!strings.Contains(d.Body, `+  "method": "PUT"`) {
			t.Errorf("body diff:\n%s", d.Body)
		}
	})

	t.Run("edited header replaces all, body kept", func(t *testing.T) {
		if _, err := r.Replay(ctx, orig.ID, &Edit{Header: http.Header{"X-Only": {"1"}}}); err != nil {
			t.Fatal(err)
		}
		got := svc.last(t)
		if got.header.Get("X-Custom") != "" || got.header.Get("X-Only") != "1" || got.body != `{"name":"widget"}` {
			t.Errorf("the service saw %+v", got)
		}
	})

	t.Run("unknown exchange", func(t *testing.T) {
		if _, err := r.Replay(ctx, 9999, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("Replay(9999) = %v, want ErrNotFound", err)
		}
	})

	t.Run("truncated body is not replayed as-is", func(t *testing.T) {
		small := newRecorder(t, Options{BodyCap: 4, Target: func(string) (string, error) { return svc.URL, nil }})
		play(small, synth{method: "POST", reqBody: []byte("0123456789"), status: 200})
		flush(t, small)
		ex := newest(t, small.sink)
		if _, err := small.Replay(ctx, ex.ID, nil); !errors.Is(err, ErrTruncated) {
			t.Errorf("Replay of a truncated body = %v, want ErrTruncated", err)
		}
		if _, err := small.Replay(ctx, ex.ID, &Edit{Body: []byte("whole")}); err != nil {
			t.Errorf("Replay with the body edited: %v", err)
		}
		if got := svc.last(t); got.body != "whole" {
			t.Errorf("service saw body %q", got.body)
		}
	})
}

func TestRecorder_ReplayFailureIsRecorded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	r := newRecorder(t, Options{Target: func(string) (string, error) { return dead, nil }, ReplayTimeout: 5 * time.Second})
	play(r, synth{target: "/x", status: 200})
	flush(t, r)
	orig := newest(t, r.sink)
	id, err := r.Replay(context.Background(), orig.ID, nil)
	if err == nil || id == 0 {
		t.Fatalf("Replay to a closed port = %d, %v; want an ID and an error", id, err)
	}
	rep := get(t, r.sink, id)
	if rep.ReplayOf != orig.ID || rep.Response.Status != 0 || !strings.Contains(rep.Error, "refused") {
		t.Errorf("failed replay recorded as status %d error %q", rep.Response.Status, rep.Error)
	}
}

func TestRecorder_ReplayNeedsATarget(t *testing.T) {
	r := newRecorder(t, Options{})
	play(r, synth{status: 200})
	flush(t, r)
	if _, err := r.Replay(context.Background(), newest(t, r.sink).ID, nil); err == nil || !strings.Contains(err.Error(), "no replay target") {
		t.Errorf("Replay without Options.Target = %v", err)
	}
}
