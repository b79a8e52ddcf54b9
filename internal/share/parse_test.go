package share

import (
	"strings"
	"testing"
	"time"
)

func TestParseVia(t *testing.T) {
	me := currentUser()
	tests := []struct {
		in      string
		want    Via
		wantErr string
	}{
		{in: "deploy@example.com", want: Via{"deploy", "example.com", 22}},
		{in: "deploy@example.com:2222", want: Via{"deploy", "example.com", 2222}},
		{in: "ssh://deploy@example.com:2222", want: Via{"deploy", "example.com", 2222}},
		{in: "example.com", want: Via{me, "example.com", 22}},
		{in: "me@[::1]:2200", want: Via{"me", "::1", 2200}},
		{in: "me@[::1]", want: Via{"me", "::1", 22}},
		{in: "me@::1", want: Via{"me", "::1", 22}},
		{in: "a@b@host", want: Via{"a@b", "host", 22}},
		{in: "me@host:0", wantErr: "port"},
		{in: "me@host:99999", wantErr: "port"},
		{in: "me@host:ssh", wantErr: "port"},
		{in: "me@host:", wantErr: "port"},
		{in: "@host", wantErr: "empty user"},
		{in: "me@", wantErr: "user@host"},
		{in: "me@a/b", wantErr: "not a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVia(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an error about %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseBind(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"", "0.0.0.0", false},
		{"*", "0.0.0.0", false},
		{"0.0.0.0", "0.0.0.0", false},
		{"localhost", "127.0.0.1", false},
		{"127.0.0.1", "127.0.0.1", false},
		{"::", "::", false},
		{"[::1]", "::1", false},
		{"example.com", "", true},
	}
	for _, tt := range tests {
		got, err := parseBind(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("parseBind(%q): got %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("parseBind(%q): got %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		in   string
		want Credentials
		bad  bool
	}{
		{in: "ann:secret", want: Credentials{"ann", "secret"}},
		{in: "ann:se:cret", want: Credentials{"ann", "se:cret"}},
		{in: "ann", bad: true},
		{in: "ann:", bad: true},
		{in: ":secret", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseCredentials(tt.in)
		if tt.bad != (err != nil) || got != tt.want {
			t.Errorf("ParseCredentials(%q): got %+v, %v", tt.in, got, err)
		}
	}
}

func TestNextBackoff(t *testing.T) {
	const max = 10 * time.Second
	got := []time.Duration{DefaultMinBackoff}
	for len(got) < 9 {
		got = append(got, nextBackoff(got[len(got)-1], max))
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
		4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestURL(t *testing.T) {
	tests := []struct {
		via, bind, want string
	}{
		{"me@example.com:2222", "", "http://example.com:8080"},
		{"me@example.com", "0.0.0.0", "http://example.com:8080"},
		{"me@example.com", "127.0.0.1", "http://127.0.0.1:8080"},
		{"me@example.com", "::", "http://example.com:8080"},
		{"me@[2001:db8::1]", "", "http://[2001:db8::1]:8080"},
	}
	for _, tt := range tests {
		s, err := New(Options{Target: "127.0.0.1:1", Via: tt.via, Bind: tt.bind, KnownHosts: "/dev/null"})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.url(8080); got != tt.want {
			t.Errorf("via %s bind %q: got %s, want %s", tt.via, tt.bind, got, tt.want)
		}
	}
}
