package inspect

import (
	"strconv"
	"strings"
)

// ParseServerTiming parses the values of Server-Timing header fields (W3C
// Server Timing):
//
//	Server-Timing: db;dur=53.2;desc="Query \"users\"", cache;desc=hit, total;dur=120
//
// Metrics come out in order. Of a metric's parameters only dur (a number of
// milliseconds; 0 when missing or not a number) and desc are kept, the first
// occurrence of each winning, as the specification says; names of parameters
// are case-insensitive. A malformed metric is skipped up to the next comma
// outside quotes, and never makes the rest fail.
func ParseServerTiming(values []string) []ServerTiming {
	var out []ServerTiming
	for _, v := range values {
		p := stParser{s: v}
		for {
			p.skip(func(c byte) bool { return c == ' ' || c == '\t' || c == ',' })
			if p.eof() {
				break
			}
			if m, ok := p.metric(); ok {
				out = append(out, m)
			} else {
				p.skipElement()
			}
		}
	}
	return out
}

type stParser struct {
	s   string
	pos int
}

func (p *stParser) eof() bool { return p.pos >= len(p.s) }

func (p *stParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.pos]
}

func (p *stParser) skip(f func(byte) bool) {
	for !p.eof() && f(p.s[p.pos]) {
		p.pos++
	}
}

func (p *stParser) ows() { p.skip(func(c byte) bool { return c == ' ' || c == '\t' }) }

func (p *stParser) token() string {
	start := p.pos
	p.skip(isTchar)
	return p.s[start:p.pos]
}

// quoted reads a quoted-string at p.pos (which is '"'), undoing escapes. An
// unterminated string runs to the end of the input.
func (p *stParser) quoted() string {
	p.pos++ // the opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.pos]
		p.pos++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if !p.eof() {
				b.WriteByte(p.s[p.pos])
				p.pos++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// metric parses one metric-name *( OWS ";" OWS param ), stopping before the
// comma that ends it. It reports false on malformed input, with p.pos
// somewhere inside the element.
func (p *stParser) metric() (ServerTiming, bool) {
	m := ServerTiming{Name: p.token()}
	if m.Name == "" {
		return m, false
	}
	var seenDur, seenDesc bool
	for {
		p.ows()
		switch p.peek() {
		case 0, ',':
			return m, true
		case ';':
			p.pos++
		default:
			return m, false
		}
		p.ows()
		name := strings.ToLower(p.token())
		if name == "" {
			return m, false
		}
		p.ows()
		value := ""
		if p.peek() == '=' {
			p.pos++
			p.ows()
			if p.peek() == '"' {
				value = p.quoted()
			} else {
				value = p.token()
			}
		}
		switch {
		case name == "dur" && !seenDur:
			seenDur = true
			if d, err := strconv.ParseFloat(value, 64); err == nil {
				m.Dur = d
			}
		case name == "desc" && !seenDesc:
			seenDesc = true
			m.Desc = value
		}
	}
}

// skipElement moves past the rest of a malformed list element: up to the
// next comma outside a quoted string.
func (p *stParser) skipElement() {
	for !p.eof() {
		switch p.s[p.pos] {
		case ',':
			return
		case '"':
			p.quoted()
		default:
			p.pos++
		}
	}
}

// isTchar reports whether c may appear in an HTTP token (RFC 9110).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
