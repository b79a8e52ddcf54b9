package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// maxHead bounds a request or response head the HTTP mode parses. A longer
// head (or anything that is not HTTP/1.x) turns recording off for the rest of
// the connection; the bytes are forwarded all the same.
const maxHead = 64 << 10

// errClosedEarly ends an exchange that its connection ended in the middle of.
var errClosedEarly = errors.New("connection closed before the exchange ended")

// observer is the HTTP mode of one connection: it parses the bytes each way
// after they were forwarded and reports exchanges to the Recorder. pump feeds
// the client's bytes (request), run the backend's (response); mu serializes
// the two. Once parsing fails it goes passive: it drops what it has and
// forwarding goes back to plain copying.
type observer struct {
	rec     Recorder
	service string
	conn    uint64
	remote  string

	mu       sync.Mutex // guards every field below
	passive  bool       // not parsing any more
	seq      int
	req      parser
	resp     parser
	pending  []*pending // exchanges whose request was seen, oldest first
	stash    []byte     // client bytes after an upgrade request, until its answer
	awaiting bool       // the last request asked to upgrade: stash until the answer
	ws       *wsObserver
	backend  string    // the backend connection's address
	dialed   time.Time // when it was opened
	reused   bool      // an exchange already went over it

	// Reused from exchange to exchange, so that following one allocates
	// nothing: the pendings of ended exchanges, and what the Recorder's
	// methods are passed (valid only during the call).
	free     []*pending
	reqHead  RequestHead
	respHead ResponseHead
	end      ExchangeEnd
}

// pending is one exchange in flight, recorded or not: framing needs it
// either way. Once ended it goes to observer.free, for a later exchange.
type pending struct {
	ex        Exchange // nil when the Recorder declined it
	method    string
	upgrade   bool // the request asked for a WebSocket upgrade
	start     time.Time
	held      time.Duration
	answered  bool // a response head was seen
	reqDone   bool
	respDone  bool
	reqBytes  int64
	respBytes int64
	err       error
}

// parser is one direction's state: a head being gathered, or a body being
// framed.
type parser struct {
	head   []byte // a head gathered across reads
	headAt time.Time
	body   framer
	inBody bool
}

func newObserver(rec Recorder, service string, conn uint64, remote string) *observer {
	return &observer{rec: rec, service: service, conn: conn, remote: remote}
}

// connected records the backend connection that the next exchanges go over.
func (o *observer) connected(addr string, at time.Time) {
	o.mu.Lock()
	o.backend, o.dialed, o.reused = addr, at, false
	o.mu.Unlock()
}

// request takes client bytes that were forwarded, read at t.
func (o *observer) request(p []byte, t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.passive {
		return
	}
	if o.ws != nil {
		o.ws.feed(&o.ws.client, p, t)
		return
	}
	if o.awaiting {
		if len(o.stash)+len(p) > maxHead {
			o.stop(errors.New("too much sent before the upgrade was answered"))
			return
		}
		o.stash = append(o.stash, p...)
		return
	}
	o.parseRequests(p, t)
}

// parseRequests parses p as requests (heads and bodies). o.mu must be held.
func (o *observer) parseRequests(p []byte, t time.Time) {
	for len(p) > 0 && !o.passive {
		if o.awaiting {
			o.stash = append(o.stash, p...)
			return
		}
		if o.req.inBody {
			var ok bool
			if p, ok = o.body(&o.req, o.lastPending(), true, p, t); !ok {
				return
			}
			continue
		}
		head, rest, ok := o.gatherHead(&o.req, "request", p, t)
		if !ok {
			return
		}
		p = rest
		if err := o.beginRequest(head); err != nil {
			o.stop(err)
			return
		}
	}
}

