package inspect

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is returned (wrapped) by Get, Replay and ExportHAR for an
// exchange that does not exist: never recorded, or evicted from the history.
var ErrNotFound = errors.New("not found")

// Exchange is one recorded HTTP request and its response.
//
// An Exchange returned by the package belongs to the caller. Sink.List
// returns exchanges without their bodies (Request.Body and Response.Body are
// nil; the sizes and truncation flags are set).
type Exchange struct {
	ID       int64 `json:"id"`
	ReplayOf int64 `json:"replayOf,omitempty"` // the exchange this one replays, 0 if none; it may have been evicted since

	Service string `json:"service"`
	Conn    uint64 `json:"conn,omitempty"`    // the client connection, unique within one proxy's life; 0 for a replay
	Seq     int    `json:"seq,omitempty"`     // 1 for the first exchange of Conn, then 2, 3, …
	Remote  string `json:"remote"`            // the client's address
	Backend string `json:"backend,omitempty"` // the replica's address that answered: "127.0.0.1:8000"

	Request  Request  `json:"request"`
	Response Response `json:"response"` // Status 0 when no response head was seen

	Start     time.Time      `json:"start"`                  // when the first byte of the request head arrived
	FirstByte time.Time      `json:"firstByte,omitzero"`     // when the first byte of the response head arrived; zero if none
	End       time.Time      `json:"end"`                    // when the exchange ended
	Held      time.Duration  `json:"held,omitempty"`         // connect time: how long the request waited for a backend connection (a restart, a dial); 0 on a reused one
	Upgraded  bool           `json:"upgraded,omitempty"`     // 101 Switching Protocols: the connection was then spliced
	Error     string         `json:"error,omitempty"`        // why the exchange failed, "" if both messages passed whole
	Timing    []ServerTiming `json:"serverTiming,omitempty"` // the response's Server-Timing, parsed

	// Frames are the first MaxFrames frames of an upgraded WebSocket
	// connection (nil in lists: Get returns them); FrameCount counts all.
	Frames     []Frame `json:"frames,omitempty"`
	FrameCount int     `json:"frameCount,omitempty"`

	// rawReq and rawResp are the heads as the proxy passed them, set by
	// the Recorder on an exchange it recorded until it is stored: then
	// Request and Response hold only sizes, bodies and truncation, and the
	// heads are parsed when the exchange is read (parseHeads).
	rawReq, rawResp []byte
}

// Request is the request half of an Exchange.
type Request struct {
	Method string      `json:"method"`
	Target string      `json:"target"` // the request target as sent: "/path?q=1"
	Proto  string      `json:"proto"`  // "HTTP/1.1"
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
	// Body is the first bytes of the body, as forwarded: chunked framing
	// removed, content coding (gzip, br) kept. At most the Recorder's
	// BodyCap bytes.
	Body      []byte `json:"body,omitempty"`
	Size      int64  `json:"size"`                // body bytes forwarded, kept or not
	Truncated bool   `json:"truncated,omitempty"` // Body holds less than Size bytes
}

// Response is the response half of an Exchange.
type Response struct {
	Proto     string      `json:"proto,omitempty"`
	Status    int         `json:"status"`
	Reason    string      `json:"reason,omitempty"`
	Header    http.Header `json:"header,omitempty"`
	Body      []byte      `json:"body,omitempty"` // as Request.Body
	Size      int64       `json:"size"`
	Truncated bool        `json:"truncated,omitempty"`
}

// Frame is one WebSocket frame of an upgraded exchange.
type Frame struct {
	Time       time.Time `json:"time"`
	FromClient bool      `json:"fromClient"`
	Opcode     int       `json:"opcode"` // 1 text, 2 binary, 8 close, 9 ping, 10 pong, 0 continuation
	Fin        bool      `json:"fin"`
	Compressed bool      `json:"compressed,omitempty"` // permessage-deflate: Payload is as sent
	Length     int64     `json:"length"`
	Payload    []byte    `json:"payload,omitempty"` // at most MaxFramePayload bytes
}

// ServerTiming is one metric of a Server-Timing response header.
type ServerTiming struct {
	Name string  `json:"name"`
	Dur  float64 `json:"dur,omitempty"` // milliseconds, as sent; 0 if absent
	Desc string  `json:"desc,omitempty"`
}

// URL returns the absolute URL of the request: http://Host/Target. A target
// already in absolute form is returned as it is.
func (ex *Exchange) URL() string {
	t := ex.Request.Target
	if strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://") {
		return t
	}
	host := ex.Request.Host
	if host == "" {
		host = "localhost"
	}
	if !strings.HasPrefix(t, "/") {
		t = "/" + t // "*" (OPTIONS) and malformed targets
	}
	return "http://" + host + t
}

