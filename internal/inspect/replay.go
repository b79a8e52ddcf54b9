package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTruncated is returned by Replay for an exchange whose request body was
// not kept whole (over the cap): replaying a prefix would send a different
// request. Replay it with Edit.Body set.
var ErrTruncated = errors.New("request body was truncated when recorded")

// Edit changes a request before Replay sends it. A zero field keeps the
// original's.
type Edit struct {
	Method string // "PUT"
	Path   string // the request target, path and query: "/api/items?id=2"
	// Header replaces every request header, if not nil. A Host header in
	// it sets the request's Host.
	Header http.Header
	// Body replaces the body, if not nil; an empty non-nil Body sends none.
	Body []byte
}

// Replay sends exchange id's request again, changed by edit (nil for as-is),
// to the base URL that Options.Target gives for its service, with an
// ordinary HTTP client: redirects are not followed, cookies are not kept,
// nothing is added but what HTTP/1.1 needs (Host, Content-Length,
// Connection: close). It records the result as a new exchange with ReplayOf
// set to id, seen from the client's side (Remote is the client's address,
// Conn 0), and returns its ID.
//
// The attempt is recorded even when it fails (the target refused the
// connection, the response was cut short, ReplayTimeout passed): Replay then
// returns the new ID together with an error. An ID of 0 means nothing was
// recorded. A response that does not end (server-sent events) is cut at
// ReplayTimeout and recorded with what arrived. A replay sent through a port
// this Recorder inspects is recorded once, here, not also by the proxy.
func (r *Recorder) Replay(ctx context.Context, id int64, edit *Edit) (int64, error) {
	newID, err := r.replay.do(ctx, id, edit)
	if err != nil {
		return newID, fmt.Errorf("replay exchange %d: %w", id, err)
	}
	return newID, nil
}

// replayer sends replays and remembers the local addresses of its
// connections, so that Begin can skip them.
type replayer struct {
	r         *Recorder
	transport *http.Transport
	client    *http.Client
	dialer    net.Dialer

	nOwn atomic.Int32 // len(own), so that Begin takes no lock when there are none
	mu   sync.Mutex   // guards own
	own  map[string]int
}

func newReplayer(r *Recorder) *replayer {
	p := &replayer{r: r, own: map[string]int{}}
	p.transport = &http.Transport{
		Proxy:                 nil, // never HTTP_PROXY: the target is local
		DialContext:           p.dial,
		DisableKeepAlives:     true, // each replay on a connection of its own, closed after it
		DisableCompression:    true, // the body as the server sent it, as the proxy records it
		ResponseHeaderTimeout: 0,    // ctx bounds it
	}
	p.client = &http.Client{
		Transport: p.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return p
}

func (p *replayer) close() { p.transport.CloseIdleConnections() }

// isOwn reports whether remote is the local address of one of the
// replayer's open connections. It is called on the forwarding path.
func (p *replayer) isOwn(remote string) bool {
	if p.nOwn.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.own[remote] > 0
}

func (p *replayer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := p.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	local := c.LocalAddr().String()
	p.mu.Lock()
	p.own[local]++
	p.nOwn.Store(int32(len(p.own)))
	p.mu.Unlock()
	return &ownConn{Conn: c, release: func() {
		p.mu.Lock()
		if p.own[local]--; p.own[local] <= 0 {
			delete(p.own, local)
		}
		p.nOwn.Store(int32(len(p.own)))
		p.mu.Unlock()
	}}, nil
}

// ownConn forgets its local address when closed.
type ownConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *ownConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// hopHeaders are removed from a replayed request: they describe the
// original connection, and the client sets its own.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length",
}

