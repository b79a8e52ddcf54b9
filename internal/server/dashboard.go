package server

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/store"
)

// The dashboard is a small single-page app (preact + htm, vendored as ES
// modules by web/vendor.sh): no build step, so the files below are what the
// browser runs. web/vendor.sh itself is not embedded.
//
//go:embed web/index.html web/login.html web/*.js web/*.css web/*.svg web/vendor/*.mjs web/vendor/*.css web/vendor/*.LICENSE
var webFiles embed.FS

// webAsset is one embedded file, ready to serve.
type webAsset struct {
	body        []byte
	contentType string
	etag        string
}

// webAssets maps a path under web/ ("app.js", "vendor/preact.mjs") to its file.
var webAssets = loadWebAssets()

func loadWebAssets() map[string]webAsset {
	types := map[string]string{
		".html":    "text/html; charset=utf-8",
		".js":      "text/javascript; charset=utf-8",
		".mjs":     "text/javascript; charset=utf-8",
		".css":     "text/css; charset=utf-8",
		".svg":     "image/svg+xml",
		".LICENSE": "text/plain; charset=utf-8",
	}
	out := map[string]webAsset{}
	_ = fs.WalkDir(webFiles, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := webFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, "web/")] = webAsset{body: b, contentType: types[path.Ext(p)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return out
}

// dashboardCSP keeps the app to its own files: no inline script, no other
// origin (inline styles are allowed: 256-colour and 24-bit ANSI colours are
// style attributes). connect-src 'self' covers the WebSocket to the same host.
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// dashboardRoutes serves the dashboard app, its files and the small API it
// needs besides the rest: who am I, and actions recorded as jobs.
func (s *Server) dashboardRoutes() {
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("GET /ui/{path...}", s.asset)
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, r, "favicon.svg")
	})
	s.mux.HandleFunc("GET /v1/whoami", s.whoami)
	s.mux.HandleFunc("POST /v1/actions", s.action)
}

// index serves the app's page.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, r, "index.html")
}

func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("path")
	if _, ok := webAssets[p]; !ok || p == "index.html" || p == "login.html" {
		writeAPIError(w, http.StatusNotFound, CodeNotFound, "no such dashboard file: "+quote(p))
		return
	}
	serveAsset(w, r, p)
}

// serveAsset writes an embedded file. Files are revalidated on every load
// (no-cache + ETag), so a new berth binary never runs with a stale script.
func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a := webAssets[name]
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if strings.HasSuffix(name, ".html") {
		h.Set("Content-Security-Policy", dashboardCSP)
		h.Set("X-Frame-Options", "DENY")
	}
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.body)
}

// Whoami is the answer of GET /v1/whoami.
type Whoami struct {
	Project string `json:"project"`
	User    string `json:"user"`
	// Owner is true for the user who started berth (they manage tokens).
	Owner bool `json:"owner"`
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	u := UserOf(r.Context())
	writeJSON(w, http.StatusOK, Whoami{Project: s.eng.ProjectName(), User: u, Owner: u == OwnerUser})
}

