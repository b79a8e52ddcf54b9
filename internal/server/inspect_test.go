package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/inspect"
	"github.com/berth-dev/berth/internal/project"
	"github.com/berth-dev/berth/internal/server"
)

// echoEnv makes the test binary an HTTP echo service: with it set to a
// port, the binary serves 127.0.0.1:PORT instead of running tests.
const echoEnv = "BERTH_SERVER_TEST_ECHO"

func init() {
	if port := os.Getenv(echoEnv); port != "" {
		os.Exit(serveEcho(port))
	}
}

// echoed is what the echo service answers: the request it saw.
type echoed struct {
	Method string `json:"method"`
	Target string `json:"target"`
	Body   string `json:"body"`
	Note   string `json:"note"` // the X-Note header
}

// serveEcho answers every request with the request it saw, as JSON (its
// path, not its query, which may hold a token), and prints it on stdout
// (the service's log).
func serveEcho(port string) int {
	err := http.ListenAndServe("127.0.0.1:"+port, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Printf("got %s %s %s\n", r.Method, r.RequestURI, b)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "sid=setc00kie; Path=/")
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Target: r.URL.Path, Body: string(b), Note: r.Header.Get("X-Note")})
	}))
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// inspectEnv runs two echo services: web, inspected (x-berth) on a proxied
// port, and same, published on its own port (not inspectable).
type inspectEnv struct {
	*testEnv
	webPort, samePort int
	client            *http.Client // to the services, no keep-alive
}

func newInspectEnv(t *testing.T) *inspectEnv {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	web, webTarget, same := berthtest.FreePort(t), berthtest.FreePort(t), berthtest.FreePort(t)
	compose := fmt.Sprintf(`name: insp
services:
  web:
    command: [%q]
    environment:
      %s: "%d"
    ports: ["127.0.0.1:%d:%d"]
    x-berth:
      inspect: true
  same:
    command: [%q]
    environment:
      %s: "%d"
    ports: ["127.0.0.1:%d:%d"]
`, exe, echoEnv, webTarget, web, webTarget, exe, echoEnv, same, same, same)
	e := &inspectEnv{testEnv: newEnv(t, compose, envOptions{}), webPort: web, samePort: same,
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}}
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

// send makes a request to port and returns the status and body.
func (e *inspectEnv) send(method string, port int, target, body string, header http.Header) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://127.0.0.1:"+strconv.Itoa(port)+target, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// list lists exchanges with a query ("" for all).
func (e *inspectEnv) list(query string) []inspect.Exchange {
	e.t.Helper()
	r := mustOK(e.t, e.local("GET", "/api/inspect?"+query, nil))
	var out []inspect.Exchange
	if err := json.Unmarshal(r.body, &out); err != nil {
		e.t.Fatalf("decode list: %v: %s", err, r.body)
	}
	return out
}

