package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Control operations a client sends.
const (
	OpSubscribe   = "subscribe"
	OpUnsubscribe = "unsubscribe"
)

// Reply operations the server answers with (see Reply).
const (
	OpSubscribed   = "subscribed"
	OpUnsubscribed = "unsubscribed"
	OpError        = "error"
)

// Limits of client control frames.
const (
	// MaxControlSize is the largest client frame DecodeControl accepts, in
	// bytes: room for MaxStreams names of MaxStreamLen bytes, each with a
	// since value.
	MaxControlSize = 128 << 10
	// MaxStreams is the most streams one control frame may name.
	MaxStreams = 256
	// MaxIDLen is the longest request id, in bytes of its JSON text.
	MaxIDLen = 128
)

// CodeBadFrame is the error code of a Reply to a frame DecodeControl
// rejected.
const CodeBadFrame = "bad_frame"

// Control is a client's request on the control stream. Its canonical form is
// an envelope like every other frame, with the request as its payload:
//
//	{"stream":"control","payload":{"op":"subscribe","id":7,"streams":["events","job/42"],"since":{"job/42":17}}}
//	{"stream":"control","payload":{"op":"unsubscribe","streams":["job/42"]}}
//
// DecodeControl also accepts the flat form, with the payload's members next
// to "stream" ({"stream":"control","op":"subscribe","streams":[…]}), but not
// a mix of the two. EncodeControl writes the canonical form.
type Control struct {
	// Op is OpSubscribe or OpUnsubscribe.
	Op string
	// ID is the request's optional id, the JSON text of a string or an
	// integer, echoed in the reply; nil when absent.
	ID json.RawMessage
	// Streams holds 1 to MaxStreams valid, distinct stream names.
	Streams []string
	// Since maps some of Streams to the last seq the client has of them
	// (subscribe only); nil when absent.
	Since map[string]uint64
}

// FrameError is a client frame DecodeControl rejected. Field names the bad
// member as a path relative to the request, the same in both forms: "op",
// "streams[2]", `since["job/42"]`, "id"; or "stream", "payload", "seq" for
// the envelope's members; or "" when the frame as a whole is bad (too big,
// not JSON).
type FrameError struct {
	Field   string
	Message string
	// ID is the request's id when the frame had a valid one, so that the
	// client can match the error to its request; nil otherwise.
	ID json.RawMessage
}

func (e *FrameError) Error() string {
	if e.Field == "" {
		return "bad control frame: " + e.Message
	}
	return "bad control frame: " + e.Field + ": " + e.Message
}

// Reply returns the server's error reply to the request: it carries the
// request's id when the frame had a valid one (e.ID).
func (e *FrameError) Reply() Reply {
	return Reply{Op: OpError, ID: e.ID, Code: CodeBadFrame, Field: e.Field, Message: e.Message}
}

// Reply is the server's answer to a control request, sent on StreamControl:
//
//	{"stream":"control","payload":{"op":"subscribed","id":7,"streams":["events","job/42"]}}
//	{"stream":"control","payload":{"op":"error","id":7,"code":"bad_frame","field":"streams[1]","message":"…"}}
type Reply struct {
	Op      string          `json:"op"`
	ID      json.RawMessage `json:"id,omitempty"`
	Streams []string        `json:"streams,omitempty"`
	Code    string          `json:"code,omitempty"`
	Field   string          `json:"field,omitempty"`
	Message string          `json:"message,omitempty"`
}

// Frame returns r as a frame on StreamControl.
func (r Reply) Frame() (Frame, error) { return ControlFrame(r) }