// wantsHTML reports whether r is a browser loading a page (not a script
// calling the API): a GET or HEAD that accepts HTML, outside /v1/ and /api/.
func wantsHTML(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/api/") || isUpgrade(r) {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// serveLoginPage answers a browser that has no valid session with a page
// that says how to get the dashboard's URL, with status 401. invalid says
// that the browser did send a token (a wrong, revoked or stale one).
func serveLoginPage(w http.ResponseWriter, r *http.Request, invalid bool) {
	a := webAssets["login.html"]
	reason := "This dashboard needs your token."
	if invalid {
		reason = "The token you used is not valid: it was mistyped, revoked, or belongs to an earlier run of berth."
		// Forget a stale session so that the next token URL is not shadowed by it.
		http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	body := strings.Replace(string(a.body), "{{REASON}}", html.EscapeString(reason), 1)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusUnauthorized)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// ActionRequest asks for a lifecycle action on one service, recorded as a
// job so that the dashboard shows who did what.
type ActionRequest struct {
	// Action is start, stop, restart or scale.
	Action  string `json:"action"`
	Service string `json:"service"`
	// Replicas is the new replica count (scale only).
	Replicas *int `json:"replicas,omitempty"`
}

// action runs an ActionRequest as a job: it is recorded (kind restart for a
// restart, api otherwise; command [ACTION, SERVICE] or ["scale",
// "SERVICE=N"], as /v1/restart records a restart), its outcome is
// written to the job's output and stream, and the answer is the ended job.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	var req ActionRequest
	if !readJSON(w, r, &req) {
		return
	}
	p := s.eng.Project()
	if p == nil {
		writeError(w, fmt.Errorf("%s %s: %w: no project is up", req.Action, req.Service, engine.ErrNotRunning))
		return
	}
	if _, ok := p.Service(req.Service); !ok {
		writeError(w, &engine.UnknownServiceError{Name: req.Service, Known: p.ServiceNames()})
		return
	}
	kind, cmd := store.KindAPI, []string{req.Action, req.Service}
	var run func(ctx context.Context) error
	switch req.Action {
	case "start":
		run = func(ctx context.Context) error { return s.eng.Start(ctx, []string{req.Service}) }
	case "stop":
		run = func(ctx context.Context) error {
			return s.eng.Stop(ctx, engine.StopRequest{Services: []string{req.Service}})
		}
	case "restart":
		kind = store.KindRestart
		run = func(ctx context.Context) error {
			return s.eng.Restart(ctx, engine.StopRequest{Services: []string{req.Service}})
		}
	case "scale":
		if req.Replicas == nil || *req.Replicas < 0 || *req.Replicas > 100 {
			writeError(w, &badRequest{msg: "scale: replicas: want a number from 0 to 100"})
			return
		}
		n := *req.Replicas
		cmd = []string{"scale", req.Service + "=" + strconv.Itoa(n)}
		run = func(ctx context.Context) error {
			// Up changes the project it is given: give it a copy.
			cp := *p
			cp.Services = slices.Clone(p.Services)
			_, err := s.eng.Up(ctx, engine.UpRequest{Project: &cp, Services: []string{req.Service}, Scale: map[string]int{req.Service: n}, NoDeps: true})
			return err
		}
	default:
		writeError(w, &badRequest{msg: fmt.Sprintf("action %q: want start, stop, restart or scale", req.Action)})
		return
	}
	ctx := context.WithoutCancel(r.Context()) // a closed tab must not stop an action half-way
	st := s.eng.Store()
	job, err := st.CreateJob(ctx, store.Job{Service: req.Service, Command: cmd, Kind: kind, LaunchedBy: UserOf(r.Context())})
	if err != nil {
		writeError(w, err)
		return
	}
	stream := hub.Job(strconv.FormatInt(job.ID, 10))
	out, _ := st.OpenJobOutput(job.ID)
	line := func(name, text string) {
		b, _ := json.Marshal(engine.JobOutput{Type: "output", Stream: name, Time: time.Now().UTC(), Text: text})
		if out != nil {
			_, _ = out.Write(append(b, '\n'))
		}
		_, _ = s.hub.Publish(stream, json.RawMessage(b))
	}
	_ = st.StartJob(ctx, job.ID, time.Now())
	line("stdout", "berth "+strings.Join(cmd, " ")+" (by "+job.LaunchedBy+")")
	runErr := run(ctx)
	status, code, msg := store.StatusSucceeded, 0, ""
	if runErr != nil {
		status, code, msg = store.StatusFailed, 1, runErr.Error()
		line("stderr", "berth: "+msg)
	} else {
		line("stdout", "done")
	}
	if out != nil {
		out.Close()
	}
	if err := st.FinishJob(ctx, job.ID, status, &code, msg, time.Now()); err != nil {
		s.log.Warn("finish action job", "job", job.ID, "err", err)
	}
	_, _ = s.hub.Publish(stream, engine.JobEnd{Type: "end", Status: status, ExitCode: &code, Error: msg})
	if runErr != nil {
		writeError(w, runErr)
		return
	}
	if j, err := st.Job(ctx, job.ID); err == nil {
		job = j
	}
	writeJSON(w, http.StatusOK, job)
}
