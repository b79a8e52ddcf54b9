package inspect

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Secrets the recorded traffic carries; none may appear in a redacted export.
var secrets = []string{
	"s3cr3t-bearer", "pr0xy-cred", "c00kie-value", "setc00kie-value", "qtok3n", "k3y-value",
	"f0rmpass", "hdr-api-k3y", "reft0ken", "loc-sig", "amz-s1gnature", "csrf-t0ken",
}

// recordHARTraffic records a variety of exchanges carrying the secrets.
func recordHARTraffic(t *testing.T, r *Recorder) {
	t.Helper()
	play(r, synth{
		service: "web", method: "GET", target: "/api/items?access_token=qtok3n&page=2&api_key=k3y-value&q=a%20b",
		reqHeader: http.Header{
			"Authorization":       {"Bearer s3cr3t-bearer"},
			"Proxy-Authorization": {"Basic pr0xy-cred"},
			"Cookie":              {"session=c00kie-value; theme=dark"},
			"X-Api-Key":           {"hdr-api-k3y"},
			"X-Csrf-Token":        {"csrf-t0ken"},
			"Referer":             {"http://localhost:8000/login?token=reft0ken&next=/"},
			"Accept":              {"application/json"},
		},
		status: 200, reason: "OK",
		respHeader: http.Header{
			"Content-Type":     {"application/json"},
			"Content-Encoding": {"gzip"},
			"Set-Cookie":       {"sid=setc00kie-value; Path=/; HttpOnly; Secure; Expires=Wed, 21 Oct 2026 07:28:00 GMT"},
			"Server-Timing":    {"db;dur=2"},
		},
		respBody: gz(t, `{"items":[1,2,3]}`),
		wait:     20 * time.Millisecond, total: 25 * time.Millisecond, held: 5 * time.Millisecond,
	})
	play(r, synth{
		service: "web", method: "POST", target: "/login", start: t0.Add(time.Second),
		reqHeader:  http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		reqBody:    []byte("user=bob&password=f0rmpass&remember=1"),
		status:     302,
		respHeader: http.Header{"Location": {"https://cdn.example/x?X-Amz-Signature=amz-s1gnature&sig=loc-sig&v=1"}},
		wait:       time.Millisecond,
		total:      2 * time.Millisecond,
	})
	play(r, synth{
		service: "web", method: "GET", target: "/logo.png", start: t0.Add(2 * time.Second),
		status: 200, respHeader: http.Header{"Content-Type": {"image/png"}},
		respBody: []byte("\x89PNG\r\n\x1a\n\x00\x00binary"),
		wait:     time.Millisecond, total: 3 * time.Millisecond,
	})
	play(r, synth{
		service: "web", method: "GET", target: "/hang", start: t0.Add(3 * time.Second),
		total: 30 * time.Second, err: errors.New("backend closed the connection"),
	})
	flush(t, r)
}

func exportHAR(t *testing.T, r *Recorder, o HAROptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.ExportHAR(context.Background(), &b, o); err != nil {
		t.Fatalf("ExportHAR: %v", err)
	}
	return b.Bytes()
}

func TestExportHAR_Valid(t *testing.T) {
	r := newRecorder(t, Options{})
	recordHARTraffic(t, r)
	out := exportHAR(t, r, HAROptions{Version: "test"})
	har := checkHAR(t, out)
	entries := har["log"].(map[string]any)["entries"].([]any)
	if len(entries) != 4 {
		t.Fatalf("%d entries, want 4", len(entries))
	}
	first := entries[0].(map[string]any)
	req := first["request"].(map[string]any)
	if req["url"] != "http://localhost:8000/api/items?access_token=REDACTED&page=2&api_key=REDACTED&q=a%20b" {
		t.Errorf("url = %v", req["url"])
	}
	wantQuery := []any{
		map[string]any{"name": "access_token", "value": "REDACTED"},
		map[string]any{"name": "page", "value": "2"},
		map[string]any{"name": "api_key", "value": "REDACTED"},
		map[string]any{"name": "q", "value": "a b"},
	}
	if got, _ := json.Marshal(req["queryString"]); string(got) != string(must(json.Marshal(wantQuery))) {
		t.Errorf("queryString = %s", got)
	}
	content := first["response"].(map[string]any)["content"].(map[string]any)
	if content["text"] != `{"items":[1,2,3]}` || content["size"] != float64(len(`{"items":[1,2,3]}`)) || content["encoding"] != nil {
		t.Errorf("gzip JSON content = %v, want the decoded text", content)
	}
	timings := first["timings"].(map[string]any)
	if timings["connect"] != 5.0 || timings["wait"] != 15.0 || timings["receive"] != 5.0 || first["time"] != 25.0 {
		t.Errorf("timings = %v, time %v; want connect 5, wait 15, receive 5, time 25", timings, first["time"])
	}
	if first["startedDateTime"] != "2026-03-14T15:09:26.000Z" {
		t.Errorf("startedDateTime = %v", first["startedDateTime"])
	}
	cookies := first["response"].(map[string]any)["cookies"].([]any)
	if c := cookies[0].(map[string]any); c["name"] != "sid" || c["value"] != "REDACTED" || c["httpOnly"] != true || c["path"] != "/" {
		t.Errorf("response cookie = %v", c)
	}

	login := entries[1].(map[string]any)
	post := login["request"].(map[string]any)["postData"].(map[string]any)
	if post["text"] != "user=bob&password=REDACTED&remember=1" {
		t.Errorf("form postData text = %v", post["text"])
	}
	if resp := login["response"].(map[string]any); resp["redirectURL"] != "https://cdn.example/x?X-Amz-Signature=REDACTED&sig=REDACTED&v=1" {
		t.Errorf("redirectURL = %v", resp["redirectURL"])
	}

	png := entries[2].(map[string]any)["response"].(map[string]any)["content"].(map[string]any)
	if png["encoding"] != "base64" {
		t.Errorf("binary content not base64: %v", png)
	}
	if b, err := base64.StdEncoding.DecodeString(png["text"].(string)); err != nil || string(b) != "\x89PNG\r\n\x1a\n\x00\x00binary" {
		t.Errorf("binary content decodes to %q, %v", b, err)
	}

	failed := entries[3].(map[string]any)
	if failed["response"].(map[string]any)["status"] != 0.0 || failed["_error"] != "backend closed the connection" {
		t.Errorf("failed exchange: response %v error %v", failed["response"], failed["_error"])
	}
}

