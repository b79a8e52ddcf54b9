package inspect

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Redacted replaces every credential in a redacted HAR export.
const Redacted = "REDACTED"

// HAROptions select what ExportHAR writes.
type HAROptions struct {
	// IDs are the exchanges to export. If nil, every exchange that Filter
	// selects is exported (Filter.Limit 0 means no limit here).
	IDs    []int64
	Filter Filter
	// KeepSecrets exports credentials as recorded. By default they are
	// replaced by "REDACTED": the values of Authorization,
	// Proxy-Authorization, Cookie, Set-Cookie and other headers named like
	// credentials (X-Api-Key, X-Auth-Token, …, see sensitiveHeader), cookie
	// values, and the values of query and form parameters named like
	// credentials (token, access_token, api_key, key, password, secret,
	// sig, signature, …, see sensitiveParam), in the URL, the query list,
	// Referer and Location headers, redirectURL and URL-encoded form
	// bodies. Other bodies (JSON, multipart) are exported as recorded.
	KeepSecrets bool
	// Version is the creator version written; the module's version if "".
	Version string
}

// ExportHAR writes the selected exchanges to w as one HAR 1.2 document
// (http://www.softwareishard.com/blog/har-12-spec/), oldest first, reading
// them one at a time: memory stays bounded whatever the selection. An ID in
// o.IDs that does not exist fails the export with ErrNotFound; an exchange
// selected by a filter and evicted meanwhile is left out.
func (r *Recorder) ExportHAR(ctx context.Context, w io.Writer, o HAROptions) error {
	ids := slices.Clone(o.IDs)
	strict := ids != nil
	if !strict {
		f := o.Filter
		if f.Limit == 0 {
			f.Limit = -1
		}
		list, err := r.sink.List(ctx, f)
		if err != nil {
			return fmt.Errorf("export HAR: %w", err)
		}
		for _, ex := range list {
			ids = append(ids, ex.ID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	hw := newHARWriter(w, o)
	for _, id := range ids {
		ex, err := r.sink.Get(ctx, id)
		if !strict && errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("export HAR: %w", err)
		}
		if err := hw.entry(&ex); err != nil {
			return fmt.Errorf("export HAR: %w", err)
		}
	}
	if err := hw.close(); err != nil {
		return fmt.Errorf("export HAR: %w", err)
	}
	return nil
}

// WriteHAR writes exs to w as one HAR 1.2 document, in the order given,
// redacted unless keepSecrets (see HAROptions).
func WriteHAR(w io.Writer, exs []*Exchange, keepSecrets bool) error {
	hw := newHARWriter(w, HAROptions{KeepSecrets: keepSecrets})
	for _, ex := range exs {
		if err := hw.entry(ex); err != nil {
			return err
		}
	}
	return hw.close()
}

// harWriter streams a HAR document: the log's head, the entries as they
// come, then the tail.
type harWriter struct {
	w      *bufio.Writer
	redact bool
	n      int
	err    error
}

func newHARWriter(w io.Writer, o HAROptions) *harWriter {
	version := o.Version
	if version == "" {
		version = moduleVersion()
	}
	hw := &harWriter{w: bufio.NewWriter(w), redact: !o.KeepSecrets}
	creator, _ := json.Marshal(harCreator{Name: "berth", Version: version})
	_, hw.err = fmt.Fprintf(hw.w, "{\n\"log\": {\n\"version\": \"1.2\",\n\"creator\": %s,\n\"pages\": [],\n\"entries\": [", creator)
	return hw
}

func (hw *harWriter) entry(ex *Exchange) error {
	if hw.err != nil {
		return hw.err
	}
	b, err := json.Marshal(harEntryOf(ex, hw.redact))
	if err != nil {
		hw.err = err
		return err
	}
	sep := ",\n"
	if hw.n == 0 {
		sep = "\n"
	}
	hw.n++
	if _, err := hw.w.WriteString(sep); err != nil {
		hw.err = err
		return err
	}
	_, hw.err = hw.w.Write(b)
	return hw.err
}

func (hw *harWriter) close() error {
	if hw.err != nil {
		return hw.err
	}
	if _, err := hw.w.WriteString("\n]\n}\n}\n"); err != nil {
		return err
	}
	return hw.w.Flush()
}

func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// The HAR 1.2 objects. Fields starting with '_' are berth's own, which the
// format allows.
type (
	harCreator struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	harEntry struct {
		StartedDateTime string         `json:"startedDateTime"`
		Time            float64        `json:"time"`
		Request         harRequest     `json:"request"`
		Response        harResponse    `json:"response"`
		Cache           struct{}       `json:"cache"`
		Timings         harTimings     `json:"timings"`
		Connection      string         `json:"connection,omitempty"`
		ID              int64          `json:"_id"`
		Service         string         `json:"_service,omitempty"`
		ReplayOf        int64          `json:"_replayOf,omitempty"`
		Remote          string         `json:"_remote,omitempty"`
		Upgraded        bool           `json:"_upgraded,omitempty"`
		Error           string         `json:"_error,omitempty"`
		ServerTiming    []ServerTiming `json:"_serverTiming,omitempty"`
		Backend         string         `json:"_backend,omitempty"`
		Messages        []harWSMessage `json:"_webSocketMessages,omitempty"`
	}
	// harWSMessage is a WebSocket frame as Chrome's DevTools export it.
	harWSMessage struct {
		Type   string  `json:"type"` // "send" (from the client) or "receive"
		Time   float64 `json:"time"` // seconds since the epoch
		Opcode int     `json:"opcode"`
		Data   string  `json:"data"` // text, or base64 for a binary or compressed payload
	}
	harRequest struct {
		Method      string       `json:"method"`
		URL         string       `json:"url"`
		HTTPVersion string       `json:"httpVersion"`
		Cookies     []harCookie  `json:"cookies"`
		Headers     []harNV      `json:"headers"`
		QueryString []harNV      `json:"queryString"`
		PostData    *harPostData `json:"postData,omitempty"`
		HeadersSize int64        `json:"headersSize"`
		BodySize    int64        `json:"bodySize"`
	}
	harResponse struct {
		Status      int         `json:"status"`
		StatusText  string      `json:"statusText"`
		HTTPVersion string      `json:"httpVersion"`
		Cookies     []harCookie `json:"cookies"`
		Headers     []harNV     `json:"headers"`
		Content     harContent  `json:"content"`
		RedirectURL string      `json:"redirectURL"`
		HeadersSize int64       `json:"headersSize"`
		BodySize    int64       `json:"bodySize"`
	}
	harNV struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	harCookie struct {
		Name     string `json:"name"`
		Value    string `json:"value"`
		Path     string `json:"path,omitempty"`
		Domain   string `json:"domain,omitempty"`
		Expires  string `json:"expires,omitempty"`
		HTTPOnly bool   `json:"httpOnly,omitempty"`
		Secure   bool   `json:"secure,omitempty"`
	}
	harPostData struct {
		MimeType string  `json:"mimeType"`
		Params   []harNV `json:"params"`
		Text     string  `json:"text"`
		Encoding string  `json:"_encoding,omitempty"` // "base64" for a binary body
		Comment  string  `json:"comment,omitempty"`
	}
	harContent struct {
		Size        int64  `json:"size"`
		Compression int64  `json:"compression,omitempty"`
		MimeType    string `json:"mimeType"`
		Text        string `json:"text,omitempty"`
		Encoding    string `json:"encoding,omitempty"`
		Comment     string `json:"comment,omitempty"`
	}
	harTimings struct {
		Blocked float64 `json:"blocked"`
		DNS     float64 `json:"dns"`
		Connect float64 `json:"connect"`
		Send    float64 `json:"send"`
		Wait    float64 `json:"wait"`
		Receive float64 `json:"receive"`
		SSL     float64 `json:"ssl"`
	}
)

func ms(d time.Duration) float64 { return float64(max(d, 0)) / float64(time.Millisecond) }

func harEntryOf(ex *Exchange, redact bool) harEntry {
	e := harEntry{
		StartedDateTime: ex.Start.Format("2006-01-02T15:04:05.000Z07:00"),
		ID:              ex.ID,
		Service:         ex.Service,
		ReplayOf:        ex.ReplayOf,
		Remote:          ex.Remote,
		Upgraded:        ex.Upgraded,
		Error:           ex.Error,
		ServerTiming:    ex.Timing,
		Backend:         ex.Backend,
	}
	for _, f := range ex.Frames {
		m := harWSMessage{Type: "receive", Time: float64(f.Time.UnixNano()) / 1e9, Opcode: f.Opcode}
		if f.FromClient {
			m.Type = "send"
		}
		if f.Opcode == 2 || f.Compressed || !utf8.Valid(f.Payload) {
			m.Data = base64.StdEncoding.EncodeToString(f.Payload)
		} else {
			m.Data = string(f.Payload)
		}
		e.Messages = append(e.Messages, m)
	}
	if ex.Conn != 0 {
		e.Connection = fmt.Sprint(ex.Conn)
	}
	// The proxy knows when the request started, how long it waited for a
	// backend connection (Held: connect), when the response head began and
	// when it all ended. It does not see DNS or TLS, nor when the request
	// was fully sent. A reused connection has no connect time (-1).
	t := harTimings{DNS: -1, Connect: -1, SSL: -1}
	if ex.Held > 0 {
		t.Connect = ms(ex.Held)
	}
	if !ex.FirstByte.IsZero() {
		t.Wait = ms(ex.Wait() - ex.Held)
		t.Receive = ms(ex.End.Sub(ex.FirstByte))
	} else {
		t.Wait = ms(ex.Duration() - ex.Held)
	}
	e.Timings = t
	e.Time = max(t.Connect, 0) + t.Send + t.Wait + t.Receive

	rq := &ex.Request
	e.Request = harRequest{
		Method:      rq.Method,
		URL:         ex.URL(),
		HTTPVersion: orDefault(rq.Proto, "HTTP/1.1"),
		Cookies:     []harCookie{},
		Headers:     []harNV{},
		QueryString: []harNV{},
		HeadersSize: -1,
		BodySize:    rq.Size,
	}
	if redact {
		e.Request.URL = redactURL(e.Request.URL)
	}
	if rq.Header.Get("Host") == "" && rq.Host != "" {
		e.Request.Headers = append(e.Request.Headers, harNV{"Host", rq.Host})
	}
	e.Request.Headers = append(e.Request.Headers, harHeaders(rq.Header, redact)...)
	for _, line := range rq.Header.Values("Cookie") {
		cs, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range cs {
			e.Request.Cookies = append(e.Request.Cookies, harCookie{Name: c.Name, Value: secret(c.Value, redact)})
		}
	}
	if _, q, ok := strings.Cut(ex.Request.Target, "?"); ok {
		e.Request.QueryString = queryList(q, redact)
	}
	if rq.Size > 0 || len(rq.Body) > 0 {
		e.Request.PostData = postData(rq, redact)
	}

	rs := &ex.Response
	e.Response = harResponse{
		Status:      rs.Status,
		StatusText:  rs.Reason,
		HTTPVersion: rs.Proto,
		Cookies:     []harCookie{},
		Headers:     harHeaders(rs.Header, redact),
		HeadersSize: -1,
		BodySize:    rs.Size,
		RedirectURL: rs.Header.Get("Location"),
	}
	if rs.Status == 0 {
		e.Response.BodySize = -1
	}
	if e.Response.StatusText == "" && rs.Status != 0 {
		e.Response.StatusText = http.StatusText(rs.Status)
	}
	if redact {
		e.Response.RedirectURL = redactURL(e.Response.RedirectURL)
	}
	for _, line := range rs.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			continue
		}
		hc := harCookie{Name: c.Name, Value: secret(c.Value, redact), Path: c.Path, Domain: c.Domain,
			HTTPOnly: c.HttpOnly, Secure: c.Secure}
		if !c.Expires.IsZero() {
			hc.Expires = c.Expires.UTC().Format(time.RFC3339)
		}
		e.Response.Cookies = append(e.Response.Cookies, hc)
	}
	e.Response.Content = content(rs)
	return e
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func secret(v string, redact bool) string {
	if redact && v != "" {
		return Redacted
	}
	return v
}

// harHeaders lists h sorted by name, one entry per value, credentials
// redacted.
func harHeaders(h http.Header, redact bool) []harNV {
	out := []harNV{}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			if redact {
				switch {
				case sensitiveHeader(name):
					v = Redacted
				case urlHeader(name):
					v = redactURL(v)
				}
			}
			out = append(out, harNV{name, v})
		}
	}
	return out
}

