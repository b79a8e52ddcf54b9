package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/project"
	"github.com/berth-dev/berth/internal/store"
)

// These tests cover the dashboard's server side; the app itself is tested
// in a real browser by cmd/berth's TestDashboard_Browser.

func dashboardOnly() http.Handler {
	s := &Server{mux: http.NewServeMux()}
	s.dashboardRoutes()
	return s.mux
}

func get(h http.Handler, target string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestDashboard_Files(t *testing.T) {
	h := dashboardOnly()
	t.Run("the app at the root, with a strict policy", func(t *testing.T) {
		w := get(h, "/", nil)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("GET / = %d %s, want 200 text/html", w.Code, w.Header().Get("Content-Type"))
		}
		if !strings.Contains(w.Body.String(), `<script type="module" src="/ui/app.js">`) {
			t.Errorf("GET / does not load the app:\n%s", w.Body)
		}
		csp := w.Header().Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
			}
		}
	})
	t.Run("files by type, revalidated with an ETag", func(t *testing.T) {
		for _, tc := range []struct{ path, ctype string }{
			{"/ui/app.js", "text/javascript"},
			{"/ui/app.css", "text/css"},
			{"/ui/vendor/preact.mjs", "text/javascript"},
			{"/ui/favicon.svg", "image/svg+xml"},
			{"/favicon.ico", "image/svg+xml"},
		} {
			w := get(h, tc.path, nil)
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.ctype) {
				t.Errorf("GET %s = %d %q, want 200 %s", tc.path, w.Code, w.Header().Get("Content-Type"), tc.ctype)
				continue
			}
			etag := w.Header().Get("ETag")
			if w2 := get(h, tc.path, http.Header{"If-None-Match": {etag}}); w2.Code != http.StatusNotModified || w2.Body.Len() != 0 {
				t.Errorf("GET %s with If-None-Match %s = %d (%d bytes), want 304 and no body", tc.path, etag, w2.Code, w2.Body.Len())
			}
		}
	})
	t.Run("only the app's files", func(t *testing.T) {
		for _, p := range []string{"/ui/nope.js", "/ui/index.html", "/ui/login.html", "/ui/vendor.sh", "/ui/vendor/"} {
			if w := get(h, p, nil); w.Code != http.StatusNotFound {
				t.Errorf("GET %s = %d, want 404", p, w.Code)
			}
		}
	})
	t.Run("every import resolves to an embedded file", func(t *testing.T) {
		imp := regexp.MustCompile(`(?:from\s*|import\s*\(?\s*)"(\.{1,2}/[^"]+)"`)
		for name := range webAssets {
			if !strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".mjs") {
				continue
			}
			for _, m := range imp.FindAllStringSubmatch(string(webAssets[name].body), -1) {
				target := path.Join(path.Dir(name), m[1])
				if _, ok := webAssets[target]; !ok {
					t.Errorf("%s imports %q: no such embedded file %s", name, m[1], target)
				}
			}
			if regexp.MustCompile(`from\s*"[^./]`).Match(webAssets[name].body) {
				t.Errorf("%s imports a bare module name: browsers need a path (see web/vendor.sh)", name)
			}
		}
		html := string(webAssets["index.html"].body)
		for _, m := range regexp.MustCompile(`(?:href|src)="/ui/([^"]+)"`).FindAllStringSubmatch(html, -1) {
			if _, ok := webAssets[m[1]]; !ok {
				t.Errorf("index.html names /ui/%s: not embedded", m[1])
			}
		}
	})
	t.Run("vendored versions are recorded", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("web", "vendor", "VERSIONS"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"preact ", "htm "} {
			if !strings.Contains(string(b), want) {
				t.Errorf("web/vendor/VERSIONS lacks %q:\n%s", want, b)
			}
		}
	})
}

func TestDashboard_LoginPage(t *testing.T) {
	for _, tc := range []struct {
		method, path, accept, upgrade string
		want                          bool
	}{
		{"GET", "/", "text/html,application/xhtml+xml,*/*;q=0.8", "", true},
		{"HEAD", "/", "text/html", "", true},
		{"GET", "/ui/app.js", "text/html", "", true},
		{"GET", "/", "*/*", "", false},
		{"GET", "/", "", "", false},
		{"POST", "/", "text/html", "", false},
		{"GET", "/v1/ps", "text/html", "", false},
		{"GET", "/api/ws", "text/html", "websocket", false},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Header.Set("Accept", tc.accept)
		if tc.upgrade != "" {
			r.Header.Set("Upgrade", tc.upgrade)
		}
		if got := wantsHTML(r); got != tc.want {
			t.Errorf("wantsHTML(%s %s, Accept %q) = %v, want %v", tc.method, tc.path, tc.accept, got, tc.want)
		}
	}

	for _, invalid := range []bool{false, true} {
		w := httptest.NewRecorder()
		serveLoginPage(w, httptest.NewRequest("GET", "/", nil), invalid)
		body := w.Body.String()
		if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("login page (invalid=%v): %d %s, want 401 text/html", invalid, w.Code, w.Header().Get("Content-Type"))
		}
		for _, want := range []string{"berth dashboard --url", `id="login"`} {
			if !strings.Contains(body, want) {
				t.Errorf("login page (invalid=%v) lacks %q", invalid, want)
			}
		}
		if strings.Contains(body, "{{") {
			t.Errorf("login page (invalid=%v) has an unfilled placeholder", invalid)
		}
		cleared := strings.Contains(w.Header().Get("Set-Cookie"), SessionCookie+"=;")
		if cleared != invalid {
			t.Errorf("login page (invalid=%v): session cookie cleared = %v (Set-Cookie %q)", invalid, cleared, w.Header().Get("Set-Cookie"))
		}
		if invalid && !strings.Contains(body, "not valid") {
			t.Errorf("login page for a bad token does not say so")
		}
	}
}

