package inspect

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Curl returns a command line for a POSIX shell that sends ex's request
// again with curl: method, URL, headers and body. Host and Content-Length
// are left to curl (the URL names the host), hop-by-hop headers are
// dropped, and an Accept-Encoding header becomes --compressed so that the
// response is readable. A body that is not printable text is fed through
// printf. A body truncated when it was recorded is sent as kept, and a
// trailing shell comment says so.
func Curl(ex *Exchange) string {
	rq := &ex.Request
	words := []string{"curl"}
	body := rq.Body
	switch {
	case rq.Method == "HEAD":
		words = append(words, "--head")
	case rq.Method == "GET" && len(body) == 0:
	case rq.Method == "POST" && len(body) > 0:
	default:
		words = append(words, "-X", shellQuote(rq.Method))
	}
	u := ex.URL()
	if strings.ContainsAny(u, "[]{}") {
		words = append(words, "--globoff") // curl would expand them
	}
	words = append(words, shellQuote(u))
	compressed := false
	for _, name := range slices.Sorted(maps.Keys(rq.Header)) {
		switch strings.ToLower(name) {
		case "host", "content-length", "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade":
			continue
		case "accept-encoding":
			compressed = true
			continue
		}
		for _, v := range rq.Header[name] {
			h := name + ": " + v
			if v == "" {
				h = name + ";" // curl's syntax for an empty header
			}
			words = append(words, "-H", shellQuote(h))
		}
	}
	if compressed {
		words = append(words, "--compressed")
	}
	cmd := ""
	if len(body) > 0 {
		if printable(body) {
			words = append(words, "--data-binary", shellQuote(string(body)))
		} else {
			cmd = "printf " + printfFormat(body) + " | "
			words = append(words, "--data-binary", "@-")
		}
	}
	cmd += strings.Join(words, " ")
	if rq.Truncated {
		cmd += fmt.Sprintf(" # request body truncated when recorded: %d of %d bytes", len(body), rq.Size)
	}
	return cmd
}

// shellQuote quotes s as one word for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printable reports whether b is UTF-8 text that a single-quoted shell word
// carries safely: no control bytes but tab, newline and carriage return.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// printfFormat returns a quoted printf format that prints b exactly: POSIX
// printf turns \ddd (octal) into that byte.
func printfFormat(b []byte) string {
	var s strings.Builder
	s.WriteByte('\'')
	for _, c := range b {
		switch {
		case c == '%':
			s.WriteString("%%")
		case c == '\\':
			s.WriteString(`\\`)
		case c == '\'' || c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&s, `\%03o`, c)
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte('\'')
	return s.String()
}
