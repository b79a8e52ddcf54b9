// Package server exposes the engine as berth's one API: HTTP with JSON
// bodies, and newline-delimited JSON streams for logs and events. It talks to
// the engine (and, later, the hub); never to supervise directly.
//
// API errors carry a stable code and an HTTP status:
//
//	{"error": {"code": "unknown_service", "message": "no such service: \"x\" ..."}}
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/store"
)

// Error codes of the API; clients branch on these, never on the text.
const (
	CodeBadRequest      = "bad_request"
	CodeUnknownService  = "unknown_service"
	CodeNotRunning      = "not_running"
	CodeShuttingDown    = "shutting_down"
	CodeDependency      = "dependency_failed"
	CodePortInUse       = "port_in_use"
	CodeInternal        = "internal"
	CodeUnauthorized    = "unauthorized"
	CodeForbiddenHost   = "forbidden_host"
	CodeForbiddenOrigin = "forbidden_origin"
	CodeNotFound        = "not_found"
	CodeForbidden       = "forbidden"
	CodeNoTTY           = "no_tty"
	CodeJobEnded        = "job_ended"
)

// Options configure a Server.
type Options struct {
	Engine *engine.Engine
	// Hub carries the project's streams (events, statuses, jobs, topics).
	Hub    hub.Hub
	Logger *slog.Logger
	// QueueSize bounds each WebSocket client's queue of frames (0: the hub's default).
	QueueSize int
}

// Server serves the API of one engine.
type Server struct {
	eng       *engine.Engine
	hub       hub.Hub
	log       *slog.Logger
	mux       *http.ServeMux
	queueSize int

	mu           sync.Mutex // guards dashboardURL and conns
	dashboardURL string
	conns        map[*wsConn]struct{} // open WebSockets, for the pinger

	pingOnce sync.Once      // starts pingLoop with the first Serve
	pinging  sync.WaitGroup // the pinger, joined when a Serve returns

	notes notifier
	live  liveSockets // WebSockets by user, closed when their token is revoked

	flushers wsFlusher // writes the WebSockets' hub frames
}

// New returns a server for the engine in opts.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{eng: opts.Engine, hub: opts.Hub, log: opts.Logger, mux: http.NewServeMux(), queueSize: opts.QueueSize}
	s.routes()
	return s
}

// SetDashboardURL records the URL (with the owner token) that
// `berth dashboard --url` prints.
func (s *Server) SetDashboardURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dashboardURL = u
}

// ListenUnix listens on a Unix socket at path that only the owner can use
// (0600). A stale socket file with nobody behind it is replaced.
func ListenUnix(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("listen on %s: another berth engine is already serving this project", path)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, nil
}

// Serve answers requests on l until ctx is cancelled, then closes the
// listener and waits (briefly) for requests in flight.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return s.ServeHandler(ctx, l, s.mux)
}

// ServeHandler is Serve with another handler in front of the API (the
// guard of a TCP listener).
func (s *Server) ServeHandler(ctx context.Context, l net.Listener, h http.Handler) error {
	socks := newWSSockets(ctx)
	defer socks.close() // the WebSockets outlive their handlers
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(ctx, wsSocketsKey{}, socks)
		},
	}
	s.pingOnce.Do(func() {
		s.pinging.Add(1)
		go func() {
			defer s.pinging.Done()
			s.pingLoop(ctx)
		}()
	})
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	<-errc
	s.pinging.Wait() // the pinger ends with ctx
	return nil
}

// Handler returns the API's HTTP handler (for tests and other listeners).
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /v1/info", s.info)
	s.mux.HandleFunc("POST /v1/up", s.up)
	s.mux.HandleFunc("POST /v1/stop", s.stop)
	s.mux.HandleFunc("POST /v1/start", s.start)
	s.mux.HandleFunc("POST /v1/restart", s.restart)
	s.mux.HandleFunc("POST /v1/kill", s.kill)
	s.mux.HandleFunc("POST /v1/down", s.down)
	s.mux.HandleFunc("GET /v1/ps", s.ps)
	s.mux.HandleFunc("GET /v1/top", s.top)
	s.mux.HandleFunc("GET /v1/logs", s.logs)
	s.mux.HandleFunc("GET /v1/events", s.events)
	s.mux.HandleFunc("POST /v1/publish", s.publish)
	s.mux.HandleFunc("GET /v1/dashboard", s.dashboard)
	s.mux.HandleFunc("GET /api/ws", s.ws)
	s.jobRoutes()
	s.inspectRoutes()
	s.attachRoutes()
	s.dashboardRoutes()
}