func frameErr(field, format string, args ...any) *FrameError {
	return &FrameError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// DecodeControl decodes and validates a client's control frame. It is
// strict: the frame must be at most MaxControlSize bytes of valid UTF-8
// holding one JSON object with no unknown, duplicate or mistyped member.
// Every error is a *FrameError.
func DecodeControl(b []byte) (Control, error) {
	c, err := decodeControl(b)
	if err != nil {
		return Control{}, err
	}
	return c, nil
}

// decodeControl returns a *FrameError rather than an error so that a nil
// result is never a non-nil interface.
func decodeControl(b []byte) (Control, *FrameError) {
	if len(b) > MaxControlSize {
		return Control{}, frameErr("", "frame is %d bytes; the limit is %d", len(b), MaxControlSize)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return Control{}, frameErr("", "frame is empty")
	}
	if !utf8.Valid(b) {
		return Control{}, frameErr("", "frame is not valid UTF-8")
	}
	top, ferr := members(b, "")
	if ferr != nil {
		return Control{}, ferr
	}
	var payload json.RawMessage
	var flat []member
	streamSeen := false
	for _, m := range top {
		switch m.key {
		case "stream":
			streamSeen = true
			s, ferr := jsonString("stream", m.value)
			if ferr != nil {
				return Control{}, ferr
			}
			if s != StreamControl {
				return Control{}, frameErr("stream", "clients send requests on %q, not on %s", StreamControl, quoteShort(s))
			}
		case "payload":
			payload = m.value
		case "seq":
			return Control{}, frameErr("seq", "not allowed in client frames")
		case "op", "id", "streams", "since":
			flat = append(flat, m)
		default:
			return Control{}, frameErr(fieldName(m.key), "unknown member (want stream and payload)")
		}
	}
	if !streamSeen {
		return Control{}, frameErr("stream", `missing (want "control")`)
	}
	req := flat
	if payload != nil {
		if len(flat) > 0 {
			return Control{}, frameErr(flat[0].key, "is next to payload: put op, id, streams and since inside payload (or drop payload)")
		}
		if payload[0] != '{' {
			return Control{}, frameErr("payload", "must be an object, not %s", jsonKind(payload))
		}
		if req, ferr = members(payload, "payload"); ferr != nil {
			return Control{}, ferr
		}
		for _, m := range req {
			switch m.key {
			case "op", "id", "streams", "since":
			default:
				return Control{}, frameErr(fieldName(m.key), "unknown member (want op, id, streams, since)")
			}
		}
	}
	return decodeRequest(req)
}

// decodeRequest decodes the members of a request: op, id, streams, since.
// An error names the request's id when it has a valid one.
func decodeRequest(req []member) (Control, *FrameError) {
	c, ferr := decodeMembers(req)
	if ferr != nil && ferr.ID == nil {
		for _, m := range req {
			if m.key == "id" && !isNull(m.value) && checkID(m.value) == nil {
				ferr.ID = append(json.RawMessage(nil), m.value...)
			}
		}
	}
	return c, ferr
}

func decodeMembers(req []member) (Control, *FrameError) {
	var c Control
	var rawStreams, rawSince json.RawMessage
	for _, m := range req {
		switch m.key {
		case "op":
			op, ferr := jsonString("op", m.value)
			if ferr != nil {
				return Control{}, ferr
			}
			if op != OpSubscribe && op != OpUnsubscribe {
				return Control{}, frameErr("op", "unknown op %s (want subscribe or unsubscribe)", quoteShort(op))
			}
			c.Op = op
		case "id":
			if isNull(m.value) {
				continue
			}
			if ferr := checkID(m.value); ferr != nil {
				return Control{}, ferr
			}
			c.ID = append(json.RawMessage(nil), m.value...)
		case "streams":
			rawStreams = m.value
		case "since":
			if !isNull(m.value) {
				rawSince = m.value
			}
		}
	}
	if c.Op == "" {
		return Control{}, frameErr("op", "missing (want subscribe or unsubscribe)")
	}
	if rawStreams == nil {
		return Control{}, frameErr("streams", "missing (want a list of stream names)")
	}
	streams, ferr := decodeStreams(rawStreams)
	if ferr != nil {
		return Control{}, ferr
	}
	c.Streams = streams
	if rawSince != nil {
		if c.Op != OpSubscribe {
			return Control{}, frameErr("since", "only subscribe takes since")
		}
		if c.Since, ferr = decodeSince(rawSince, streams); ferr != nil {
			return Control{}, ferr
		}
	}
	return c, nil
}

func decodeStreams(raw json.RawMessage) ([]string, *FrameError) {
	if raw[0] != '[' {
		return nil, frameErr("streams", "must be a list of stream names, not %s", jsonKind(raw))
	}
	// raw is valid JSON (members checked it): decode it item by item, to
	// stop at the limit rather than after decoding thousands of items.
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, frameErr("streams", "%v", err)
	}
	var streams []string
	seen := make(map[string]int)
	for i := 0; dec.More(); i++ {
		if i == MaxStreams {
			return nil, frameErr("streams", "names more than %d streams", MaxStreams)
		}
		field := "streams[" + strconv.Itoa(i) + "]"
		var item json.RawMessage
		if err := dec.Decode(&item); err != nil {
			return nil, frameErr(field, "%v", err)
		}
		s, ferr := jsonString(field, item)
		if ferr != nil {
			return nil, ferr
		}
		if err := validStream(s); err != nil {
			return nil, frameErr(field, "%v", err)
		}
		if j, dup := seen[s]; dup {
			return nil, frameErr(field, "%q is also streams[%d]", s, j)
		}
		seen[s] = i
		streams = append(streams, s)
	}
	if len(streams) == 0 {
		return nil, frameErr("streams", "is empty (want 1 to %d stream names)", MaxStreams)
	}
	return streams, nil
}

