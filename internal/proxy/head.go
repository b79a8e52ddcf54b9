package proxy

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"net/textproto"
	"strings"
)

// errMalformedField is a head line that is neither a field nor the
// continuation of one.
var errMalformedField = errors.New("malformed header line")

// ParseHead splits a head as RequestHead.Head or ResponseHead.Head hold it
// into its first line (the request or status line) and its fields, with
// canonical keys (textproto.CanonicalMIMEHeaderKey). Values are trimmed of
// white space; an obsolete line folding (a line that starts with a space or
// a tab) continues the previous field's last value after one space. A line
// that is neither a field nor a continuation fails with "malformed header
// line". It is for reading a recorded head: the proxy itself reads only what
// it needs of a head as it passes (scanHead), and builds no header.
func ParseHead(head []byte) (first string, h http.Header, err error) {
	text := strings.TrimRight(string(head), "\r\n")
	first, rest, _ := strings.Cut(text, "\n")
	first = strings.TrimSuffix(first, "\r")
	n := strings.Count(rest, "\n") + 1
	h = make(http.Header, n)
	// One backing array for the fields' first values, as net/textproto has.
	values := make([]string, n)
	var last string
	for rest != "" {
		var l string
		l, rest, _ = strings.Cut(rest, "\n")
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && last != "" {
			// obs-fold: a continuation of the previous field.
			vs := h[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(l)
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return "", nil, errMalformedField
		}
		last = textproto.CanonicalMIMEHeaderKey(name)
		value = strings.TrimSpace(value)
		if vs, seen := h[last]; seen {
			h[last] = append(vs, value)
		} else if len(values) > 0 {
			values[0] = value
			h[last], values = values[:1:1], values[1:]
		} else {
			h[last] = []string{value}
		}
	}
	return first, h, nil
}

// framing is what the proxy reads of a head's fields: the values, as
// ParseHead would give them, of the fields that frame the message or
// upgrade the connection. The values point into the head, except one
// continued by an obs-fold (a copy, but those are all but extinct).
type framing struct {
	te         []byte // the last Transfer-Encoding field's value
	cl         []byte // the first Content-Length field's value
	upgrade    []byte // the first Upgrade field's value
	hasTE      bool
	hasCL      bool
	hasUpgrade bool
}

// Which of framing's values a head line set, so that an obs-fold after it
// continues that value.
const (
	setNone = iota
	setTE
	setCL
	setUpgrade
)

// scanHead is ParseHead for the forwarding path: one pass over the head
// that returns its first line and the framing fields, pointing into head,
// and fails where ParseHead fails. It allocates nothing, but for an
// obs-fold of a framing field.
func scanHead(head []byte) (first []byte, f framing, err error) {
	text := head
	for len(text) > 0 && (text[len(text)-1] == '\r' || text[len(text)-1] == '\n') {
		text = text[:len(text)-1]
	}
	first, rest, _ := cutByte(text, '\n')
	first = trimCR(first)
	fields := false // a field line was seen: what starts with a blank continues it
	set := setNone  // which framing value the last field line set
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = cutByte(rest, '\n')
		l = trimCR(l)
		if len(l) == 0 {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && fields {
			if v := f.value(set); v != nil {
				*v = fold(*v, bytes.TrimSpace(l))
			}
			continue
		}
		colon := nameEnd(l)
		if colon <= 0 {
			return nil, framing{}, errMalformedField
		}
		name, value := l[:colon], bytes.TrimSpace(l[colon+1:])
		fields, set = true, setNone
		// The names are what CanonicalMIMEHeaderKey turns into the keys
		// bodyLength reads: only ASCII letters and '-', in any case.
		switch {
		case equalFoldASCII(name, "transfer-encoding"):
			f.te, f.hasTE, set = value, true, setTE
		case equalFoldASCII(name, "content-length") && !f.hasCL:
			f.cl, f.hasCL, set = value, true, setCL
		case equalFoldASCII(name, "upgrade") && !f.hasUpgrade:
			f.upgrade, f.hasUpgrade, set = value, true, setUpgrade
		}
	}
	return first, f, nil
}

// nameEnd returns the index of the colon that ends the field name l starts
// with, or -1 when there is none or the name has a space or a tab in it.
func nameEnd(l []byte) int {
	for i, c := range l {
		switch c {
		case ':':
			return i
		case ' ', '\t':
			return -1
		}
	}
	return -1
}

// value returns the value that set names, or nil.
func (f *framing) value(set int) *[]byte {
	switch set {
	case setTE:
		return &f.te
	case setCL:
		return &f.cl
	case setUpgrade:
		return &f.upgrade
	}
	return nil
}

// fold returns v continued by more, as ParseHead joins an obs-fold, in a
// new array: v points into the head, which is not ours to change.
func fold(v, more []byte) []byte {
	out := make([]byte, 0, len(v)+1+len(more))
	out = append(out, v...)
	out = append(out, ' ')
	return append(out, more...)
}

// websocket reports whether the head asks for a WebSocket upgrade.
func (f *framing) websocket() bool {
	return f.hasUpgrade && bytes.EqualFold(f.upgrade, []byte("websocket"))
}

// bodyLength reads a message's framing: a Content-Length (-1 if none) or
// chunked. A transfer coding that does not end with chunked, or a
// Content-Length that is not a number, is an error.
func (f *framing) bodyLength() (length int64, chunked bool, err error) {
	if f.hasTE {
		last := bytes.TrimSpace(f.te) // an obs-fold may have added a space
		if i := bytes.LastIndexByte(last, ','); i >= 0 {
			last = bytes.TrimSpace(last[i+1:])
		}
		if !bytes.EqualFold(last, []byte("chunked")) {
			return 0, false, errors.New("transfer coding other than chunked")
		}
		return -1, true, nil
	}
	if !f.hasCL {
		return -1, false, nil
	}
	// A list of the same length ("5, 5") is allowed (RFC 9110, 8.6).
	first, _, _ := cutByte(f.cl, ',')
	n, ok := parseDecimal(bytes.TrimSpace(first))
	if !ok {
		return 0, false, errors.New("bad Content-Length")
	}
	return n, false, nil
}

// parseDecimal parses a number that is not negative as strconv.ParseInt(s,
// 10, 64) does (an optional sign, then ASCII digits), without converting
// it to a string first.
func parseDecimal(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-uint64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg && n != 0 {
		return 0, false
	}
	return int64(n), true
}

// methodString returns a request method as a string, without allocating
// for the standard ones.
func methodString(b []byte) string {
	switch string(b) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodConnect:
		return http.MethodConnect
	case http.MethodTrace:
		return http.MethodTrace
	}
	return string(b)
}

// equalFoldASCII reports whether b is lower in any case of its ASCII
// letters; lower is in lower case.
func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// cutByte is bytes.Cut around the first c.
func cutByte(b []byte, c byte) (before, after []byte, found bool) {
	if i := bytes.IndexByte(b, c); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// trimCR drops one final '\r'.
func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}