// PublishRequest puts a payload on a topic stream (topic/<name>).
type PublishRequest struct {
	Stream  string          `json:"stream"`
	Payload json.RawMessage `json:"payload"`
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	var req PublishRequest
	if !readJSON(w, r, &req) {
		return
	}
	if !strings.HasPrefix(req.Stream, "topic/") {
		writeError(w, &badRequest{msg: fmt.Sprintf("stream %q: clients publish only to topic/<name> streams", req.Stream)})
		return
	}
	if len(req.Payload) == 0 || !json.Valid(req.Payload) {
		writeError(w, &badRequest{msg: "payload: want a JSON value"})
		return
	}
	seq, err := s.hub.Publish(req.Stream, req.Payload)
	if err != nil {
		writeError(w, &badRequest{msg: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"seq": seq})
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	u := s.dashboardURL
	s.mu.Unlock()
	if u == "" {
		writeAPIError(w, http.StatusNotFound, CodeNotFound, "this engine serves no dashboard (it was started without a TCP listener)")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": u})
}

// Info describes the engine behind the API.
type Info struct {
	Project  string   `json:"project"`
	Pid      int      `json:"pid"`
	Services []string `json:"services"`
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Info{Project: s.eng.ProjectName(), Pid: os.Getpid(), Services: s.eng.Services()})
}

func (s *Server) up(w http.ResponseWriter, r *http.Request) {
	var req engine.UpRequest
	if !readJSON(w, r, &req) {
		return
	}
	res, err := s.eng.Up(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request) {
	var req engine.StopRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := s.eng.Stop(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// StartRequest names the services to start (empty: all).
type StartRequest struct {
	Services []string `json:"services,omitempty"`
}

func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	var req StartRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := s.eng.Start(r.Context(), req.Services); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// restart restarts services, recorded as a job: who did it, when, and how it went.
func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	var req engine.StopRequest
	if !readJSON(w, r, &req) {
		return
	}
	target := strings.Join(req.Services, ",")
	if target == "" {
		target = "*"
	}
	st := s.eng.Store()
	job, jerr := st.CreateJob(r.Context(), store.Job{Service: target, Command: append([]string{"restart"}, req.Services...), Kind: store.KindRestart, LaunchedBy: UserOf(r.Context())})
	if jerr == nil {
		_ = st.StartJob(r.Context(), job.ID, time.Now())
	}
	err := s.eng.Restart(r.Context(), req)
	if jerr == nil {
		status, msg := store.StatusSucceeded, ""
		if err != nil {
			status, msg = store.StatusFailed, err.Error()
		}
		if ferr := st.FinishJob(context.WithoutCancel(r.Context()), job.ID, status, nil, msg, time.Now()); ferr != nil {
			s.log.Warn("record restart job", "err", ferr)
		}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) kill(w http.ResponseWriter, r *http.Request) {
	var req engine.KillRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := s.eng.Kill(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) down(w http.ResponseWriter, r *http.Request) {
	var req engine.DownRequest
	if !readJSON(w, r, &req) {
		return
	}
	// The caller waiting for the answer must not cancel the stop half-way.
	if err := s.eng.Down(context.WithoutCancel(r.Context()), req); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) ps(w http.ResponseWriter, r *http.Request) {
	st, err := s.eng.Ps(r.URL.Query()["service"])
	if err != nil {
		writeError(w, err)
		return
	}
	if st == nil {
		st = []engine.ReplicaStatus{}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) top(w http.ResponseWriter, r *http.Request) {
	procs, err := s.eng.Top(r.URL.Query()["service"])
	if err != nil {
		writeError(w, err)
		return
	}
	if procs == nil {
		procs = []engine.Process{}
	}
	writeJSON(w, http.StatusOK, procs)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	nd := newNDJSON(w)
	nd.flush()
	err := s.eng.Events(r.Context(), func(ev engine.Event, missed int) error {
		if missed > 0 {
			if err := nd.write(map[string]any{"missed": missed}); err != nil {
				return err
			}
		}
		if err := nd.write(ev); err != nil {
			return err
		}
		nd.flush()
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Debug("events stream ended", "err", err)
	}
}

// APIError is the body of every error answer.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, CodeInternal
	var unknown *engine.UnknownServiceError
	var dep *engine.DependencyError
	var port *engine.PortInUseError
	var notInspectable *engine.NotInspectableError
	switch {
	case errors.As(err, &unknown):
		status, code = http.StatusNotFound, CodeUnknownService
	case errors.As(err, &dep):
		status, code = http.StatusConflict, CodeDependency
	case errors.As(err, &port):
		status, code = http.StatusConflict, CodePortInUse
	case errors.As(err, &notInspectable):
		status, code = http.StatusConflict, CodeNotInspectable
	case errors.Is(err, engine.ErrNotRunning):
		status, code = http.StatusConflict, CodeNotRunning
	case errors.Is(err, engine.ErrNoTTY):
		status, code = http.StatusConflict, CodeNoTTY
	case errors.Is(err, engine.ErrClosed):
		status, code = http.StatusServiceUnavailable, CodeShuttingDown
	case errors.As(err, new(*badRequest)):
		status, code = http.StatusBadRequest, CodeBadRequest
	case errors.Is(err, store.ErrNotFound):
		status, code = http.StatusNotFound, CodeNotFound
	case errors.Is(err, store.ErrJobFinished):
		status, code = http.StatusConflict, CodeJobEnded
	}
	writeAPIError(w, status, code, err.Error())
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]APIError{"error": {Code: code, Message: msg}})
}

type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, &badRequest{msg: "decode request body: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ndjson writes a stream of JSON values, one per line.
type ndjson struct {
	w   http.ResponseWriter
	enc *json.Encoder
	rc  *http.ResponseController
}

func newNDJSON(w http.ResponseWriter) *ndjson {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	return &ndjson{w: w, enc: json.NewEncoder(w), rc: http.NewResponseController(w)}
}

func (n *ndjson) write(v any) error { return n.enc.Encode(v) }
func (n *ndjson) flush()            { _ = n.rc.Flush() }

func queryInt(r *http.Request, key string, def int) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	if strings.EqualFold(v, "all") {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &badRequest{msg: fmt.Sprintf("query %s=%q: not a number", key, v)}
	}
	return n, nil
}