// testEngine brings up compose in a new engine and returns a server for it.
func testEngine(t *testing.T, compose string) *Server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	h := hub.NewMemory(hub.Options{})
	eng, err := engine.New(engine.Options{StateDir: filepath.Join(t.TempDir(), "state"), Hub: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = eng.Shutdown(ctx, nil)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := project.Load(ctx, project.LoadOptions{WorkingDir: dir, Environ: os.Environ(), Native: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Up(ctx, engine.UpRequest{Project: p, BaseEnv: os.Environ()}); err != nil {
		t.Fatal(err)
	}
	return New(Options{Engine: eng, Hub: h})
}

// call sends a JSON request as user and decodes the answer into out.
func call(t *testing.T, s *Server, user, method, target string, body any, out any) int {
	t.Helper()
	var rd bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&rd).Encode(body)
	}
	r := httptest.NewRequest(method, target, &rd)
	r = r.WithContext(withUser(r.Context(), user))
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, target, w.Body, err)
		}
	}
	return w.Code
}

func TestDashboard_WhoamiAndActions(t *testing.T) {
	s := testEngine(t, "name: dash\nservices:\n  a:\n    image: x\n    command: [\"sleep\", \"300\"]\n")

	var me Whoami
	if code := call(t, s, "alice", "GET", "/v1/whoami", nil, &me); code != 200 || me != (Whoami{Project: "dash", User: "alice"}) {
		t.Errorf("whoami as alice = %d %+v", code, me)
	}
	if call(t, s, OwnerUser, "GET", "/v1/whoami", nil, &me); !me.Owner {
		t.Errorf("whoami as the owner = %+v, want Owner", me)
	}

	replicas := func() []engine.ReplicaStatus {
		st, err := s.eng.Ps([]string{"a"})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	running := func() int {
		n := 0
		for _, r := range replicas() {
			if r.State == engine.StateRunning {
				n++
			}
		}
		return n
	}
	// Actions return once the engine has started the replicas; they run a moment later.
	runningSoon := func(want int) bool {
		deadline := time.Now().Add(10 * time.Second)
		for running() != want {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(10 * time.Millisecond)
		}
		return true
	}
	action := func(req ActionRequest) store.Job {
		t.Helper()
		var job store.Job
		if code := call(t, s, "alice", "POST", "/v1/actions", req, &job); code != 200 {
			t.Fatalf("action %+v = %d", req, code)
		}
		if job.LaunchedBy != "alice" || job.Status != store.StatusSucceeded {
			t.Errorf("action %+v recorded as %+v; want launched by alice, succeeded", req, job)
		}
		return job
	}

	if job := action(ActionRequest{Action: "stop", Service: "a"}); !runningSoon(0) || job.Kind != store.KindAPI || strings.Join(job.Command, " ") != "stop a" {
		t.Errorf("after stop: %d running, job %s %q", running(), job.Kind, job.Command)
	}
	action(ActionRequest{Action: "start", Service: "a"})
	if !runningSoon(1) {
		t.Errorf("after start: %d running, want 1: %+v", running(), replicas())
	}
	pid := replicas()[0].Pid
	if job := action(ActionRequest{Action: "restart", Service: "a"}); job.Kind != store.KindRestart || !runningSoon(1) || replicas()[0].Pid == pid {
		t.Errorf("restart: job kind %s, pid %d → %d; want kind restart and a new process", job.Kind, pid, replicas()[0].Pid)
	}
	three := 3
	if job := action(ActionRequest{Action: "scale", Service: "a", Replicas: &three}); !runningSoon(3) || strings.Join(job.Command, " ") != "scale a=3" {
		t.Errorf("after scale a=3: %d running, command %q", running(), job.Command)
	}
	if p := s.eng.Project(); p != nil {
		if svc, _ := p.Service("a"); svc.Replicas != 3 {
			t.Errorf("the engine's project says %d replicas after scale a=3", svc.Replicas)
		}
	}
	one := 1
	action(ActionRequest{Action: "scale", Service: "a", Replicas: &one})
	if !runningSoon(1) {
		t.Errorf("after scale a=1: %d running, want 1", running())
	}

	// The actions are in the history, with their output.
	jobs, err := s.eng.Store().Jobs(context.Background(), store.JobFilter{})
	if err != nil || len(jobs) != 5 {
		t.Fatalf("jobs = %d (%v), want the 5 actions", len(jobs), err)
	}
	var out []string
	_ = s.eng.ReadJobOutput(jobs[0].ID, func(o engine.JobOutput) error { out = append(out, o.Text); return nil })
	if len(out) != 2 || out[0] != "berth scale a=1 (by alice)" || out[1] != "done" {
		t.Errorf("output of the last action = %q", out)
	}

	for _, tc := range []struct {
		req  string
		code int
		err  string
	}{
		{`{"action":"restart","service":"nope"}`, 404, CodeUnknownService},
		{`{"action":"explode","service":"a"}`, 400, CodeBadRequest},
		{`{"action":"scale","service":"a"}`, 400, CodeBadRequest},
		{`{"action":"scale","service":"a","replicas":-1}`, 400, CodeBadRequest},
		{`{"action":"start","service":"a","extra":1}`, 400, CodeBadRequest},
	} {
		var e map[string]APIError
		if code := call(t, s, "alice", "POST", "/v1/actions", json.RawMessage(tc.req), &e); code != tc.code || e["error"].Code != tc.err {
			t.Errorf("action %s = %d %+v, want %d %s", tc.req, code, e, tc.code, tc.err)
		}
	}
}