// Duration is the total time of the exchange, from the first byte of the
// request to its end.
func (ex *Exchange) Duration() time.Duration {
	if ex.End.IsZero() || ex.Start.IsZero() {
		return 0
	}
	return ex.End.Sub(ex.Start)
}

// Wait is the time from the first byte of the request to the first byte of
// the response head, 0 if there was no response.
func (ex *Exchange) Wait() time.Duration {
	if ex.FirstByte.IsZero() || ex.Start.IsZero() {
		return 0
	}
	return ex.FirstByte.Sub(ex.Start)
}

// Path returns the path of the request target, without the query.
func (ex *Exchange) Path() string {
	p, _, _ := strings.Cut(ex.Request.Target, "?")
	return p
}

// Filter selects exchanges for List. The zero value selects the newest
// DefaultListLimit exchanges. Every condition set must hold.
type Filter struct {
	Service      string // only this service's exchanges, if not ""
	Method       string // only this method (case-insensitive), if not ""
	StatusClass  int    // only statuses StatusClass×100 … StatusClass×100+99, if 1…5; 0 is any
	PathContains string // the request target (path and query) contains this, case-sensitive
	// Header is "name" or "name:value": the request or the response has a
	// header of that name (case-insensitive) and, with a value, one of its
	// values contains value (case-insensitive).
	Header string
	// BodyContains: the kept request or response body contains these bytes
	// (case-sensitive). Bodies are searched as stored, so a compressed body
	// does not match its text.
	BodyContains string
	ReplayOf     int64 // only replays of this exchange, if > 0
	BeforeID     int64 // only IDs below this, if > 0: the next page after the last ID seen
	AfterID      int64 // only IDs above this, if > 0: what is new since the last ID seen
	Limit        int   // at most this many; DefaultListLimit if 0, every match if < 0
}

// DefaultListLimit is how many exchanges List returns when Filter.Limit is 0.
const DefaultListLimit = 100

// validate checks f's fields that can be wrong.
func (f *Filter) validate() error {
	if f.StatusClass < 0 || f.StatusClass > 5 {
		return fmt.Errorf("status class %d: want 1 to 5 (2 for 2xx), or 0 for any", f.StatusClass)
	}
	if f.Header != "" {
		if name, _, _ := strings.Cut(f.Header, ":"); strings.TrimSpace(name) == "" {
			return fmt.Errorf("header filter %q: want name or name:value", f.Header)
		}
	}
	return nil
}

// Sink keeps recorded exchanges. The Recorder writes to it from one
// goroutine, and reads (List, Get) come from any goroutine: an implementation
// must be safe for concurrent use and honour ctx, since the Recorder cancels
// a stalled Add when it is closed. DB is the SQLite implementation.
type Sink interface {
	// Add stores exs in order, sets each one's ID (increasing, never
	// reused), and evicts the oldest exchanges beyond the sink's bounds.
	// Add must not keep exs or their slices after it returns.
	Add(ctx context.Context, exs []*Exchange) error
	// List returns the exchanges that match f, newest first, without
	// their bodies.
	List(ctx context.Context, f Filter) ([]Exchange, error)
	// Get returns one exchange with its bodies, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id int64) (Exchange, error)
}

// maxDecoded bounds what DecodeBody inflates, against compression bombs.
const maxDecoded = 64 << 20

// DecodeBody undoes the Content-Encoding of h (gzip, deflate; identity or
// none returns body as it is) so that a body can be shown or searched. A
// truncated body decodes to what its prefix holds. It fails with an error
// for a coding it does not know (br, zstd): the body is then shown as bytes.
func DecodeBody(h http.Header, body []byte) ([]byte, error) {
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	var r io.Reader
	switch enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("decode gzip body: %w", err)
		}
		r = zr
	case "deflate":
		// "deflate" means zlib (RFC 9110), but some servers send raw DEFLATE.
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(body))
		}
	default:
		return nil, fmt.Errorf("content coding %q is not supported", enc)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecoded))
	if err != nil && len(out) == 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("decode %s body: %w", enc, err)
	}
	// A truncated body ends with io.ErrUnexpectedEOF: keep what was decoded.
	return out, nil
}

// IsText reports whether a body of this Content-Type (may be "") and these
// bytes is text: a textual media type, or no type and bytes that look like
// UTF-8 text.
func IsText(contentType string, body []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/ecmascript",
		mt == "application/x-www-form-urlencoded",
		mt == "application/graphql", mt == "application/x-ndjson",
		mt == "image/svg+xml":
		return utf8.Valid(trimPartialRune(body))
	case mt == "":
		return looksLikeText(body)
	}
	return false
}

// looksLikeText reports whether b is UTF-8 without control bytes other
// than tab, newline, carriage return and form feed.
func looksLikeText(b []byte) bool {
	b = trimPartialRune(b)
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			return false
		}
		if c == 0x7f {
			return false
		}
	}
	return true
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b, which a
// body cut at the cap can end with.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return b // ASCII: nothing partial
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}
