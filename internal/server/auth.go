package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// SessionCookie is the cookie that opening the token URL sets.
const SessionCookie = "berth_session"

// OwnerUser is the user of the Unix socket and of the token berth prints.
const OwnerUser = "owner"

// Authenticator resolves a named user's token (berth token create). It is
// implemented by the store; nil means only the owner token exists.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (user string, err error)
}

// Guard protects the API on a TCP listener like a shell: the Host header
// must be in an exact allow-list (no DNS: this stops DNS rebinding), a
// request's Origin, when it has one, must be the dashboard's own (WebSocket
// upgrades and cross-site requests carry one), and every request needs a
// token (?token=, Authorization: Bearer, or the session cookie).
type Guard struct {
	// OwnerToken is the secret of the user who started berth.
	OwnerToken string
	// Tokens resolves other users' tokens (may be nil).
	Tokens Authenticator
	// Hosts are the allowed Host header values, with and without port.
	Hosts map[string]bool
	// Origins are the allowed Origin values (of WebSocket upgrades, and of
	// any request that has one).
	Origins map[string]bool
}

// NewToken returns a fresh random secret.
func NewToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// LoopbackGuard allows the loopback names and addresses on port, plus extra
// hosts (for an explicit non-loopback bind).
func LoopbackGuard(owner string, tokens Authenticator, port string, extra ...string) *Guard {
	g := &Guard{OwnerToken: owner, Tokens: tokens, Hosts: map[string]bool{}, Origins: map[string]bool{}}
	for _, h := range append([]string{"localhost", "127.0.0.1", "[::1]"}, extra...) {
		g.Hosts[h+":"+port] = true
		g.Origins["http://"+h+":"+port] = true
		g.Origins["https://"+h+":"+port] = true
	}
	return g
}

type ctxKey struct{}

// withUser records the authenticated user in the request's context.
func withUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, ctxKey{}, user)
}

// UserOf returns the user a request was authenticated as (the owner on the
// trusted Unix socket).
func UserOf(ctx context.Context) string {
	if u, ok := ctx.Value(ctxKey{}).(string); ok {
		return u
	}
	return OwnerUser
}

// Wrap returns h behind the guard.
func (g *Guard) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.Hosts[strings.ToLower(r.Host)] {
			writeAPIError(w, http.StatusMisdirectedRequest, CodeForbiddenHost,
				"host "+quote(r.Host)+" is not allowed (berth answers only to its loopback address; see --allow-host)")
			return
		}
		// Browsers send Origin with WebSocket upgrades and with cross-origin
		// requests: a page on another local port is same-site, so the
		// SameSite cookie alone would not stop its POSTs.
		if origin := r.Header.Get("Origin"); origin != "" && !g.Origins[strings.ToLower(origin)] {
			writeAPIError(w, http.StatusForbidden, CodeForbiddenOrigin, "origin "+quote(origin)+" is not allowed")
			return
		}
		secret, fromQuery := tokenOf(r)
		if secret == "" {
			if wantsHTML(r) {
				serveLoginPage(w, r, false)
				return
			}
			writeAPIError(w, http.StatusUnauthorized, CodeUnauthorized, "a token is required: open the URL `berth dashboard --url` prints, or send Authorization: Bearer TOKEN")
			return
		}
		user, err := g.authenticate(r.Context(), secret)
		if err != nil {
			if wantsHTML(r) {
				serveLoginPage(w, r, true)
				return
			}
			writeAPIError(w, http.StatusUnauthorized, CodeUnauthorized, "the token is not valid (revoked or mistyped): get a fresh URL with `berth dashboard --url`")
			return
		}
		if fromQuery && r.Method == http.MethodGet && !isUpgrade(r) && !strings.HasPrefix(r.URL.Path, "/v1/") {
			// Opening the token URL: keep the token in a cookie and drop it from the address bar.
			http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			u := *r.URL
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		h.ServeHTTP(w, r.WithContext(withUser(r.Context(), user)))
	})
}

func (g *Guard) authenticate(ctx context.Context, secret string) (string, error) {
	if g.OwnerToken != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(g.OwnerToken)) == 1 {
		return OwnerUser, nil
	}
	if g.Tokens != nil {
		return g.Tokens.Authenticate(ctx, secret)
	}
	return "", errors.New("unknown token")
}

func tokenOf(r *http.Request) (secret string, fromQuery bool) {
	if t := r.URL.Query().Get("token"); t != "" {
		return t, true
	}
	if a := r.Header.Get("Authorization"); a != "" {
		if t, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(t), false
		}
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value, false
	}
	return "", false
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\""
}

// IsLoopback reports whether a listen address binds only loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DashboardURL is the URL berth prints: the dashboard with the owner token.
func DashboardURL(addr, token string) string {
	return "http://" + addr + "/?token=" + url.QueryEscape(token)
}