func decodeSince(raw json.RawMessage, streams []string) (map[string]uint64, *FrameError) {
	if raw[0] != '{' {
		return nil, frameErr("since", "must be an object of stream name to seq, not %s", jsonKind(raw))
	}
	ms, ferr := members(raw, "since")
	if ferr != nil {
		return nil, ferr
	}
	since := make(map[string]uint64, len(ms))
	for _, m := range ms {
		field := "since[" + quoteShort(m.key) + "]"
		if !contains(streams, m.key) {
			return nil, frameErr(field, "is not one of streams")
		}
		seq, ok := parseSeq(m.value)
		if !ok {
			return nil, frameErr(field, "must be a sequence number (an integer from 0 to %d), not %s", uint64(1<<64-1), quoteShort(string(m.value)))
		}
		since[m.key] = seq
	}
	return since, nil
}

// parseSeq parses a JSON number that is a non-negative integer written
// without fraction, exponent or leading zeros.
func parseSeq(raw json.RawMessage) (uint64, bool) {
	if len(raw) == 0 || len(raw) > 1 && raw[0] == '0' {
		return 0, false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	return n, err == nil
}

// checkID checks a request id: a JSON string or integer of at most
// MaxIDLen bytes.
func checkID(raw json.RawMessage) *FrameError {
	const want = "must be a string or an integer of at most %d bytes, not %s"
	if len(raw) > MaxIDLen {
		return frameErr("id", want, MaxIDLen, fmt.Sprintf("%d bytes", len(raw)))
	}
	switch {
	case raw[0] == '"':
		return nil // members already checked the syntax
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		digits := raw
		if raw[0] == '-' {
			digits = raw[1:]
		}
		if _, ok := parseSeq(digits); ok {
			return nil
		}
		return frameErr("id", want, MaxIDLen, "the number "+quoteShort(string(raw)))
	}
	return frameErr("id", want, MaxIDLen, jsonKind(raw))
}

// EncodeControl returns c in the canonical form, after checking it as
// DecodeControl would. Its error is a *FrameError.
func EncodeControl(c Control) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"stream":"control","payload":{"op":`)
	op, _ := json.Marshal(c.Op)
	buf.Write(op)
	if c.ID != nil {
		buf.WriteString(`,"id":`)
		buf.Write(c.ID)
	}
	buf.WriteString(`,"streams":[`)
	for i, s := range c.Streams {
		if i > 0 {
			buf.WriteByte(',')
		}
		q, _ := json.Marshal(s)
		buf.Write(q)
	}
	buf.WriteByte(']')
	if c.Since != nil {
		keys := make([]string, 0, len(c.Since))
		for k := range c.Since {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteString(`,"since":{`)
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			q, _ := json.Marshal(k)
			buf.Write(q)
			buf.WriteByte(':')
			buf.WriteString(strconv.FormatUint(c.Since[k], 10))
		}
		buf.WriteByte('}')
	}
	buf.WriteString("}}")
	if _, err := DecodeControl(buf.Bytes()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// member is one member of a JSON object, in the order of the text.
type member struct {
	key   string
	value json.RawMessage
}

// members returns the members of the JSON object b, rejecting anything
// else, duplicate keys and trailing data. path names b in errors.
func members(b []byte, path string) ([]member, *FrameError) {
	dec := json.NewDecoder(bytes.NewReader(b))
	syntax := func(err error) *FrameError {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return frameErr(path, "invalid JSON: unexpected end")
		}
		return frameErr(path, "invalid JSON at byte %d: %v", dec.InputOffset(), err)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		what := "a value"
		if ok {
			what = "a list"
		}
		if path == "" {
			return nil, frameErr("", "must be a JSON object, not %s", what)
		}
		return nil, frameErr(path, "must be an object, not %s", what)
	}
	var ms []member
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, syntax(fmt.Errorf("object key is not a string"))
		}
		field := key
		if path == "since" {
			field = "since[" + quoteShort(key) + "]"
		} else {
			field = fieldName(key)
		}
		if seen[key] {
			return nil, frameErr(field, "appears twice")
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, syntax(err)
		}
		ms = append(ms, member{key, v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, frameErr(path, "trailing data after the object at byte %d", dec.InputOffset())
	}
	return ms, nil
}

// fieldName returns key as a field name for an error, cut to a readable
// length and quoted if it is not a plain word.
func fieldName(key string) string {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return quoteShort(key)
		}
	}
	if key == "" || len(key) > 64 {
		return quoteShort(key)
	}
	return key
}

func jsonString(field string, raw json.RawMessage) (string, *FrameError) {
	if raw[0] != '"' {
		return "", frameErr(field, "must be a string, not %s", jsonKind(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", frameErr(field, "%v", err)
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// jsonKind names the kind of a JSON value for an error message.
func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