func TestExportHAR_Redaction(t *testing.T) {
	r := newRecorder(t, Options{})
	recordHARTraffic(t, r)
	redacted := exportHAR(t, r, HAROptions{})
	for _, s := range secrets {
		if bytes.Contains(redacted, []byte(s)) {
			i := bytes.Index(redacted, []byte(s))
			t.Errorf("redacted export contains %q: …%s…", s, redacted[max(0, i-80):min(len(redacted), i+40)])
		}
	}
	if !bytes.Contains(redacted, []byte(Redacted)) {
		t.Error("redacted export says REDACTED nowhere")
	}
	// The secrets were really there: an export that keeps them has them all.
	kept := exportHAR(t, r, HAROptions{KeepSecrets: true})
	checkHAR(t, kept)
	for _, s := range secrets {
		if !bytes.Contains(kept, []byte(s)) {
			t.Errorf("export with KeepSecrets lacks %q: the test does not record it", s)
		}
	}
}

func TestExportHAR_Selection(t *testing.T) {
	r := newRecorder(t, Options{})
	recordHARTraffic(t, r)
	entryIDs := func(out []byte) []float64 {
		var ids []float64
		for _, e := range checkHAR(t, out)["log"].(map[string]any)["entries"].([]any) {
			ids = append(ids, e.(map[string]any)["_id"].(float64))
		}
		return ids
	}
	if got := entryIDs(exportHAR(t, r, HAROptions{IDs: []int64{3, 1}})); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("IDs [3 1] exported %v, want [1 3] (oldest first)", got)
	}
	if got := entryIDs(exportHAR(t, r, HAROptions{Filter: Filter{Method: "POST"}})); len(got) != 1 || got[0] != 2 {
		t.Errorf("filter POST exported %v, want [2]", got)
	}
	if got := entryIDs(exportHAR(t, r, HAROptions{Filter: Filter{Method: "PATCH"}})); len(got) != 0 {
		t.Errorf("filter matching nothing exported %v", got)
	}
	var b bytes.Buffer
	if err := r.ExportHAR(context.Background(), &b, HAROptions{IDs: []int64{1, 99}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("export of a missing ID = %v, want ErrNotFound", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// checkHAR validates out against HAR 1.2's required fields and types, and
// returns it decoded.
func checkHAR(t *testing.T, out []byte) map[string]any {
	t.Helper()
	var har map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&har); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatal("export has more than one JSON value")
	}
	c := harChecker{t: t}
	log := c.obj(har, "log", "")
	if c.str(log, "version", "log") != "1.2" {
		t.Errorf("log.version = %v, want 1.2", log["version"])
	}
	creator := c.obj(log, "creator", "log")
	if c.str(creator, "name", "log.creator") != "berth" {
		t.Errorf("creator.name = %v", creator["name"])
	}
	c.str(creator, "version", "log.creator")
	for i, e := range c.arr(log, "entries", "log") {
		at := "log.entries[" + string(rune('0'+i)) + "]"
		entry, ok := e.(map[string]any)
		if !ok {
			t.Fatalf("%s is not an object", at)
		}
		if _, err := time.Parse(time.RFC3339Nano, c.str(entry, "startedDateTime", at)); err != nil {
			t.Errorf("%s.startedDateTime: %v", at, err)
		}
		total := c.num(entry, "time", at)
		c.obj(entry, "cache", at)
		timings := c.obj(entry, "timings", at)
		sum := 0.0
		for _, k := range []string{"send", "wait", "receive"} {
			if v := c.num(timings, k, at+".timings"); v < 0 {
				t.Errorf("%s.timings.%s = %v, want ≥ 0", at, k, v)
			} else {
				sum += v
			}
		}
		for _, k := range []string{"blocked", "dns", "connect", "ssl"} {
			if v, ok := timings[k]; ok {
				if f, _ := v.(float64); f < 0 && f != -1 {
					t.Errorf("%s.timings.%s = %v, want ≥ 0 or -1", at, k, v)
				} else if f > 0 {
					sum += f
				}
			}
		}
		if math.Abs(sum-total) > 1e-6 {
			t.Errorf("%s: time %v is not the sum of its timings %v", at, total, sum)
		}

		req := c.obj(entry, "request", at)
		ra := at + ".request"
		c.str(req, "method", ra)
		if u := c.str(req, "url", ra); !strings.HasPrefix(u, "http://") {
			t.Errorf("%s.url = %q, want absolute", ra, u)
		}
		c.str(req, "httpVersion", ra)
		c.nvList(req, "headers", ra)
		c.nvList(req, "queryString", ra)
		c.nvList(req, "cookies", ra)
		c.num(req, "headersSize", ra)
		c.num(req, "bodySize", ra)
		if pd, ok := req["postData"]; ok {
			p, ok := pd.(map[string]any)
			if !ok {
				t.Fatalf("%s.postData is not an object", ra)
			}
			c.str(p, "mimeType", ra+".postData")
			c.str(p, "text", ra+".postData")
			c.nvList(p, "params", ra+".postData")
		}

		resp := c.obj(entry, "response", at)
		sa := at + ".response"
		c.num(resp, "status", sa)
		c.str(resp, "statusText", sa)
		c.str(resp, "httpVersion", sa)
		c.nvList(resp, "headers", sa)
		c.nvList(resp, "cookies", sa)
		c.str(resp, "redirectURL", sa)
		c.num(resp, "headersSize", sa)
		c.num(resp, "bodySize", sa)
		content := c.obj(resp, "content", sa)
		c.num(content, "size", sa+".content")
		c.str(content, "mimeType", sa+".content")
		if txt, ok := content["text"]; ok {
			if _, ok := txt.(string); !ok {
				t.Errorf("%s.content.text is not a string", sa)
			}
			if enc, ok := content["encoding"]; ok {
				if enc != "base64" {
					t.Errorf("%s.content.encoding = %v", sa, enc)
				} else if _, err := base64.StdEncoding.DecodeString(txt.(string)); err != nil {
					t.Errorf("%s.content.text is not base64: %v", sa, err)
				}
			}
		}
	}
	return har
}

type harChecker struct{ t *testing.T }

func (c harChecker) field(m map[string]any, k, at string) any {
	c.t.Helper()
	v, ok := m[k]
	if !ok {
		c.t.Fatalf("%s: required field %q missing", at, k)
	}
	return v
}

func (c harChecker) obj(m map[string]any, k, at string) map[string]any {
	c.t.Helper()
	v, ok := c.field(m, k, at).(map[string]any)
	if !ok {
		c.t.Fatalf("%s.%s is not an object", at, k)
	}
	return v
}

func (c harChecker) arr(m map[string]any, k, at string) []any {
	c.t.Helper()
	v, ok := c.field(m, k, at).([]any)
	if !ok {
		c.t.Fatalf("%s.%s is not an array", at, k)
	}
	return v
}

func (c harChecker) str(m map[string]any, k, at string) string {
	c.t.Helper()
	v, ok := c.field(m, k, at).(string)
	if !ok {
		c.t.Fatalf("%s.%s is not a string", at, k)
	}
	return v
}

func (c harChecker) num(m map[string]any, k, at string) float64 {
	c.t.Helper()
	v, ok := c.field(m, k, at).(float64)
	if !ok {
		c.t.Fatalf("%s.%s is not a number", at, k)
	}
	return v
}

// nvList checks a list of {name, value} objects (headers, query, cookies,
// params).
func (c harChecker) nvList(m map[string]any, k, at string) {
	c.t.Helper()
	for _, e := range c.arr(m, k, at) {
		o, ok := e.(map[string]any)
		if !ok {
			c.t.Fatalf("%s.%s has a non-object", at, k)
		}
		c.str(o, "name", at+"."+k)
		c.str(o, "value", at+"."+k)
	}
}

func TestWriteHAR(t *testing.T) {
	var empty bytes.Buffer
	if err := WriteHAR(&empty, nil, false); err != nil {
		t.Fatal(err)
	}
	if n := len(checkHAR(t, empty.Bytes())["log"].(map[string]any)["entries"].([]any)); n != 0 {
		t.Errorf("%d entries, want 0", n)
	}
	var one bytes.Buffer
	ex := &Exchange{ID: 7, Start: t0, End: t0.Add(time.Millisecond), Request: Request{Method: "GET", Target: "/?token=abc", Host: "h"}}
	if err := WriteHAR(&one, []*Exchange{ex}, false); err != nil {
		t.Fatal(err)
	}
	checkHAR(t, one.Bytes())
	if bytes.Contains(one.Bytes(), []byte("abc")) {
		t.Error("WriteHAR did not redact by default")
	}
}
