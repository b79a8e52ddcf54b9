package inspect

import (
	"bytes"
	"errors"
	"strings"
)

// matcher applies a Filter to stored exchanges, cheapest test first: the
// meta record's fields, then the request and status lines read in place,
// then the parsed heads, and the bodies last, only when asked for.
type matcher struct {
	f      Filter
	method []byte
	header struct {
		name, value string // lower case
		hasValue    bool
	}
	path []byte
	body []byte
}

func newMatcher(f Filter) *matcher {
	mt := &matcher{f: f, method: []byte(f.Method), path: []byte(f.PathContains), body: []byte(f.BodyContains)}
	if f.Header != "" {
		name, value, hasValue := strings.Cut(f.Header, ":")
		mt.header.name = strings.ToLower(strings.TrimSpace(name))
		mt.header.value = strings.ToLower(strings.TrimSpace(value))
		mt.header.hasValue = hasValue
	}
	return mt
}

// match reports whether m passes the filter and, if it does, returns its
// exchange with the heads parsed and without bodies. body returns m's body
// record; it is called only for a filter on bodies.
func (mt *matcher) match(m *meta, body func() ([]byte, error)) (Exchange, bool, error) {
	f := &mt.f
	if f.Service != "" && m.ex.Service != f.Service || f.ReplayOf > 0 && m.ex.ReplayOf != f.ReplayOf {
		return Exchange{}, false, nil
	}
	method, target, _ := requestLine(m.reqHead)
	if len(mt.method) > 0 && !bytes.EqualFold(method, mt.method) {
		return Exchange{}, false, nil
	}
	if _, status, _ := statusLine(m.respHead); f.StatusClass > 0 && status/100 != f.StatusClass {
		return Exchange{}, false, nil
	}
	if len(mt.path) > 0 && !bytes.Contains(target, mt.path) {
		return Exchange{}, false, nil
	}
	ex := m.exchange()
	if mt.header.name != "" && !mt.hasHeader(&ex) {
		return Exchange{}, false, nil
	}
	if len(mt.body) > 0 {
		rec, err := body()
		if errors.Is(err, ErrNotFound) {
			return Exchange{}, false, nil // evicted while listing
		}
		if err != nil {
			return Exchange{}, false, err
		}
		var withBodies Exchange
		if err := decodeBody(rec, &withBodies); err != nil {
			return Exchange{}, false, err
		}
		if !bytes.Contains(withBodies.Request.Body, mt.body) && !bytes.Contains(withBodies.Response.Body, mt.body) {
			return Exchange{}, false, nil
		}
	}
	return ex, true, nil
}

// hasHeader reports whether the request or the response of ex has the
// filter's header, with a value containing the filter's value if it has
// one (both case-insensitive).
func (mt *matcher) hasHeader(ex *Exchange) bool {
	for _, h := range []map[string][]string{ex.Request.Header, ex.Response.Header} {
		for name, vs := range h {
			if strings.ToLower(name) != mt.header.name {
				continue
			}
			if !mt.header.hasValue {
				return true
			}
			for _, v := range vs {
				if strings.Contains(strings.ToLower(v), mt.header.value) {
					return true
				}
			}
		}
	}
	return false
}
