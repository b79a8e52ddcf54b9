package share

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/berthtest"
)

// gate serves a Handler for o in front of a (o.Target set to a).
func gate(t *testing.T, a *app, o HandlerOptions) *httptest.Server {
	t.Helper()
	if o.Target == "" {
		o.Target = a.target()
	}
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return srv
}

func TestHandler_DebugPaths(t *testing.T) {
	a := startApp(t)
	refused := gate(t, a, HandlerOptions{Service: "web"})
	allowed := gate(t, a, HandlerOptions{Service: "web", AllowDebug: true})
	custom := gate(t, a, HandlerOptions{Service: "web", DebugPaths: []string{"/admin/"}})
	tests := []struct {
		path    string
		refused bool
	}{
		{"/", false},
		{"/__debug__/", true},
		{"/__debug__", true},
		{"/__debug__/sql_select/?x=1", true},
		{"/__DEBUG__/render_panel/", true},
		{"//__debug__/x", true},
		{"/static/../__debug__/", true},
		{"/%5F%5Fdebug%5F%5F/", true},
		{"/console", true},
		{"/console/", true},
		{"/consoles", false},
		{"/app/console", false},
		{"/silk/requests/", true},
		{"/silky", false},
		{"/_debugbar/open?op=get", true},
		{"/debug/pprof/", true},
		{"/debug/pprof/heap", true},
		{"/debug", false},
		{"/__clockwork/app", true},
		{"/telescope/requests", true},
		{"/telescopes", false},
		{"/horizon/api/stats", true},
		{"/api/horizontal", false},
		{"/error?__debugger__=yes&cmd=print(1)&frm=0&s=x", true},
		{"/search?q=__debugger__", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			want := 200
			if tt.refused {
				want = 403
			}
			code, body, _ := get(t, refused.URL+tt.path)
			if code != want {
				t.Fatalf("got %d %q, want %d", code, body, want)
			}
			if tt.refused && (!strings.Contains(body, "debug endpoint") || !strings.Contains(body, "berth share --allow-debug")) {
				t.Errorf("403 body does not say why and how to allow it: %q", body)
			}
			if code, _, _ := get(t, allowed.URL+tt.path); code != 200 {
				t.Errorf("with AllowDebug: got %d, want 200", code)
			}
			// A custom list replaces the default paths; Werkzeug's
			// debugger query is refused whatever the list.
			want = 200
			if strings.Contains(tt.path, "?__debugger__") {
				want = 403
			}
			if code, _, _ := get(t, custom.URL+tt.path); code != want {
				t.Errorf("with DebugPaths [/admin/]: got %d, want %d", code, want)
			}
		})
	}
	if code, _, _ := get(t, custom.URL+"/admin/login/"); code != 403 {
		t.Errorf("custom DebugPaths: /admin/login/ got %d, want 403", code)
	}
}

func TestHandler_Auth(t *testing.T) {
	a := startApp(t)
	srv := gate(t, a, HandlerOptions{Auth: &Credentials{User: "ann", Password: "pa:ss"}})
	tests := []struct {
		name       string
		user, pass string
		set        bool
		want       int
	}{
		{"no credentials", "", "", false, 401},
		{"wrong password", "ann", "nope", true, 401},
		{"wrong user", "bob", "pa:ss", true, 401},
		{"right credentials", "ann", "pa:ss", true, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, h := get(t, srv.URL+"/", func(r *http.Request) {
				if tt.set {
					r.SetBasicAuth(tt.user, tt.pass)
				}
			})
			if code != tt.want {
				t.Fatalf("got %d, want %d", code, tt.want)
			}
			if code == 401 && !strings.Contains(h.Get("WWW-Authenticate"), `Basic realm="berth share"`) {
				t.Errorf("WWW-Authenticate: %q", h.Get("WWW-Authenticate"))
			}
		})
	}
	// The debug check comes after auth: a stranger learns nothing.
	if code, _, _ := get(t, srv.URL+"/console"); code != 401 {
		t.Errorf("/console without credentials: got %d, want 401", code)
	}
}

func TestHandler_Forwarding(t *testing.T) {
	a := startApp(t)

	t.Run("only to the target", func(t *testing.T) {
		srv := gate(t, a, HandlerOptions{})
		// An absolute-form request naming another host still reaches the target.
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET http://127.0.0.1:1/elsewhere HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "GET /elsewhere") {
			t.Fatalf("got %d %q, want the app's answer", resp.StatusCode, b)
		}
	})

	t.Run("CONNECT refused", func(t *testing.T) {
		srv := gate(t, a, HandlerOptions{})
		req, _ := http.NewRequest(http.MethodConnect, srv.URL, nil)
		req.Host = "example.com:443"
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("got %d, want 405", resp.StatusCode)
		}
	})

	t.Run("service down answers 502", func(t *testing.T) {
		srv := gate(t, a, HandlerOptions{Service: "web", Target: "127.0.0.1:" + fmt.Sprint(berthtest.FreePort(t))})
		code, body, _ := get(t, srv.URL+"/")
		if code != 502 || !strings.Contains(body, "web is not answering") || !strings.Contains(body, "connection refused") {
			t.Fatalf("got %d %q, want 502 saying the service is not answering", code, body)
		}
	})

	t.Run("bad target", func(t *testing.T) {
		if _, err := NewHandler(HandlerOptions{Target: "nope"}); err == nil {
			t.Fatal("NewHandler accepted a target without a port")
		}
	})
}
