package share

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"time"
)

// DefaultDebugPaths are the path prefixes refused to shared visitors unless
// debug endpoints are allowed: framework debug tools that show secrets or run
// code. A prefix matches the path itself and everything below it
// ("/console" matches "/console" and "/console/x", not "/consoles").
var DefaultDebugPaths = []string{
	"/__debug__/",  // django-debug-toolbar
	"/console",     // Werkzeug (Flask) interactive console
	"/silk/",       // django-silk
	"/_debugbar",   // Laravel Debugbar
	"/debug/pprof", // Go net/http/pprof
	"/__clockwork", // Clockwork (PHP)
	"/telescope",   // Laravel Telescope
	"/horizon",     // Laravel Horizon
}

// debuggerQuery is the query parameter Werkzeug's in-browser debugger uses
// to run code from any page's traceback; it is refused like a debug path.
const debuggerQuery = "__debugger__"

// Credentials are the user and password visitors must give (basic auth).
type Credentials struct {
	User     string
	Password string
}

// ParseCredentials parses "user:pass" as --auth takes it.
func ParseCredentials(s string) (Credentials, error) {
	user, pass, ok := strings.Cut(s, ":")
	if !ok || user == "" || pass == "" {
		return Credentials{}, fmt.Errorf("auth %q: want user:password", s)
	}
	return Credentials{User: user, Password: pass}, nil
}

// HandlerOptions configure a Handler.
type HandlerOptions struct {
	// Service names the shared service in messages.
	Service string
	// Target is the host:port every request is forwarded to (the service's
	// published port on loopback). Required.
	Target string
	// Auth, when set, is required of every visitor (basic auth). The
	// visitor's Authorization header is not passed on to the service.
	Auth *Credentials
	// AllowDebug lets visitors reach DebugPaths.
	AllowDebug bool
	// DebugPaths are the refused path prefixes; nil means DefaultDebugPaths.
	DebugPaths []string
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
}

// Handler is the HTTP gate shared visitors go through: basic auth when
// configured, refusal of debug endpoints, then a streaming reverse proxy to
// one fixed target. It is safe for concurrent use; Close releases its idle
// connections to the target.
type Handler struct {
	opts      HandlerOptions
	log       *slog.Logger
	debug     []string // lower-cased prefixes without a trailing slash
	transport *http.Transport
	next      http.Handler
	// userSum and passSum are SHA-256 sums of the credentials, compared in
	// constant time.
	userSum, passSum [32]byte
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns the gate for o.
func NewHandler(o HandlerOptions) (*Handler, error) {
	if _, _, err := net.SplitHostPort(o.Target); err != nil {
		return nil, fmt.Errorf("share target %q: %w", o.Target, err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{opts: o, log: log.With(keyService, o.Service)}
	paths := o.DebugPaths
	if paths == nil {
		paths = DefaultDebugPaths
	}
	for _, p := range paths {
		p = strings.ToLower(strings.TrimRight(p, "/"))
		if p != "" {
			h.debug = append(h.debug, p)
		}
	}
	if o.Auth != nil {
		h.userSum = sha256.Sum256([]byte(o.Auth.User))
		h.passSum = sha256.Sum256([]byte(o.Auth.Password))
	}
	h.transport = &http.Transport{
		// Never an HTTP proxy from the environment: the target is local.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Pass bodies as the service encodes them.
		DisableCompression: true,
	}
	target := &url.URL{Scheme: "http", Host: o.Target}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			// Host becomes the target's, as the service sees it locally
			// (dev servers refuse unknown hosts); X-Forwarded-Host keeps
			// the public one.
			r.SetURL(target)
			r.SetXForwarded()
			if o.Auth != nil {
				r.Out.Header.Del("Authorization")
			}
		},
		Transport: h.transport,
		// Flush every write: streams (SSE, chunked) pass as they come.
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
		ErrorHandler:  h.badGateway,
	}
	h.next = rp
	return h, nil
}

// Close closes the idle connections to the target.
func (h *Handler) Close() { h.transport.CloseIdleConnections() }

// ServeHTTP checks the request, then forwards it to the target.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.Auth != nil && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="berth share", charset="UTF-8"`)
		http.Error(w, "berth share: this app is shared with a password; sign in to see it", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodConnect {
		http.Error(w, "berth share: CONNECT is not forwarded", http.StatusMethodNotAllowed)
		return
	}
	if !h.opts.AllowDebug {
		if what, refused := h.debugEndpoint(r.URL); refused {
			h.log.Debug("debug endpoint refused", keyPath, r.URL.Path, keyClient, r.RemoteAddr)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, fmt.Sprintf("berth share: %s is a debug endpoint (it can show secrets or run code), so it is not shared.\n"+
				"The person sharing this app can allow debug endpoints with `berth share --allow-debug`.", what), http.StatusForbidden)
			return
		}
	}
	h.next.ServeHTTP(w, r)
}

// authorized reports whether r carries the configured credentials.
func (h *Handler) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	us := sha256.Sum256([]byte(user))
	ps := sha256.Sum256([]byte(pass))
	// Both compared, always: the time taken says nothing about which was wrong.
	return subtle.ConstantTimeCompare(us[:], h.userSum[:])&subtle.ConstantTimeCompare(ps[:], h.passSum[:]) == 1
}

// debugEndpoint reports whether u names a debug endpoint, and which. The
// path is cleaned first, so "//console" or "/static/../console" (which a
// service may clean itself) are caught too.
func (h *Handler) debugEndpoint(u *url.URL) (string, bool) {
	p := u.Path
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	p = strings.ToLower(path.Clean(p))
	for _, d := range h.debug {
		if p == d || strings.HasPrefix(p, d+"/") {
			return d, true
		}
	}
	if q, err := url.ParseQuery(u.RawQuery); err == nil {
		if _, ok := q[debuggerQuery]; ok {
			return "the Werkzeug debugger (?" + debuggerQuery + ")", true
		}
	} else if strings.Contains(strings.ToLower(u.RawQuery), debuggerQuery) {
		return "the Werkzeug debugger (?" + debuggerQuery + ")", true
	}
	return "", false
}

// badGateway answers when the target cannot be reached or fails mid-way.
func (h *Handler) badGateway(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The visitor or the link went away: nobody to answer.
		return
	}
	h.log.Debug("target failed", keyAddr, h.opts.Target, keyPath, r.URL.Path, keyErr, err)
	var what string
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		what = "is not answering"
	} else {
		what = "failed to answer"
	}
	name := h.opts.Service
	if name == "" {
		name = "the app"
	}
	http.Error(w, fmt.Sprintf("berth share: %s %s (%s); is it running?", name, what, shortCause(err)), http.StatusBadGateway)
}

// shortCause keeps the last part of an error chain ("connection refused"):
// visitors need no addresses.
func shortCause(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
