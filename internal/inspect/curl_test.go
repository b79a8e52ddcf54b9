package inspect

import (
	"bytes"
	"net/http"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestCurl(t *testing.T) {
	tests := []struct {
		name string
		ex   Exchange
		want string
	}{
		{"plain GET", Exchange{Request: Request{Method: "GET", Target: "/api/items?page=2", Host: "localhost:8000"}},
			`curl 'http://localhost:8000/api/items?page=2'`},
		{"headers sorted, one -H per value, host and hop-by-hop left out",
			Exchange{Request: Request{Method: "GET", Target: "/", Host: "localhost:8000", Header: http.Header{
				"X-B": {"2"}, "Accept": {"text/html", "*/*"}, "Host": {"localhost:8000"}, "Connection": {"keep-alive"}, "Content-Length": {"0"},
			}}},
			`curl http://localhost:8000/ -H 'Accept: text/html' -H 'Accept: */*' -H 'X-B: 2'`},
		{"POST with a JSON body", Exchange{Request: Request{Method: "POST", Target: "/api", Host: "h",
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"a":"it's"}`), Size: 12}},
			`curl http://h/api -H 'Content-Type: application/json' --data-binary '{"a":"it'\''s"}'`},
		{"PUT says its method", Exchange{Request: Request{Method: "PUT", Target: "/x", Host: "h", Body: []byte("v"), Size: 1}},
			`curl -X PUT http://h/x --data-binary v`},
		{"DELETE without a body", Exchange{Request: Request{Method: "DELETE", Target: "/x/1", Host: "h"}},
			`curl -X DELETE http://h/x/1`},
		{"HEAD", Exchange{Request: Request{Method: "HEAD", Target: "/", Host: "h"}}, `curl --head http://h/`},
		{"brackets in the URL turn globbing off", Exchange{Request: Request{Method: "GET", Target: "/q?a[]=1&b={x}", Host: "h"}},
			`curl --globoff 'http://h/q?a[]=1&b={x}'`},
		{"accept-encoding becomes --compressed", Exchange{Request: Request{Method: "GET", Target: "/", Host: "h",
			Header: http.Header{"Accept-Encoding": {"gzip, br"}}}},
			`curl http://h/ --compressed`},
		{"empty header value", Exchange{Request: Request{Method: "GET", Target: "/", Host: "h", Header: http.Header{"X-Empty": {""}}}},
			`curl http://h/ -H 'X-Empty;'`},
		{"binary body through printf", Exchange{Request: Request{Method: "POST", Target: "/up", Host: "h",
			Body: []byte("a\x00%'\\\xff"), Size: 6}},
			`printf 'a\000%%\047\\\377' | curl http://h/up --data-binary @-`},
		{"truncated body noted", Exchange{Request: Request{Method: "POST", Target: "/", Host: "h",
			Body: []byte("abc"), Size: 10, Truncated: true}},
			`curl http://h/ --data-binary abc # request body truncated when recorded: 3 of 10 bytes`},
		{"shell metacharacters in a header", Exchange{Request: Request{Method: "GET", Target: "/", Host: "h",
			Header: http.Header{"X-Cmd": {"$(rm -rf /); `id` \"q\" 'x'"}}}},
			`curl http://h/ -H 'X-Cmd: $(rm -rf /); ` + "`id`" + ` "q" '\''x'\'''`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Curl(&tt.ex); got != tt.want {
				t.Errorf("Curl\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestCurl_ShellRoundTrip runs the command lines in sh, with curl replaced
// by a function that prints its arguments and stdin: the shell must see
// exactly the words and body meant.
func TestCurl_ShellRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	body := []byte("line 1\nit's \"quoted\" $HOME `x` \\n %s\x00\x01\xfe end")
	for _, b := range [][]byte{body, []byte("text with 'quotes' and $VARS\nand a newline\n")} {
		ex := &Exchange{Request: Request{Method: "PATCH", Target: "/a b?x='1'", Host: "h:1", Body: b, Size: int64(len(b)),
			Header: http.Header{"X-Q": {`it's $(x) "y"`}}}}
		script := `curl() { for a in "$@"; do printf '%s\001' "$a"; done; printf '\002'; if [ "$7" = "@-" ]; then cat; else printf '%s' "$7"; fi; }; ` + Curl(ex)
		out, err := exec.Command("sh", "-c", script).Output()
		if err != nil {
			t.Fatalf("sh: %v\nscript: %s", err, script)
		}
		argv, stdin, _ := bytes.Cut(out, []byte{2})
		args := strings.Split(strings.TrimSuffix(string(argv), "\x01"), "\x01")
		wantArgs := []string{"-X", "PATCH", "http://h:1/a b?x='1'", "-H", `X-Q: it's $(x) "y"`, "--data-binary"}
		if !reflect.DeepEqual(args[:len(wantArgs)], wantArgs) {
			t.Errorf("curl got arguments %q, want %q…", args, wantArgs)
		}
		if !bytes.Equal(stdin, b) {
			t.Errorf("curl got body %q, want %q", stdin, b)
		}
	}
}
