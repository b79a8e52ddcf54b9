package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/proxy"
)

// throughProxy serves h behind a real proxy in HTTP mode that records into
// a Recorder on a real database, and returns the proxy's base URL.
func throughProxy(t *testing.T, h http.Handler, o Options) (*Recorder, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	var base string
	o.Target = func(string) (string, error) { return base, nil }
	r := newRecorder(t, o)
	p, err := proxy.Listen(proxy.Options{Listen: "127.0.0.1:0", Name: "web", Recorder: r})
	if err != nil {
		t.Fatal(err)
	}
	p.SetBackends([]string{srv.Listener.Addr().String()})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-served }) // after the Recorder's Close: proxies first
	base = "http://" + p.Addr().String()
	return r, base
}

func TestThroughProxy_JSONAndReplay(t *testing.T) {
	var seen []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.String()+" "+string(body))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server-Timing", "db;dur=2.5;desc=\"query\"")
		fmt.Fprintf(w, `{"echo":%s}`, body)
	})
	r, base := throughProxy(t, h, Options{})
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest("POST", base+"/api/items?x=1", strings.NewReader(`{"name":"ada"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	waitStored(t, r, 1)

	ex := newest(t, r.sink)
	if ex.Request.Method != "POST" || ex.Request.Target != "/api/items?x=1" || string(ex.Request.Body) != `{"name":"ada"}` {
		t.Errorf("request %s %s %q", ex.Request.Method, ex.Request.Target, ex.Request.Body)
	}
	if ex.Request.Header.Get("Content-Type") != "application/json" || ex.Response.Status != 200 ||
		string(ex.Response.Body) != `{"echo":{"name":"ada"}}` {
		t.Errorf("response %d %q", ex.Response.Status, ex.Response.Body)
	}
	if ex.Backend == "" || ex.FirstByte.IsZero() || ex.End.Before(ex.FirstByte) || ex.FirstByte.Before(ex.Start) {
		t.Errorf("backend %q, times %v %v %v", ex.Backend, ex.Start, ex.FirstByte, ex.End)
	}
	if len(ex.Timing) != 1 || ex.Timing[0].Name != "db" || ex.Timing[0].Dur != 2.5 {
		t.Errorf("server timing %+v", ex.Timing)
	}

	// Edit and replay: the service sees the edit, the replay is recorded
	// once and linked to its original.
	id, err := r.Replay(context.Background(), ex.ID, &Edit{Body: []byte(`{"name":"grace"}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitStored(t, r, 2)
	if last := seen[len(seen)-1]; last != `POST /api/items?x=1 {"name":"grace"}` {
		t.Errorf("the service saw %q", last)
	}
	rep := get(t, r.sink, id)
	if rep.ReplayOf != ex.ID || string(rep.Response.Body) != `{"echo":{"name":"grace"}}` {
		t.Errorf("replay %d of %d: %q", rep.ID, rep.ReplayOf, rep.Response.Body)
	}
}

func TestThroughProxy_BigDownloadKeepsTheCap(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB through the proxy")
	}
	const size = 50 << 20
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("z"), 1<<20)
		for range size >> 20 {
			w.Write(chunk)
		}
	})
	r, base := throughProxy(t, h, Options{BodyCap: 64 << 10})
	resp, err := http.Get(base + "/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("downloaded %d bytes, %v", n, err)
	}
	waitStored(t, r, 1)
	ex := newest(t, r.sink)
	if ex.Response.Size != size || len(ex.Response.Body) != 64<<10 || !ex.Response.Truncated {
		t.Errorf("stored size %d, kept %d, truncated %v", ex.Response.Size, len(ex.Response.Body), ex.Response.Truncated)
	}
}

func TestThroughProxy_WebSocketFrames(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), typ, bytes.ToUpper(msg))
		}
	})
	r, base := throughProxy(t, h, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ping me", "again"} {
		c.Write(ctx, websocket.MessageText, []byte(m))
		if _, got, err := c.Read(ctx); err != nil || string(got) != strings.ToUpper(m) {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	waitStored(t, r, 1)
	ex := newest(t, r.sink)
	if !ex.Upgraded || ex.Response.Status != 101 || ex.FrameCount != 6 || len(ex.Frames) != 6 {
		t.Fatalf("upgraded %v status %d frames %d/%d", ex.Upgraded, ex.Response.Status, len(ex.Frames), ex.FrameCount)
	}
	var got []string
	for _, f := range ex.Frames[:4] {
		got = append(got, fmt.Sprintf("%v %s", f.FromClient, f.Payload))
	}
	if want := "true ping me|false PING ME|true again|false AGAIN"; strings.Join(got, "|") != want {
		t.Errorf("frames %q, want %q", strings.Join(got, "|"), want)
	}
	var buf bytes.Buffer
	if err := r.ExportHAR(context.Background(), &buf, HAROptions{}); err != nil {
		t.Fatal(err)
	}
	var har struct {
		Log struct {
			Entries []struct {
				Messages []struct{ Type, Data string } `json:"_webSocketMessages"`
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &har); err != nil || len(har.Log.Entries) != 1 || len(har.Log.Entries[0].Messages) != 6 {
		t.Fatalf("HAR: %v, %s", err, buf.String())
	}
	if m := har.Log.Entries[0].Messages[1]; m.Type != "receive" || m.Data != "PING ME" {
		t.Errorf("HAR message %+v", m)
	}
}

// waitStored waits until r has stored n exchanges: the proxy ends an
// exchange once its last bytes were written to the client, so the client
// may have them a moment before.
func waitStored(t *testing.T, r *Recorder, n int) {
	t.Helper()
	berthtest.Eventually(t, 10*time.Second, fmt.Sprintf("%d exchanges stored", n), func() bool {
		flush(t, r)
		return len(list(t, r.sink, Filter{})) >= n
	})
	flush(t, r)
	if got := len(list(t, r.sink, Filter{})); got != n {
		t.Fatalf("%d exchanges stored, want %d", got, n)
	}
}