// body passes the body bytes at the start of p, of pe's request or
// response, to its Exchange, and returns the bytes after them. ok is false
// when the framing was broken and parsing stopped.
func (o *observer) body(ps *parser, pe *pending, request bool, p []byte, t time.Time) (rest []byte, ok bool) {
	n, done, err := ps.body.feed(p, func(b []byte) {
		switch {
		case request:
			pe.reqBytes += int64(len(b))
			if pe.ex != nil {
				pe.ex.RequestBody(b)
			}
		default:
			pe.respBytes += int64(len(b))
			if pe.ex != nil {
				pe.ex.ResponseBody(b)
			}
		}
	})
	if err != nil {
		o.stop(err)
		return nil, false
	}
	if done {
		o.bodyDone(ps, pe, request, t)
	}
	return p[n:], true
}

// bodyDone marks the body now passing one way (request or response) as
// ended, and ends the exchange if both are. o.mu must be held.
func (o *observer) bodyDone(ps *parser, pe *pending, request bool, t time.Time) {
	ps.inBody = false
	if request {
		pe.reqDone = true
	} else {
		pe.respDone = true
	}
	o.endIfDone(pe, t)
}

// gatherHead adds p to the head ps gathers; see parser.gather. A head
// past maxHead stops parsing.
func (o *observer) gatherHead(ps *parser, what string, p []byte, t time.Time) (head, rest []byte, ok bool) {
	head, rest, ok = ps.gather(p, t)
	if !ok && len(ps.head) > maxHead {
		o.stop(errors.New(what + " head longer than 64 KiB"))
	}
	return head, rest, ok
}

// beginRequest reads a request head, calls Begin and sets up the body.
func (o *observer) beginRequest(head []byte) error {
	line, f, err := scanHead(head)
	if err != nil {
		return err
	}
	method, rest, ok1 := cutByte(line, ' ')
	target, proto, ok2 := cutByte(rest, ' ')
	if !ok1 || !ok2 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(method) == 0 || len(target) == 0 {
		return errors.New("not an HTTP/1.x request")
	}
	length, chunked, err := f.bodyLength()
	if err != nil {
		return err
	}
	o.seq++
	pe := o.newPending()
	pe.method, pe.start = methodString(method), o.req.headAt
	if !o.reused && !o.dialed.IsZero() {
		pe.held = max(0, o.dialed.Sub(pe.start))
	}
	o.reused = true
	if f.websocket() || pe.method == http.MethodConnect {
		pe.upgrade = pe.method != http.MethodConnect
		o.awaiting = true
	}
	o.reqHead = RequestHead{
		Service: o.service, Conn: o.conn, Seq: o.seq, Remote: o.remote, Start: pe.start,
		Method: pe.method, ContentLength: length, Head: head,
	}
	pe.ex = o.rec.Begin(&o.reqHead)
	o.reqHead.Head = nil // not ours past the call: a pooled buffer
	o.pending = append(o.pending, pe)
	switch {
	case chunked:
		o.req.body = framer{chunked: true}
		o.req.inBody = true
	case length > 0:
		o.req.body = framer{left: length}
		o.req.inBody = true
	default:
		pe.reqDone = true
	}
	return nil
}

// response takes backend bytes that were forwarded, read at t.
func (o *observer) response(p []byte, t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.passive {
		return
	}
	if o.ws != nil {
		o.ws.feed(&o.ws.server, p, t)
		return
	}
	for len(p) > 0 && !o.passive && o.ws == nil {
		pe := o.current()
		if pe == nil {
			o.stop(errors.New("response without a request"))
			return
		}
		if o.resp.inBody {
			var ok bool
			if p, ok = o.body(&o.resp, pe, false, p, t); !ok {
				return
			}
			continue
		}
		head, rest, ok := o.gatherHead(&o.resp, "response", p, t)
		if !ok {
			return
		}
		p = rest
		if err := o.beginResponse(pe, head, t); err != nil {
			o.stop(err)
			return
		}
		if o.ws != nil && len(p) > 0 {
			o.ws.feed(&o.ws.server, p, t)
		}
	}
}