// flush waits until what the proxies recorded is stored.
func (e *inspectEnv) flush() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.eng.Inspector().Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// waitList polls the list with query until it has n exchanges.
func (e *inspectEnv) waitList(query string, n int) []inspect.Exchange {
	e.t.Helper()
	var got []inspect.Exchange
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = e.list(query)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("list %q: %d exchanges after 10s, want %d (does the proxy record in HTTP mode?)", query, len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wantError(t testing.TB, r apiResult, status int, code string, msgParts ...string) {
	t.Helper()
	if r.status != status || r.err.Code != code {
		t.Fatalf("got %d %q (%s), want %d %q", r.status, r.err.Code, r.body, status, code)
	}
	for _, p := range msgParts {
		if !strings.Contains(r.err.Message, p) {
			t.Errorf("message %q does not say %q", r.err.Message, p)
		}
	}
}

func TestInspect_API(t *testing.T) {
	e := newInspectEnv(t)

	// x-berth inspect: true is on from up, and ps says so.
	var ps []engine.ReplicaStatus
	if err := json.Unmarshal(mustOK(t, e.local("GET", "/v1/ps?service=web", nil)).body, &ps); err != nil || len(ps) != 1 || !ps[0].Inspected {
		t.Fatalf("ps web: %+v (%v), want one replica, Inspected", ps, err)
	}

	status, body := e.send("POST", e.webPort, "/api/items?token=qt0ken", `{"name":"cup","qty":2}`,
		http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer s3cret"}, "X-Note": {"first"}})
	if status != 200 || !strings.Contains(body, `"body":"{\"name\":\"cup\",\"qty\":2}"`) {
		t.Fatalf("POST through the inspected port: %d %s", status, body)
	}
	e.send("GET", e.webPort, "/health", "", nil)
	e.send("DELETE", e.webPort, "/api/items/7", "", nil)
	all := e.waitList("", 3)

	t.Run("list is newest first, without bodies", func(t *testing.T) {
		if len(all) != 3 {
			t.Fatalf("got %d exchanges, want 3", len(all))
		}
		if all[0].Request.Method != "DELETE" || all[2].Request.Method != "POST" || all[0].ID <= all[2].ID {
			t.Errorf("order: %s %d, %s %d; want DELETE newest", all[0].Request.Method, all[0].ID, all[2].Request.Method, all[2].ID)
		}
		post := all[2]
		if post.Service != "web" || post.Request.Target != "/api/items?token=qt0ken" || post.Response.Status != 200 {
			t.Errorf("POST exchange: %+v", post)
		}
		if post.Request.Body != nil || post.Response.Body != nil || post.Request.Size != int64(len(`{"name":"cup","qty":2}`)) {
			t.Errorf("list: bodies %q %q, size %d; want none, and the size", post.Request.Body, post.Response.Body, post.Request.Size)
		}
		if post.Start.IsZero() || post.End.Before(post.Start) {
			t.Errorf("timings: start %v end %v", post.Start, post.End)
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, c := range []struct {
			query string
			want  int
		}{
			{"method=post", 1},
			{"method=GET", 1},
			{"status=2", 3},
			{"status=2xx", 3},
			{"status=4", 0},
			{"path=/api/", 2},
			{"header=authorization", 1},
			{"header=authorization:S3CRET", 1},
			{"body=cup", 1},
			{"service=web&limit=2", 2},
			{"limit=all", 3},
			{"after=" + strconv.FormatInt(all[1].ID, 10), 1},
			{"before=" + strconv.FormatInt(all[1].ID, 10), 1},
		} {
			if got := e.list(c.query); len(got) != c.want {
				t.Errorf("list %q: %d exchanges, want %d", c.query, len(got), c.want)
			}
		}
		for _, c := range []struct{ query, field string }{
			{"status=7", "status"},
			{"status=abc", "status"},
			{"limit=x", "limit"},
			{"limit=0", "limit"},
			{"before=-1", "before"},
			{"after=z", "after"},
			{"header=:x", "header"},
			{"method=GE%20T", "method"},
		} {
			wantError(t, e.local("GET", "/api/inspect?"+c.query, nil), 400, server.CodeBadRequest, c.field)
		}
		wantError(t, e.local("GET", "/api/inspect?service=nosuch", nil), 404, server.CodeUnknownService, `"nosuch"`)
	})

	post := all[2]
	postID := strconv.FormatInt(post.ID, 10)

	t.Run("detail has bodies, text and curl", func(t *testing.T) {
		r := mustOK(t, e.local("GET", "/api/inspect/"+postID, nil))
		var d server.ExchangeDetail
		if err := json.Unmarshal(r.body, &d); err != nil {
			t.Fatal(err)
		}
		if string(d.Request.Body) != `{"name":"cup","qty":2}` || d.RequestText == nil || *d.RequestText != `{"name":"cup","qty":2}` {
			t.Errorf("request body %q, text %v", d.Request.Body, d.RequestText)
		}
		if d.ResponseText == nil || !strings.Contains(*d.ResponseText, `"method":"POST"`) {
			t.Errorf("response text %v", d.ResponseText)
		}
		if !strings.HasPrefix(d.Curl, "curl ") || !strings.Contains(d.Curl, "/api/items?token=qt0ken") || !strings.Contains(d.Curl, "--data-binary") {
			t.Errorf("curl: %s", d.Curl)
		}
		if d.Request.Header.Get("Authorization") != "Bearer s3cret" {
			t.Errorf("request headers: %v", d.Request.Header)
		}
		wantError(t, e.local("GET", "/api/inspect/999999", nil), 404, server.CodeNotFound, "no such exchange: 999999")
		wantError(t, e.local("GET", "/api/inspect/abc", nil), 400, server.CodeBadRequest, `exchange id "abc"`)
	})

	var replayID int64
	t.Run("replay with an edited body reaches the service, linked and diffed", func(t *testing.T) {
		edited := `{"name":"mug","qty":3}`
		r := mustOK(t, e.local("POST", "/api/inspect/"+postID+"/replay", server.ReplayRequest{Body: &edited}))
		var res server.ReplayResult
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		if res.Error != "" {
			t.Fatalf("replay error: %s", res.Error)
		}
		ex := res.Exchange
		replayID = ex.ID
		if ex.ReplayOf != post.ID || ex.ID <= post.ID || ex.Response.Status != 200 {
			t.Errorf("replay: id %d replayOf %d status %d", ex.ID, ex.ReplayOf, ex.Response.Status)
		}
		var saw echoed
		if ex.ResponseText == nil || json.Unmarshal([]byte(*ex.ResponseText), &saw) != nil {
			t.Fatalf("replay response: %v", ex.ResponseText)
		}
		if saw.Body != edited || saw.Method != "POST" || saw.Target != "/api/items" || saw.Note != "first" {
			t.Errorf("the service saw %+v, want the edited body with the original request", saw)
		}
		if res.Diff.Equal || res.Diff.A != post.ID || res.Diff.B != ex.ID || !strings.Contains(res.Diff.Body, `+{"method":"POST"`) || !strings.Contains(res.Diff.Text, "mug") {
			t.Errorf("diff: %+v", res.Diff)
		}
		// The replay is recorded once (not also by the proxy it went through).
		e.flush()
		if got := e.list("replay_of=" + postID); len(got) != 1 || got[0].ID != ex.ID {
			t.Errorf("replays of %d: %+v, want one, %d", post.ID, got, ex.ID)
		}
		if got := e.list("limit=all"); len(got) != 4 {
			t.Errorf("%d exchanges after one replay, want 4", len(got))
		}
	})

	t.Run("replay edits method, target and headers; bad edits are 400", func(t *testing.T) {
		empty := ""
		r := mustOK(t, e.local("POST", "/api/inspect/"+postID+"/replay", server.ReplayRequest{
			Method: "PUT", Target: "/api/items/9", Headers: http.Header{"X-Note": {"other"}}, Body: &empty}))
		var res server.ReplayResult
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		var saw echoed
		if res.Exchange.ResponseText == nil || json.Unmarshal([]byte(*res.Exchange.ResponseText), &saw) != nil {
			t.Fatalf("replay response: %s", r.body)
		}
		if saw != (echoed{Method: "PUT", Target: "/api/items/9", Note: "other"}) {
			t.Errorf("the service saw %+v", saw)
		}
		x := "x"
		for _, c := range []struct {
			req   server.ReplayRequest
			field string
		}{
			{server.ReplayRequest{Method: "P T"}, "method"},
			{server.ReplayRequest{Target: "api/items"}, "target"},
			{server.ReplayRequest{Headers: http.Header{"Bad Name": {"v"}}}, "headers"},
			{server.ReplayRequest{Body: &x, BodyBase64: &x}, "bodyBase64"},
		} {
			wantError(t, e.local("POST", "/api/inspect/"+postID+"/replay", c.req), 400, server.CodeBadRequest, c.field)
		}
		wantError(t, e.local("POST", "/api/inspect/"+postID+"/replay", map[string]any{"verb": "GET"}), 400, server.CodeBadRequest, "verb")
		wantError(t, e.local("POST", "/api/inspect/999999/replay", nil), 404, server.CodeNotFound, "999999")
	})

	t.Run("diff of two exchanges", func(t *testing.T) {
		r := mustOK(t, e.local("GET", fmt.Sprintf("/api/inspect/%d/diff/%d", post.ID, replayID), nil))
		var d server.ExchangeDiff
		if err := json.Unmarshal(r.body, &d); err != nil {
			t.Fatal(err)
		}
		if d.Equal || d.A != post.ID || d.B != replayID || !strings.Contains(d.Body, "mug") {
			t.Errorf("diff: %+v", d)
		}
		wantError(t, e.local("GET", fmt.Sprintf("/api/inspect/%d/diff/999999", post.ID), nil), 404, server.CodeNotFound, "999999")
	})

	t.Run("HAR export is redacted unless asked", func(t *testing.T) {
		type har struct {
			Log struct {
				Version string `json:"version"`
				Entries []struct {
					Request struct {
						Method  string `json:"method"`
						URL     string `json:"url"`
						Headers []struct{ Name, Value string }
					} `json:"request"`
				} `json:"entries"`
			} `json:"log"`
		}
		get := func(query string) (har, string) {
			r := mustOK(t, e.local("GET", "/api/inspect/export.har?"+query, nil))
			var h har
			if err := json.Unmarshal(r.body, &h); err != nil {
				t.Fatalf("export %q: not JSON: %v\n%s", query, err, r.body)
			}
			if h.Log.Version != "1.2" {
				t.Errorf("export %q: version %q", query, h.Log.Version)
			}
			return h, string(r.body)
		}
		h, text := get("ids=" + postID)
		if len(h.Log.Entries) != 1 || h.Log.Entries[0].Request.Method != "POST" {
			t.Fatalf("export of %s: %+v", postID, h.Log.Entries)
		}
		for _, secret := range []string{"s3cret", "qt0ken", "setc00kie"} {
			if strings.Contains(text, secret) {
				t.Errorf("redacted export holds %q", secret)
			}
		}
		if !strings.Contains(text, inspect.Redacted) {
			t.Errorf("redacted export says nothing is %s", inspect.Redacted)
		}
		_, text = get("ids=" + postID + "&redact=false")
		if !strings.Contains(text, "Bearer s3cret") {
			t.Errorf("export with redact=false lost the Authorization header")
		}
		if h, _ := get(""); len(h.Log.Entries) != 5 {
			t.Errorf("export of everything: %d entries, want 5", len(h.Log.Entries))
		}
		if h, _ := get("ids=all&method=DELETE"); len(h.Log.Entries) != 1 {
			t.Errorf("export of the DELETEs: %d entries, want 1", len(h.Log.Entries))
		}
		wantError(t, e.local("GET", "/api/inspect/export.har?ids=1,x", nil), 400, server.CodeBadRequest, "ids")
		wantError(t, e.local("GET", "/api/inspect/export.har?redact=maybe", nil), 400, server.CodeBadRequest, "redact")
		wantError(t, e.local("GET", "/api/inspect/export.har?ids=999999", nil), 404, server.CodeNotFound, "999999")
	})

	t.Run("the switch turns recording off and on", func(t *testing.T) {
		r := mustOK(t, e.local("POST", "/api/services/web/inspect", map[string]bool{"on": false}))
		var st server.InspectState
		if err := json.Unmarshal(r.body, &st); err != nil || st != (server.InspectState{Service: "web", Inspected: false}) {
			t.Fatalf("off: %s", r.body)
		}
		ps = nil
		if err := json.Unmarshal(mustOK(t, e.local("GET", "/v1/ps?service=web", nil)).body, &ps); err != nil || ps[0].Inspected {
			t.Errorf("ps after off: %+v", ps)
		}
		before := len(e.list("limit=all"))
		e.send("GET", e.webPort, "/while-off", "", nil)
		mustOK(t, e.local("POST", "/api/services/web/inspect", map[string]bool{"on": true}))
		e.send("GET", e.webPort, "/while-on", "", nil)
		got := e.waitList("limit=all", before+1)
		e.flush()
		got = e.list("limit=all")
		if len(got) != before+1 || got[0].Request.Target != "/while-on" {
			t.Errorf("after off, request, on, request: %d new exchanges (newest %q), want only /while-on", len(got)-before, got[0].Request.Target)
		}
	})

	t.Run("an equal-port service cannot be inspected", func(t *testing.T) {
		r := e.local("POST", "/api/services/same/inspect", map[string]bool{"on": true})
		port := strconv.Itoa(e.samePort)
		wantError(t, r, 409, server.CodeNotInspectable, `"same"`, "port "+port, `publish another host port`)
		// Turning it off is fine: it is off.
		mustOK(t, e.local("POST", "/api/services/same/inspect", map[string]bool{"on": false}))
	})

	t.Run("bad switch requests", func(t *testing.T) {
		wantError(t, e.local("POST", "/api/services/nosuch/inspect", map[string]bool{"on": true}), 404, server.CodeUnknownService, `"nosuch"`)
		wantError(t, e.local("POST", "/api/services/web/inspect", map[string]any{}), 400, server.CodeBadRequest, "on")
		wantError(t, e.local("POST", "/api/services/web/inspect", map[string]any{"on": "yes"}), 400, server.CodeBadRequest, "on")
	})

	t.Run("the routes need the token over TCP", func(t *testing.T) {
		for _, p := range []string{"/api/inspect", "/api/inspect/" + postID, "/api/inspect/export.har"} {
			if r := e.remote("GET", p, "", nil); r.status != http.StatusUnauthorized {
				t.Errorf("GET %s without a token: %d", p, r.status)
			}
		}
		if r := e.remote("POST", "/api/services/web/inspect", "", map[string]bool{"on": false}); r.status != http.StatusUnauthorized {
			t.Errorf("switch without a token: %d", r.status)
		}
		mustOK(t, e.remote("GET", "/api/inspect", e.owner, nil))
	})
}

// TestInspect_Stream: each stored exchange is published, without its
// bodies, on the inspect stream of the WebSocket.
func TestInspect_Stream(t *testing.T) {
	e := newInspectEnv(t)
	ctx := timeout(t, 20*time.Second)
	ws := e.dialUnix()
	ws.subscribe(1, []string{engine.StreamInspect}, nil)
	if ctl, ok := ws.mustNext(ctx).control(t); !ok || ctl.Op != "subscribed" {
		t.Fatalf("subscribe to %q: got %+v, want subscribed (does the hub accept the stream?)", engine.StreamInspect, ctl)
	}
	e.send("POST", e.webPort, "/streamed", `{"a":1}`, http.Header{"Content-Type": {"application/json"}})
	f := ws.mustNext(ctx)
	if f.Stream != engine.StreamInspect || f.Seq == 0 {
		t.Fatalf("frame %s seq %d: %s", f.Stream, f.Seq, f.Payload)
	}
	var ex inspect.Exchange
	if err := json.Unmarshal(f.Payload, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.ID == 0 || ex.Request.Target != "/streamed" || ex.Response.Status != 200 || ex.Request.Body != nil || ex.Request.Size != 7 {
		t.Errorf("published exchange: %+v", ex)
	}
}

// TestInspect_UpFlag: UpRequest.Inspect turns the inspector on, and names
// that are unknown or not inspectable fail up before anything starts.
func TestInspect_UpFlag(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	web, target, same := berthtest.FreePort(t), berthtest.FreePort(t), berthtest.FreePort(t)
	compose := fmt.Sprintf("name: insp2\nservices:\n  api:\n    command: [%q]\n    environment: {%s: \"%d\"}\n    ports: [\"127.0.0.1:%d:%d\"]\n  same:\n    command: [sleep, \"300\"]\n    ports: [\"127.0.0.1:%d:%d\"]\n  xsame:\n    command: [sleep, \"300\"]\n    ports: [\"127.0.0.1:%d:%d\"]\n    x-berth: {inspect: true}\n",
		exe, echoEnv, target, web, target, same, same, same, same)
	e := newEnv(t, compose, envOptions{noUp: true})
	upService := func(service string, inspect ...string) apiResult {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p, err := project.Load(ctx, project.LoadOptions{WorkingDir: e.dir, Environ: os.Environ(), Native: true})
		if err != nil {
			t.Fatalf("load project: %v", err)
		}
		return e.local("POST", "/v1/up", engine.UpRequest{Project: p, Services: []string{service}, BaseEnv: os.Environ(), Inspect: inspect})
	}
	up := func(inspect ...string) apiResult { return upService("api", inspect...) }
	wantError(t, up("nosuch"), 404, server.CodeUnknownService, "--inspect nosuch", `"nosuch"`)
	// POST /v1/up answers with writeError, which does not know this error
	// yet: check the message, which is what the CLI prints.
	r := up("same")
	if r.status < 400 || !strings.Contains(r.err.Message, `inspect service "same": port `+strconv.Itoa(same)) || !strings.Contains(r.err.Message, "publish another host port") {
		t.Errorf("up --inspect same: %d %s", r.status, r.body)
	}
	r = upService("xsame")
	if r.status < 400 || !strings.Contains(r.err.Message, `x-berth.inspect: inspect service "xsame": port `+strconv.Itoa(same)) {
		t.Errorf("up of an x-berth inspected service on its own port: %d %s", r.status, r.body)
	}
	if got := e.eng.Services(); len(got) != 0 {
		t.Fatalf("a failed up started %v", got)
	}
	mustOK(t, up("api"))
	if on, err := e.eng.Inspected("api"); err != nil || !on {
		t.Fatalf("api inspected: %v %v", on, err)
	}
	if on, err := e.eng.Inspected("same"); err == nil || on {
		t.Fatalf("same (not up): inspected %v, err %v; want an unknown service", on, err)
	}
}