func (p *replayer) do(ctx context.Context, id int64, edit *Edit) (int64, error) {
	r := p.r
	parent := ctx
	if r.closed.Load() {
		return 0, ErrClosed
	}
	if edit == nil {
		edit = &Edit{}
	}
	orig, err := r.sink.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	if orig.Upgraded && edit.Header == nil {
		return 0, errors.New("a WebSocket (upgraded) exchange cannot be replayed as it was")
	}
	if r.opts.Target == nil {
		return 0, fmt.Errorf("no replay target for service %q", orig.Service)
	}
	base, err := r.opts.Target(orig.Service)
	if err != nil {
		return 0, fmt.Errorf("replay target for service %q: %w", orig.Service, err)
	}

	method := orig.Request.Method
	if edit.Method != "" {
		method = edit.Method
	}
	target, err := originForm(orig.Request.Target)
	if err != nil {
		return 0, err
	}
	if edit.Path != "" {
		target = edit.Path
	}
	if !strings.HasPrefix(target, "/") {
		return 0, fmt.Errorf("path %q: must start with /", target)
	}
	body := orig.Request.Body
	switch {
	case edit.Body != nil:
		body = edit.Body
	case orig.Request.Truncated:
		return 0, fmt.Errorf("%w (%d of %d bytes kept): edit the body to replay it", ErrTruncated, len(orig.Request.Body), orig.Request.Size)
	}
	header := orig.Request.Header.Clone()
	if edit.Header != nil {
		header = edit.Header.Clone()
	}
	if header == nil {
		header = http.Header{}
	}
	host := orig.Request.Host
	if h := header.Get("Host"); h != "" {
		host = h
	}
	header.Del("Host")
	for _, name := range header.Values("Connection") {
		for _, n := range strings.Split(name, ",") {
			header.Del(strings.TrimSpace(n))
		}
	}
	for _, h := range hopHeaders {
		header.Del(h)
	}

	ctx, cancel := context.WithTimeout(ctx, r.opts.ReplayTimeout)
	defer cancel()
	stop := context.AfterFunc(r.ctx, cancel) // Close ends replays in flight
	defer stop()

	u := strings.TrimRight(base, "/") + target
	var rbody io.Reader = http.NoBody
	if len(body) > 0 {
		rbody = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rbody)
	if err != nil {
		return 0, err
	}
	req.Host = host
	req.Header = header.Clone()
	if _, ok := header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""} // send none, as the original did
	}

	ex := &Exchange{
		ReplayOf: orig.ID,
		Service:  orig.Service,
		Request: Request{
			Method: method,
			Target: target,
			Proto:  "HTTP/1.1",
			Host:   host,
			Header: header,
			Body:   keepPrefix(body, r.BodyCap()),
			Size:   int64(len(body)),
		},
	}
	ex.Request.Truncated = len(ex.Request.Body) < len(body)
	var mu sync.Mutex // guards ex.Remote and ex.FirstByte, set by trace hooks
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			ex.Remote = info.Conn.LocalAddr().String()
			mu.Unlock()
		},
		GotFirstResponseByte: func() {
			mu.Lock()
			ex.FirstByte = time.Now()
			mu.Unlock()
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))

	ex.Start = time.Now()
	resp, doErr := p.client.Do(req)
	if doErr == nil {
		ex.Response = Response{
			Proto:  resp.Proto,
			Status: resp.StatusCode,
			Reason: strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)+" "),
			Header: resp.Header,
		}
		c := &capped{limit: r.BodyCap()}
		_, doErr = io.Copy(c, resp.Body)
		resp.Body.Close()
		ex.Response.Body = c.buf
		ex.Response.Size = c.total
		ex.Response.Truncated = c.total > int64(len(c.buf))
	}
	ex.End = time.Now()
	mu.Lock()
	if doErr != nil {
		ex.Error = doErr.Error()
	}
	mu.Unlock()

	newID, err := r.storeNow(parent, ex)
	if err != nil {
		return 0, errors.Join(doErr, err)
	}
	if doErr != nil {
		return newID, doErr
	}
	return newID, nil
}

// originForm returns target as a path and query: an absolute-form target
// ("http://host/x?y", sent to a forward proxy) loses its scheme and host.
func originForm(target string) (string, error) {
	if strings.HasPrefix(target, "/") {
		return target, nil
	}
	if target == "*" {
		return "", errors.New("an OPTIONS * request cannot be replayed")
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("request target %q: not a path or absolute URL", target)
	}
	return u.RequestURI(), nil
}

// storeNow hands ex to the Recorder's goroutine, ahead of nothing but what is
// already queued, and waits until it is stored. ctx bounds the wait for room
// in the queue and for the store.
func (r *Recorder) storeNow(ctx context.Context, ex *Exchange) (int64, error) {
	done := make(chan error, 1)
	select {
	case r.q <- item{ex: ex, flushed: done}:
		r.hasten()
	case <-r.stop:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case err := <-done:
		if err != nil {
			return 0, err
		}
		return ex.ID, nil
	case <-r.done:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// keepPrefix returns a copy of at most limit bytes of b.
func keepPrefix(b []byte, limit int) []byte {
	if len(b) == 0 || limit <= 0 {
		return nil
	}
	return bytes.Clone(b[:min(len(b), limit)])
}

// capped is an io.Writer that keeps the first limit bytes and counts all.
type capped struct {
	buf   []byte
	limit int
	total int64
}

func (c *capped) Write(p []byte) (int, error) {
	c.total += int64(len(p))
	if n := min(c.limit-len(c.buf), len(p)); n > 0 {
		c.buf = append(c.buf, p[:n]...)
	}
	return len(p), nil
}