// beginResponse reads a response head for pe and sets up its body.
func (o *observer) beginResponse(pe *pending, head []byte, t time.Time) error {
	line, f, err := scanHead(head)
	if err != nil {
		return err
	}
	proto, rest, _ := cutByte(line, ' ')
	code, _, _ := cutByte(rest, ' ')
	status, ok := parseDecimal(code)
	if !bytes.HasPrefix(proto, []byte("HTTP/1.")) || !ok || status < 100 || status > 999 {
		return errors.New("not an HTTP/1.x response")
	}
	if status >= 100 && status < 200 && status != 101 {
		return nil // interim: the real response follows
	}
	length, chunked, err := f.bodyLength()
	if err != nil {
		return err
	}
	upgraded := status == 101 || (pe.method == http.MethodConnect && status/100 == 2)
	contentLength := length // -1 for chunked, and until the backend closes
	switch {
	case upgraded, pe.method == http.MethodHead, status == 204, status == 304:
		contentLength = 0
	}
	pe.answered = true
	if pe.ex != nil {
		o.respHead = ResponseHead{Start: o.resp.headAt, Status: int(status), ContentLength: contentLength, Head: head}
		pe.ex.Response(&o.respHead)
		o.respHead.Head = nil
	}
	if o.awaiting && !upgraded {
		// The upgrade was declined: what the client sent meanwhile is HTTP.
		o.awaiting = false
		stash := o.stash
		o.stash = nil
		o.parseRequests(stash, t)
		if o.passive {
			return nil
		}
	}
	switch {
	case upgraded:
		o.upgrade(pe, t)
		return nil
	case contentLength == 0:
		pe.respDone = true
		o.endIfDone(pe, t)
	case chunked:
		o.resp.body = framer{chunked: true}
		o.resp.inBody = true
	case length > 0:
		o.resp.body = framer{left: length}
		o.resp.inBody = true
	default:
		o.resp.body = framer{left: -1}
		o.resp.inBody = true
	}
	return nil
}

// upgrade switches the connection after a 101 (or a CONNECT's 2xx): to
// WebSocket frames when the exchange wants them, else to plain copying.
func (o *observer) upgrade(pe *pending, t time.Time) {
	pe.reqDone, pe.respDone = true, true
	fr, ok := pe.ex.(FrameRecorder)
	if !pe.upgrade || !ok || pe.ex == nil {
		o.finishOne(pe, t, nil, true)
		o.stop(nil)
		return
	}
	o.ws = &wsObserver{fr: fr, client: wsParser{fromClient: true}}
	o.awaiting = false
	stash := o.stash
	o.stash = nil
	o.ws.feed(&o.ws.client, stash, t)
}

// current is the oldest exchange whose response has not ended.
func (o *observer) current() *pending {
	for _, pe := range o.pending {
		if !pe.respDone {
			return pe
		}
	}
	return nil
}

func (o *observer) lastPending() *pending { return o.pending[len(o.pending)-1] }

// endIfDone ends pe once both its messages have passed.
func (o *observer) endIfDone(pe *pending, t time.Time) {
	if pe.reqDone && pe.respDone {
		o.finishOne(pe, t, pe.err, false)
	}
}

// newPending returns a zero pending, reusing an ended exchange's.
func (o *observer) newPending() *pending {
	if n := len(o.free); n > 0 {
		pe := o.free[n-1]
		o.free = o.free[:n-1]
		return pe
	}
	return new(pending)
}

// finishOne calls End for pe and forgets it: pe is reused for a later
// exchange.
func (o *observer) finishOne(pe *pending, t time.Time, err error, upgraded bool) {
	for i, q := range o.pending {
		if q == pe {
			o.pending = append(o.pending[:i], o.pending[i+1:]...)
			break
		}
	}
	if pe.ex != nil {
		o.end = ExchangeEnd{
			End: t, RequestBytes: pe.reqBytes, ResponseBytes: pe.respBytes,
			Upgraded: upgraded, Held: pe.held, Err: err,
		}
		if pe.answered {
			o.end.Backend = o.backend
		}
		pe.ex.End(&o.end)
		o.end = ExchangeEnd{} // drop err
	}
	*pe = pending{}
	o.free = append(o.free, pe)
}

