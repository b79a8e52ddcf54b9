package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/store"
)

// upgrade returns the headers of a WebSocket upgrade request.
func upgrade(h http.Header) http.Header {
	h = h.Clone()
	h.Set("Connection", "Upgrade")
	h.Set("Upgrade", "websocket")
	h.Set("Sec-WebSocket-Version", "13")
	h.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	return h
}

func TestGuard(t *testing.T) {
	e := newEnv(t, appCompose, envOptions{files: appFiles})
	ctx := timeout(t, 30*time.Second)
	carol, err := e.eng.Store().CreateToken(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := e.eng.Store().CreateToken(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, e.remote("GET", "/v1/ps", revoked, nil)) // valid until revoked
	mustOK(t, e.remote("DELETE", "/v1/tokens/dave", e.owner, nil))

	host := "127.0.0.1:" + e.port
	bearer := func(tok string) http.Header {
		return http.Header{"Authorization": {"Bearer " + tok}}
	}
	with := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		h.Set(k, v)
		return h
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
		code   string
	}{
		{"no token", http.Header{}, http.StatusUnauthorized, server.CodeUnauthorized},
		{"wrong token", bearer("berth_not-a-token"), http.StatusUnauthorized, server.CodeUnauthorized},
		{"owner token mistyped", bearer(e.owner + "x"), http.StatusUnauthorized, server.CodeUnauthorized},
		{"revoked token", bearer(revoked), http.StatusUnauthorized, server.CodeUnauthorized},
		{"foreign origin", with(bearer(carol), "Origin", "http://evil.example"), http.StatusForbidden, server.CodeForbiddenOrigin},
		{"null origin", with(bearer(carol), "Origin", "null"), http.StatusForbidden, server.CodeForbiddenOrigin},
		{"other local port", with(bearer(e.owner), "Origin", "http://localhost:1"), http.StatusForbidden, server.CodeForbiddenOrigin},
		{"foreign host", with(bearer(e.owner), "Host", "attacker.example"), http.StatusMisdirectedRequest, server.CodeForbiddenHost},
		{"foreign host with the port", with(bearer(e.owner), "Host", "attacker.example:"+e.port), http.StatusMisdirectedRequest, server.CodeForbiddenHost},
		{"loopback without the port", with(bearer(e.owner), "Host", "127.0.0.1"), http.StatusMisdirectedRequest, server.CodeForbiddenHost},
		{"own origin", with(bearer(carol), "Origin", "http://"+host), http.StatusOK, ""},
		{"localhost", with(with(bearer(carol), "Host", "localhost:"+e.port), "Origin", "http://localhost:"+e.port), http.StatusOK, ""},
		{"owner", bearer(e.owner), http.StatusOK, ""},
		{"named user", bearer(carol), http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(e.http, "GET", "http://"+e.addr+"/v1/ps", nil, tc.header)
			if r.status != tc.status || r.err.Code != tc.code {
				t.Errorf("GET /v1/ps: %d %s; want %d %s", r.status, r.body, tc.status, tc.code)
			}
			wantWS := tc.status
			if wantWS == http.StatusOK {
				wantWS = http.StatusSwitchingProtocols
			}
			r = e.do(e.http, "GET", "http://"+e.addr+"/api/ws", nil, upgrade(tc.header))
			if r.status != wantWS || r.err.Code != tc.code {
				t.Errorf("upgrade /api/ws: %d %s; want %d %s", r.status, r.body, wantWS, tc.code)
			}
			if tc.status != http.StatusOK && r.err.Message == "" {
				t.Errorf("upgrade /api/ws: %d without a message", r.status)
			}
		})
	}

	t.Run("cross-origin POST with the session cookie", func(t *testing.T) {
		// A page on another local port is same-site: the browser sends the
		// SameSite=Strict cookie with a "simple" POST (no preflight).
		h := http.Header{
			"Cookie":       {server.SessionCookie + "=" + e.owner},
			"Origin":       {"http://localhost:3000"},
			"Content-Type": {"text/plain"},
		}
		r := e.do(e.http, "POST", "http://"+e.addr+"/v1/publish", map[string]any{"stream": "topic/csrf", "payload": 1}, h)
		if r.status != http.StatusForbidden || r.err.Code != server.CodeForbiddenOrigin {
			t.Errorf("POST /v1/publish from http://localhost:3000: %d %s; want 403 %s", r.status, r.body, server.CodeForbiddenOrigin)
		}
	})

	t.Run("token URL sets the session cookie", func(t *testing.T) {
		r := e.do(e.http, "GET", server.DashboardURL(e.addr, e.owner), nil, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
			t.Fatalf("GET /?token=: %d, Location %q; want 303 to /", r.status, r.header.Get("Location"))
		}
		var cookie *http.Cookie
		for _, c := range (&http.Response{Header: r.header}).Cookies() {
			if c.Name == server.SessionCookie {
				cookie = c
			}
		}
		if cookie == nil || cookie.Value != e.owner || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
			t.Fatalf("Set-Cookie %q; want %s=<token>; Path=/; HttpOnly; SameSite=Strict", r.header.Values("Set-Cookie"), server.SessionCookie)
		}
		// Other query parameters stay.
		r = e.do(e.http, "GET", "http://"+e.addr+"/?view=jobs&token="+carol, nil, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/?view=jobs" {
			t.Errorf("GET /?view=jobs&token=: %d, Location %q; want 303 to /?view=jobs", r.status, r.header.Get("Location"))
		}
		// On the API, ?token= authenticates without a redirect.
		mustOK(t, e.do(e.http, "GET", "http://"+e.addr+"/v1/ps?token="+carol, nil, nil))

		// The cookie then authenticates requests and WebSockets.
		h := http.Header{"Cookie": {cookie.String()}}
		mustOK(t, e.do(e.http, "GET", "http://"+e.addr+"/v1/ps", nil, h))
		mustOK(t, e.do(e.http, "GET", "http://"+e.addr+"/", nil, h))
		hc := &http.Client{}
		defer hc.CloseIdleConnections()
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		conn, _, err := websocket.Dial(dctx, "ws://"+e.addr+"/api/ws", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: with(h, "Origin", "http://"+host)})
		if err != nil {
			t.Fatalf("WebSocket with the session cookie: %v", err)
		}
		c := e.newClient(conn, nil)
		c.t = t
		c.subscribed(ctx, 1, []string{"events"}, nil)
		c.close()
		// ?token= on the WebSocket URL, as websocat would send it.
		conn, _, err = websocket.Dial(dctx, "ws://"+e.addr+"/api/ws?token="+carol, &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			t.Fatalf("WebSocket with ?token=: %v", err)
		}
		c = e.newClient(conn, nil)
		c.t = t
		c.subscribed(ctx, 1, []string{"events"}, nil)
		c.close()
	})

	t.Run("tokens are the owner's to manage", func(t *testing.T) {
		if r := e.remote("POST", "/v1/tokens", carol, server.TokenRequest{Name: "mallory"}); r.status != http.StatusForbidden || r.err.Code != server.CodeForbidden {
			t.Errorf("carol creates a token: %d %s; want 403 %s", r.status, r.body, server.CodeForbidden)
		}
		if r := e.remote("GET", "/v1/tokens", carol, nil); r.status != http.StatusForbidden {
			t.Errorf("carol lists tokens: %d %s; want 403", r.status, r.body)
		}
		r := mustOK(t, e.remote("POST", "/v1/tokens", e.owner, server.TokenRequest{Name: "erin"}))
		var tok server.TokenCreated
		if err := json.Unmarshal(r.body, &tok); err != nil || tok.Name != "erin" || !strings.HasPrefix(tok.Secret, "berth_") {
			t.Fatalf("POST /v1/tokens: %s", r.body)
		}
		mustOK(t, e.remote("GET", "/v1/ps", tok.Secret, nil))
		var j store.Job
		if err := json.Unmarshal(mustOK(t, e.remote("POST", "/v1/jobs", tok.Secret, engine.JobRequest{Kind: store.KindRun, Service: "app", Command: []string{"true"}})).body, &j); err != nil || j.LaunchedBy != "erin" {
			t.Errorf("a job erin launched: launched by %q (%v)", j.LaunchedBy, err)
		}
		if r := e.remote("POST", "/v1/tokens", e.owner, server.TokenRequest{Name: "erin"}); r.status != http.StatusBadRequest {
			t.Errorf("a second erin: %d %s; want 400", r.status, r.body)
		}
		if r := e.remote("DELETE", "/v1/tokens/nobody", e.owner, nil); r.status != http.StatusNotFound || r.err.Code != server.CodeNotFound {
			t.Errorf("revoke an unknown token: %d %s; want 404 %s", r.status, r.body, server.CodeNotFound)
		}
	})

	t.Run("the Unix socket is the owner's only", func(t *testing.T) {
		fi, err := os.Stat(e.sock)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want a socket with 0600", e.sock, fi.Mode())
		}
		// The socket needs no token, and its user is the owner.
		var j store.Job
		if err := json.Unmarshal(mustOK(t, e.local("POST", "/v1/jobs", engine.JobRequest{Kind: store.KindRun, Service: "app", Command: []string{"true"}})).body, &j); err != nil || j.LaunchedBy != server.OwnerUser {
			t.Errorf("a job launched over the socket: launched by %q (%v)", j.LaunchedBy, err)
		}
	})
}

// Revoking a token also ends the WebSockets it opened, with status 1008 and
// a reason; the owner's and other users' sockets stay open.
func TestAuth_RevokeClosesOpenSockets(t *testing.T) {
	e := newEnv(t, appCompose, envOptions{files: appFiles})
	ctx := timeout(t, 30*time.Second)
	erin, err := e.eng.Store().CreateToken(ctx, "erin")
	if err != nil {
		t.Fatal(err)
	}
	frank, err := e.eng.Store().CreateToken(ctx, "frank")
	if err != nil {
		t.Fatal(err)
	}
	ce, cf := e.dialTCP(erin), e.dialTCP(frank)
	ce.subscribed(ctx, 1, []string{"events"}, nil)
	cf.subscribed(ctx, 1, []string{"events"}, nil)

	mustOK(t, e.remote("DELETE", "/v1/tokens/erin", e.owner, nil))
	for err == nil { // frames sent before the close may come first
		_, err = ce.next(ctx)
	}
	if st := websocket.CloseStatus(err); st != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "token revoked") {
		t.Fatalf("erin's socket: %v (status %d), want closed with 1008 token revoked", err, st)
	}
	cf.subscribed(ctx, 2, []string{"topic/still-here"}, nil) // frank's socket is untouched
}