// sensitiveHeader reports whether a header carries credentials.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "set-cookie2",
		"x-api-key", "api-key", "apikey", "x-auth", "x-session-id":
		return true
	}
	for _, s := range []string{"token", "secret", "password", "api-key", "apikey", "signature", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// urlHeader reports whether a header's value is a URL whose query may carry
// credentials.
func urlHeader(name string) bool {
	switch strings.ToLower(name) {
	case "referer", "location", "content-location", "refresh":
		return true
	}
	return false
}

// sensitiveParam reports whether a query or form parameter carries a
// credential.
func sensitiveParam(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "key", "sig", "pwd", "pass", "passwd", "auth", "authorization", "jwt", "session", "sessionid", "sid", "client_secret", "code_verifier":
		return true
	}
	for _, s := range []string{"token", "secret", "password", "signature", "apikey", "api_key", "api-key", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// redactURL replaces the values of credential parameters in u's query,
// leaving the rest of u exactly as it was.
func redactURL(u string) string {
	base, q, ok := strings.Cut(u, "?")
	if !ok {
		return u
	}
	q, frag, hasFrag := strings.Cut(q, "#")
	out := base + "?" + redactQuery(q)
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// redactQuery replaces the values of credential parameters in a raw query
// (or form body) string.
func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && sensitiveParam(name) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// queryList returns a raw query's parameters in order, decoded.
func queryList(q string, redact bool) []harNV {
	out := []harNV{}
	for p := range strings.SplitSeq(q, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			value = v
		}
		if redact && sensitiveParam(name) && value != "" {
			value = Redacted
		}
		out = append(out, harNV{name, value})
	}
	return out
}

func postData(rq *Request, redact bool) *harPostData {
	ct := rq.Header.Get("Content-Type")
	pd := &harPostData{MimeType: ct, Params: []harNV{}}
	body, err := DecodeBody(rq.Header, rq.Body)
	if err != nil {
		body = rq.Body
	}
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case mt == "application/x-www-form-urlencoded" && IsText(ct, body):
		text := string(body)
		if redact {
			text = redactQuery(text)
		}
		pd.Text = text
		pd.Params = queryList(string(body), redact)
	case err == nil && IsText(ct, body):
		pd.Text = string(trimPartialRune(body))
	default:
		pd.Text = base64.StdEncoding.EncodeToString(rq.Body)
		pd.Encoding = "base64"
	}
	if rq.Truncated {
		pd.Comment = fmt.Sprintf("truncated: %d of %d bytes recorded", len(rq.Body), rq.Size)
	}
	return pd
}

func content(rs *Response) harContent {
	c := harContent{Size: rs.Size, MimeType: rs.Header.Get("Content-Type")}
	if len(rs.Body) == 0 {
		return c
	}
	body, err := DecodeBody(rs.Header, rs.Body)
	var notes []string
	switch {
	case err != nil:
		// A coding we cannot undo (br, zstd): the bytes as they came.
		body = rs.Body
		notes = append(notes, fmt.Sprintf("content coding %q kept", rs.Header.Get("Content-Encoding")))
	case !rs.Truncated:
		c.Size = int64(len(body))
		c.Compression = max(c.Size-rs.Size, 0)
	}
	if err == nil && IsText(c.MimeType, body) {
		c.Text = string(trimPartialRune(body))
	} else {
		c.Text = base64.StdEncoding.EncodeToString(body)
		c.Encoding = "base64"
	}
	if rs.Truncated {
		notes = append(notes, fmt.Sprintf("truncated: %d of %d bytes recorded", len(rs.Body), rs.Size))
	}
	c.Comment = strings.Join(notes, "; ")
	return c
}