// stop turns parsing off for the rest of the connection, ending what is in
// flight with err (nil: the connection was handed over to plain copying).
func (o *observer) stop(err error) {
	o.passive = true
	o.stash, o.req, o.resp = nil, parser{}, parser{}
	now := time.Now()
	for len(o.pending) > 0 {
		pe := o.pending[0]
		e := err
		if e == nil {
			e = errClosedEarly
		}
		o.finishOne(pe, now, e, false)
	}
	o.ws = nil
}

// blind returns how many bytes of the body now passing one way (request or
// response) may be forwarded without being seen: the rest of a body of
// known length or of the current chunk's data, -1 for a body that runs
// until the close, or 0 when the bytes must be seen (heads, chunk framing,
// or an Exchange that wants them, see Sated). passive reports that o
// stopped parsing, so that forwarding can go back to splicing everything.
func (o *observer) blind(request bool) (n int64, passive bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.passive {
		return 0, true
	}
	ps, pe := o.bodyOf(request)
	if pe == nil || (ps.body.chunked && ps.body.state != chunkData) {
		return 0, false
	}
	if pe.ex != nil {
		if s, ok := pe.ex.(Sated); !ok || !s.Sated(!request) {
			return 0, false
		}
	}
	return ps.body.left, false
}

// passedBlind counts n body bytes that blind let pass unseen, and ends the
// body when they were the last.
func (o *observer) passedBlind(request bool, n int64, t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ps, pe := o.bodyOf(request)
	if pe == nil || n <= 0 {
		return
	}
	if request {
		pe.reqBytes += n
	} else {
		pe.respBytes += n
	}
	if ps.body.left < 0 {
		return // until the close: responseEnd ends it
	}
	ps.body.left -= n
	if ps.body.chunked {
		if ps.body.left <= 0 {
			ps.body.state = chunkDataEnd
		}
		return
	}
	if ps.body.left <= 0 {
		o.bodyDone(ps, pe, request, t)
	}
}

// bodyOf returns one direction's parser and the exchange whose body it is
// in, or a nil exchange when it is not in a body. o.mu must be held.
func (o *observer) bodyOf(request bool) (*parser, *pending) {
	if o.passive || o.ws != nil {
		return nil, nil
	}
	if request {
		if !o.req.inBody || o.awaiting {
			return nil, nil
		}
		return &o.req, o.lastPending()
	}
	if !o.resp.inBody {
		return nil, nil
	}
	return &o.resp, o.current()
}

// requestEnd is called once the client→backend direction ended: err nil
// for the client's EOF.
func (o *observer) requestEnd(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.passive || o.ws != nil {
		return
	}
	if o.req.inBody {
		pe := o.lastPending()
		pe.reqDone = true
		pe.err = orClosed(err)
		o.req.inBody = false
	}
}

// responseEnd is called once the backend→client direction ended: err nil
// for the backend's EOF, which ends a body that runs until the close. No
// response can come after it, so whatever else is in flight ends, failed.
func (o *observer) responseEnd(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.passive || o.ws != nil {
		return
	}
	now := time.Now()
	if pe := o.current(); pe != nil && o.resp.inBody && o.resp.body.left < 0 && !o.resp.body.chunked && err == nil {
		o.resp.inBody = false
		pe.respDone = true
		o.finishOne(pe, now, pe.err, false)
	}
	if err == nil || err == io.EOF {
		err = errBackendClosed
	}
	o.stop(err)
}

// errBackendClosed ends the exchanges still waiting when the backend closes.
var errBackendClosed = errors.New("the service closed the connection before the response ended")

// finish ends whatever is still in flight when the connection is gone; an
// upgraded WebSocket connection ends there, cleanly.
func (o *observer) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ws := o.ws; ws != nil {
		now := time.Now()
		ws.flush(now)
		o.ws = nil
		for _, pe := range o.pending {
			if pe.ex != nil {
				o.finishOne(pe, now, nil, true)
				break
			}
		}
	}
	o.stop(nil)
}

func orClosed(err error) error {
	if err == nil || err == io.EOF {
		return errClosedEarly
	}
	return err
}

// gather adds p to the head being gathered. Once the head is whole it
// returns it and the bytes after it. Empty lines before a head are skipped
// (RFC 9112, 2.2).
func (ps *parser) gather(p []byte, t time.Time) (head, rest []byte, ok bool) {
	if len(ps.head) == 0 {
		for len(p) > 0 && (p[0] == '\r' || p[0] == '\n') {
			p = p[1:]
		}
		if len(p) == 0 {
			return nil, nil, false
		}
		ps.headAt = t
		if i := headEnd(p, 0); i >= 0 {
			return p[:i], p[i:], true // the common case: no copy
		}
	}
	from := max(0, len(ps.head)-3)
	ps.head = append(ps.head, p...)
	i := headEnd(ps.head, from)
	if i < 0 {
		return nil, nil, false
	}
	n := i - (len(ps.head) - len(p))
	head = ps.head[:i]
	ps.head = nil
	return head, p[n:], true
}

// headEnd returns the index just past the blank line that ends a head in b,
// searching from from, or -1.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
	return -1
}

// framer finds where a body ends: left bytes (-1: until the connection
// closes), or chunked framing, which it removes.
type framer struct {
	left    int64
	chunked bool
	state   int    // chunked: see the chunk* constants
	line    []byte // a size or trailer line split across reads
}

const (
	chunkSize    = iota // reading a chunk-size line
	chunkData           // left bytes of chunk data to go
	chunkDataEnd        // the CRLF after chunk data
	chunkTrailer        // trailer lines, up to an empty one
)

// feed consumes the body's bytes at the start of p, passing payload bytes to
// data, and returns how many bytes of p it consumed and whether the body
// ended.
func (f *framer) feed(p []byte, data func([]byte)) (int, bool, error) {
	if !f.chunked {
		if f.left < 0 {
			data(p)
			return len(p), false, nil
		}
		n := int(min(f.left, int64(len(p))))
		if n > 0 {
			data(p[:n])
		}
		f.left -= int64(n)
		return n, f.left == 0, nil
	}
	used := 0
	for used < len(p) {
		switch f.state {
		case chunkData:
			n := int(min(f.left, int64(len(p)-used)))
			data(p[used : used+n])
			used += n
			if f.left -= int64(n); f.left == 0 {
				f.state = chunkDataEnd
			}
		case chunkSize, chunkDataEnd, chunkTrailer:
			line, n, ok := f.readLine(p[used:])
			used += n
			if !ok {
				if len(f.line) > 4096 {
					return used, false, errors.New("chunk line too long")
				}
				continue
			}
			switch f.state {
			case chunkDataEnd:
				if len(line) != 0 {
					return used, false, errors.New("malformed chunk")
				}
				f.state = chunkSize
			case chunkSize:
				size, _, _ := bytes.Cut(line, []byte(";"))
				v, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
				if err != nil || v < 0 {
					return used, false, errors.New("malformed chunk size")
				}
				if v == 0 {
					f.state = chunkTrailer
				} else {
					f.left, f.state = v, chunkData
				}
			case chunkTrailer:
				if len(line) == 0 {
					return used, true, nil
				}
			}
		}
	}
	return used, false, nil
}

// readLine takes one line (without its CRLF) from the start of p, joining a
// start kept from earlier reads. ok is false when p has no line end yet.
func (f *framer) readLine(p []byte) (line []byte, n int, ok bool) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		f.line = append(f.line, p...)
		return nil, len(p), false
	}
	line = p[:i]
	if len(f.line) > 0 {
		f.line = append(f.line, line...)
		line, f.line = f.line, nil
	}
	return bytes.TrimSuffix(line, []byte("\r")), i + 1, true
}
