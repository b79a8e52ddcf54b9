package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/logs"
)

// WebSocket limits.
const (
	wsReadLimit    = 128 << 10
	wsWriteTimeout = 10 * time.Second
	wsPingEvery    = 20 * time.Second
	// wsWatchEvery is how often the pinger looks for writes stuck for
	// longer than wsWriteTimeout: a stalled client is dropped between
	// wsWriteTimeout and wsWriteTimeout+wsWatchEvery after its write began.
	wsWatchEvery = time.Second
	// wsReadBuffer and wsWriteBuffer size the buffers a connection keeps
	// for its life, in place of net/http's 4 KiB each: a client sends few,
	// small messages, and a message longer than the write buffer costs one
	// more write(2), not a copy.
	wsReadBuffer  = 256
	wsWriteBuffer = 2048
	// wsMaxLogBatch bounds how many log lines go into one WebSocket message.
	wsMaxLogBatch = 512
	// wsMaxBatchBytes bounds how many bytes of queued hub frames are joined
	// into one WebSocket message.
	wsMaxBatchBytes = 64 << 10
)

// Close codes berth uses (4000-4999 are the application's).
const (
	closeTooSlow = websocket.StatusCode(4008)
)

// LogPayload is the payload of a frame on service/<name>/logs; the frame's
// seq is the line's sequence number in the service's log.
type LogPayload struct {
	Replica int       `json:"replica"`
	Stream  string    `json:"stream"`
	Time    time.Time `json:"time"`
	Text    string    `json:"text"`
}

// wsConn is one client connection: a hub subscriber for hub streams, plus one
// forwarder per subscribed log stream. The goroutine running serveWS owns it.
//
// The hub subscriber's frames are written by the server's wsFlusher
// workers, or by a goroutine of the connection's own while its client reads
// slowly (see ready, turn and flush): an idle connection has one goroutine,
// which reads.
//
// Writes have no context and no deadline of their own, which would cost a
// timer per write: the server's pinger drops a connection whose write has
// not completed within wsWriteTimeout (see stalled).
type wsConn struct {
	s    *Server
	conn *websocket.Conn
	sub  *hub.Subscriber
	user string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// writes counts the writes in progress; since is when the oldest of
	// them began, or when the last one completed (Unix ns).
	writes  atomic.Int32
	since   atomic.Int64
	dropped atomic.Bool // the pinger dropped the connection as too slow
	// inTurn is the kind of wsFlusher goroutine (turnWorker, turnHelper)
	// writing this connection's frames, if any; slow is set once one of its
	// writes had to wait for the client (see wsNetConn.blocked). Whoever
	// clears inTurn takes that goroutine out of the workers
	// (wsFlusher.leave).
	inTurn atomic.Int32
	slow   atomic.Bool
	// pending is a frame a worker took but left to flush to write.
	pending *hub.Frame
	// mayWait is set when a write cannot be tried without waiting (no
	// syscall.Conn): then no worker writes to the connection.
	mayWait bool

	mu       sync.Mutex                    // guards logs, done, flushing and closing
	logs     map[string]context.CancelFunc // log stream (or notifications) → its forwarder
	done     map[string]chan struct{}      // log stream → closed when its forwarder has returned
	flushing bool                          // queued for a worker, or being written (turn, flush)
	closing  bool                          // the connection is ending: queue it no more
}

func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	socks, _ := r.Context().Value(wsSocketsKey{}).(*wsSockets)
	if socks != nil && !socks.add() {
		http.Error(w, "the server is shutting down", http.StatusServiceUnavailable)
		return
	}
	// The Origin allow-list is the guard's job (and the Unix socket is trusted).
	hj := &wsHijacker{ResponseWriter: w}
	conn, err := websocket.Accept(hj, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		if socks != nil {
			socks.wg.Done()
		}
		return
	}
	user := UserOf(r.Context())
	if socks == nil {
		// Served by another http.Server than Serve's: the request's
		// goroutine serves the socket.
		s.serveWS(r.Context(), conn, hj.nc, user)
		return
	}
	// The handler returns, so that net/http lets go of the request, its
	// buffers and its goroutine's stack; the socket gets a goroutine of its
	// own, which ends with Serve and which Serve waits for.
	go func() {
		defer socks.wg.Done()
		s.serveWS(socks.ctx, conn, hj.nc, user)
	}()
}

// wsSockets is the WebSockets of one Serve. Their goroutines outlive the
// handlers that upgraded them; they end with ctx, which ends when Serve
// returns, and Serve waits for them (close).
type wsSockets struct {
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu     sync.Mutex // guards closed, and orders wg.Add before wg.Wait
	closed bool
}

// wsSocketsKey is the key of a Serve's *wsSockets in its requests' contexts.
type wsSocketsKey struct{}

func newWSSockets(ctx context.Context) *wsSockets {
	ws := &wsSockets{}
	ws.ctx, ws.stop = context.WithCancel(ctx)
	return ws
}

// add counts one more socket, unless close has been called.
func (ws *wsSockets) add() bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		return false
	}
	ws.wg.Add(1)
	return true
}

// close ends every socket and waits for their goroutines.
func (ws *wsSockets) close() {
	ws.mu.Lock()
	ws.closed = true
	ws.mu.Unlock()
	ws.stop()
	ws.wg.Wait()
}

// serveWS reads the client's requests until the connection or ctx ends,
// then closes the connection and waits for the goroutines it started.
func (s *Server) serveWS(ctx context.Context, conn *websocket.Conn, nc *wsNetConn, user string) {
	conn.SetReadLimit(wsReadLimit)
	ctx, cancel := context.WithCancel(ctx)
	c := &wsConn{s: s, conn: conn, sub: hub.NewSubscriber(s.queueSize), user: user, ctx: ctx, cancel: cancel, logs: map[string]context.CancelFunc{}, done: map[string]chan struct{}{}}
	if nc != nil && nc.raw != nil {
		nc.blocked = c.blocked
	} else {
		c.mayWait = true
	}
	c.sub.OnReady(c.ready)
	s.track(c, true)
	defer s.live.add(user, conn)()
	defer func() {
		cancel()
		c.sub.Close()
		s.hub.Unsubscribe(c.sub, nil)
		c.mu.Lock()
		c.closing = true
		c.mu.Unlock()
		// Writes have no context: closing the connection is what ends one
		// in progress, so it comes before the wait.
		conn.CloseNow()
		c.wg.Wait()
		s.track(c, false)
	}()
	c.read()
}

// wsHijacker hands websocket.Accept the hijacked connection wrapped in a
// wsNetConn, with small buffers instead of net/http's (4 KiB each), which the
// WebSocket library keeps for the life of the connection.
type wsHijacker struct {
	http.ResponseWriter
	nc *wsNetConn // set by Hijack
}

func (w *wsHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return conn, brw, err
	}
	if err := brw.Writer.Flush(); err != nil { // net/http has flushed the 101 response: a no-op
		conn.Close()
		return nil, nil, err
	}
	rd := brw.Reader
	if rd.Buffered() == 0 { // a client waits for the upgrade before it sends
		rd = bufio.NewReaderSize(conn, wsReadBuffer)
	}
	w.nc = &wsNetConn{Conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		w.nc.raw, _ = sc.SyscallConn()
	}
	return w.nc, bufio.NewReadWriter(rd, bufio.NewWriterSize(w.nc, wsWriteBuffer)), nil
}

func (w *wsHijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wsNetConn is a WebSocket's network connection. Its Write first tries
// without waiting; when the socket is full, it calls blocked (which takes
// the writing goroutine out of the shared workers) and then waits as usual.
// So a client that reads slowly holds up only its own writer.
//
// Writes are serialized by the WebSocket library (one frame at a time).
type wsNetConn struct {
	net.Conn
	raw     syscall.RawConn // nil: no write without waiting
	blocked func()          // set before the connection is used

	// The write in progress, for rawWrite (see Write).
	p     []byte
	n     int
	err   error
	write func(fd uintptr) bool // rawWrite, allocated once
}

func (nc *wsNetConn) Write(p []byte) (int, error) {
	if nc.raw == nil {
		return nc.Conn.Write(p)
	}
	if nc.write == nil {
		nc.write = nc.rawWrite
	}
	nc.p, nc.n, nc.err = p, 0, nil
	if err := nc.raw.Write(nc.write); err != nil {
		return 0, err
	}
	n, err := nc.n, nc.err
	nc.p = nil
	if n == len(p) {
		return n, nil
	}
	if err != nil && !errors.Is(err, syscall.EAGAIN) {
		return n, err
	}
	if nc.blocked != nil {
		nc.blocked()
	}
	m, err := nc.Conn.Write(p[n:])
	return n + m, err
}

// rawWrite makes one write(2) of nc.p, without waiting.
func (nc *wsNetConn) rawWrite(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), nc.p[nc.n:])
		if n > 0 {
			nc.n += n
		}
		if err == syscall.EINTR {
			continue
		}
		nc.err = err
		return true
	}
}

// read handles the client's control frames until the connection ends.
func (c *wsConn) read() {
	for {
		typ, b, err := c.conn.Read(c.ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			c.reply(hub.Reply{Op: hub.OpError, Code: hub.CodeBadFrame, Message: "frames are JSON text messages"})
			continue
		}
		ctl, err := hub.DecodeControl(b)
		if err != nil {
			var fe *hub.FrameError
			if errors.As(err, &fe) {
				c.reply(fe.Reply())
			}
			continue
		}
		switch ctl.Op {
		case hub.OpSubscribe:
			c.subscribe(ctl)
		case hub.OpUnsubscribe:
			c.unsubscribe(ctl)
		}
	}
}

func (c *wsConn) reply(r hub.Reply) {
	f, err := r.Frame()
	if err != nil {
		return
	}
	// On ErrOverflow the writer closes the connection with a reason.
	if err := c.sub.Send(f); err != nil && !errors.Is(err, hub.ErrOverflow) {
		c.cancel()
	}
}

func (c *wsConn) subscribe(ctl hub.Control) {
	var hubStreams []string
	for i, st := range ctl.Streams {
		if msg := c.s.checkStream(st); msg != "" {
			r := (&hub.FrameError{Field: fieldIndex("streams", i), Message: msg, ID: ctl.ID}).Reply()
			c.reply(r)
			return
		}
	}
	for i, st := range ctl.Streams {
		if msg := c.watchJobStream(st); msg != "" {
			c.reply((&hub.FrameError{Field: fieldIndex("streams", i), Message: msg, ID: ctl.ID}).Reply())
			return
		}
	}
	for _, st := range ctl.Streams {
		if st == hub.StreamNotifications {
			c.mu.Lock()
			if _, ok := c.logs[st]; !ok {
				ctx, stop := context.WithCancel(c.ctx)
				c.logs[st] = stop
				c.wg.Add(1)
				go c.deliverNotifications(ctx)
			}
			c.mu.Unlock()
			continue
		}
		if svc, ok := logStream(st); ok {
			since, resume := ctl.Since[st]
			if !resume && c.followingLog(st) {
				continue // as for hub streams: no since, no change
			}
			c.followLog(st, svc, since, resume)
			continue
		}
		hubStreams = append(hubStreams, st)
	}
	if len(hubStreams) > 0 {
		if err := c.s.hub.Subscribe(c.sub, hubStreams, ctl.Since); err != nil {
			c.reply(hub.Reply{Op: hub.OpError, ID: ctl.ID, Code: hub.CodeBadFrame, Message: err.Error()})
			return
		}
	}
	c.reply(hub.Reply{Op: hub.OpSubscribed, ID: ctl.ID, Streams: ctl.Streams})
}

func (c *wsConn) unsubscribe(ctl hub.Control) {
	var hubStreams []string
	for _, st := range ctl.Streams {
		if _, ok := logStream(st); ok || st == hub.StreamNotifications {
			c.mu.Lock()
			if stop, ok := c.logs[st]; ok {
				stop()
				delete(c.logs, st)
			}
			c.mu.Unlock()
			continue
		}
		hubStreams = append(hubStreams, st)
	}
	if len(hubStreams) > 0 {
		c.s.hub.Unsubscribe(c.sub, hubStreams)
	}
	c.reply(hub.Reply{Op: hub.OpUnsubscribed, ID: ctl.ID, Streams: ctl.Streams})
}

// checkStream says why a client may not subscribe to st ("" when it may).
func (s *Server) checkStream(st string) string {
	if svc, ok := strings.CutPrefix(st, "service/"); ok {
		name := svc[:strings.IndexByte(svc, '/')]
		if _, err := s.eng.Log(name); err != nil {
			return err.Error()
		}
	}
	return ""
}

func logStream(st string) (service string, ok bool) {
	rest, ok := strings.CutPrefix(st, "service/")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "/logs")
}

func fieldIndex(name string, i int) string {
	b, _ := json.Marshal(i)
	return name + "[" + string(b) + "]"
}

// followingLog reports whether a forwarder of the log stream is running.
func (c *wsConn) followingLog(stream string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.logs[stream]; !ok {
		return false
	}
	select {
	case <-c.done[stream]:
		return false
	default:
		return true
	}
}

// followLog forwards a service's log lines as frames. With resume, lines
// after since come first (from disk if need be); otherwise only new lines.
func (c *wsConn) followLog(stream, service string, since uint64, resume bool) {
	l, err := c.s.eng.Log(service)
	if err != nil {
		return
	}
	opts := logs.SubscribeOptions{Follow: true}
	if resume {
		opts.Tail, opts.After = -1, since // from disk, the files before since unread
	}
	sub, err := l.Subscribe(opts)
	if err != nil {
		c.reply(hub.Reply{Op: hub.OpError, Code: hub.CodeBadFrame, Field: "streams", Message: err.Error()})
		return
	}
	ctx, stop := context.WithCancel(c.ctx)
	done := make(chan struct{})
	c.mu.Lock()
	if old, ok := c.logs[stream]; ok {
		old()
	}
	prev := c.done[stream]
	c.logs[stream] = stop
	c.done[stream] = done
	c.mu.Unlock()
	prefix := []byte(`{"stream":` + jsonString(stream) + `,"seq":`)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(done)
		defer sub.Close()
		if prev != nil {
			// A forwarder this one replaces (a subscribe again with since)
			// finishes its message first: the stream's frames stay in order.
			<-prev
		}
		// Unsubscribing stops the forwarder after the message in progress:
		// cutting a write short would end the connection.
		write := func(b []byte) bool { return c.write(c.ctx, b) && ctx.Err() == nil }
		var buf bytes.Buffer
		for {
			lines, missed, err := sub.Next(ctx)
			buf.Reset()
			if missed > 0 {
				n := hub.Notice{Op: "missed", Stream: stream, Count: missed}
				if len(lines) > 0 {
					n.From, n.To = lines[0].Seq-missed, lines[0].Seq-1
				}
				buf.Write(n.Frame().Data)
			}
			count := 0
			for _, ln := range lines {
				if resume && ln.Seq <= since {
					continue
				}
				if count > 0 || buf.Len() > 0 {
					buf.WriteByte('\n')
				}
				appendLogFrame(&buf, prefix, ln)
				count++
				if count == wsMaxLogBatch {
					if !write(buf.Bytes()) {
						return
					}
					buf.Reset()
					count = 0
				}
			}
			if buf.Len() > 0 && !write(buf.Bytes()) {
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

func appendLogFrame(buf *bytes.Buffer, prefix []byte, ln logs.Line) {
	stream := "stdout"
	if ln.Stream == logs.Stderr {
		stream = "stderr"
	}
	payload, _ := json.Marshal(LogPayload{Replica: ln.Replica, Stream: stream, Time: ln.Time, Text: string(ln.Text)})
	buf.Write(prefix)
	b, _ := json.Marshal(ln.Seq)
	buf.Write(b)
	buf.WriteString(`,"payload":`)
	buf.Write(payload)
	buf.WriteByte('}')
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// write sends one message unless ctx has ended. A client that does not
// take it within the write timeout is disconnected by the pinger (see
// stalled), never waited on longer. It reports success.
func (c *wsConn) write(ctx context.Context, b []byte) bool {
	if ctx.Err() != nil {
		return false
	}
	now := time.Now().UnixNano()
	if c.writes.Add(1) == 1 {
		c.since.Store(now)
	}
	err := c.conn.Write(context.Background(), websocket.MessageText, b)
	c.since.Store(time.Now().UnixNano())
	c.writes.Add(-1)
	if err != nil {
		c.cancel()
		return false
	}
	return true
}

// stalled reports whether a write has been in progress, with none
// completing, for longer than the write timeout at now (Unix ns).
func (c *wsConn) stalled(now int64) bool {
	return c.writes.Load() > 0 && now-c.since.Load() > int64(wsWriteTimeout)
}

// drop disconnects a client that has stopped reading. The close frame (code
// 4008) could not reach it: the write in progress is cut mid-message, so the
// client sees the connection end (1006 in a browser).
func (c *wsConn) drop() {
	if c.dropped.CompareAndSwap(false, true) {
		c.cancel()
		c.conn.CloseNow()
	}
}

// writeOrDrop writes one message within the write timeout; a peer that does
// not take it in time is disconnected. The close frame (code 4008) reaches it
// only when the socket can still carry it: a peer whose buffers are full sees
// the connection end (1006 in a browser). It reports success.
func writeOrDrop(ctx context.Context, conn *websocket.Conn, typ websocket.MessageType, b []byte) bool {
	wctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	if err := conn.Write(wctx, typ, b); err != nil {
		if ctx.Err() == nil {
			conn.Close(closeTooSlow, "client too slow: it did not read for 10s")
		}
		return false
	}
	return true
}

// ready is the hub subscriber's OnReady function: it queues the connection
// for a wsFlusher worker unless it is queued, being written, or ending.
// Each queued connection holds a count of c.wg until a writer is done with
// it, so that the handler waits for it.
func (c *wsConn) ready() {
	c.mu.Lock()
	if c.flushing || c.closing {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	c.wg.Add(1)
	c.mu.Unlock()
	c.s.flushers.add(c, true)
}

// blocked is called when a write to the connection has to wait for the
// client. If a worker is writing, it leaves the workers and stays with this
// connection (see turn).
func (c *wsConn) blocked() {
	c.slow.Store(true)
	if k := c.inTurn.Swap(turnNone); k != turnNone {
		c.s.flushers.leave(k)
	}
}

// wsFlusher writes the WebSockets' hub frames with a few worker goroutines
// (see wsMaxFlushers, and the helper) instead of one goroutine per
// connection: a fan-out to thousands of clients neither wakes thousands of
// goroutines nor keeps every processor busy, so the network, the publisher
// first, still gets one. Workers run while connections are queued, and take
// turns over them in order of arrival, one message each; a queued connection
// holds a count of its wsConn.wg, so the owner of the connection waits for
// the worker to be done with it. A worker whose write has to wait for a slow
// client leaves the workers (another one starts) and stays with that
// connection alone (wsConn.flush).
//
// Locks: a hub calls wsConn.ready with its stream lock held, so wsConn.mu
// comes after the hub's locks; wsFlusher.mu is taken with no other lock
// held.
type wsFlusher struct {
	mu      sync.Mutex // guards queue, head, running and helping
	queue   []*wsConn  // connections waiting for a worker, from queue[head]
	head    int
	running int  // workers, the helper aside
	helping bool // the helper runs
}

// wsMaxFlushers bounds the workers: fewer than GOMAXPROCS, so that a
// processor is left for the network. Go looks at the network only when a
// processor has nothing to run (or every 10 ms): with every processor busy
// writing, a publisher's requests would wait, and a steady fan-out would
// slow down its own publisher.
var wsMaxFlushers = max(1, runtime.GOMAXPROCS(0)-1)

// A helper is one more worker, when that makes GOMAXPROCS of them, started
// when connections are queued and all the workers are busy: it takes the
// free processor in slices of wsHelperSlice, and between two slices, while
// connections are still queued, sleeps wsHelperPause, which leaves the
// processor idle long enough for Go to look at the network (the publisher's
// next request). So a burst is written by every processor, and the
// publisher still waits at most a slice.
const (
	wsHelperSlice = 2 * time.Millisecond
	wsHelperPause = 200 * time.Microsecond
)

// wsCanHelp says whether there is a processor for a helper.
var wsCanHelp = runtime.GOMAXPROCS(0) > wsMaxFlushers

// Kinds of goroutine in a turn (wsConn.inTurn).
const (
	turnNone int32 = iota
	turnWorker
	turnHelper
)

// add queues c and starts a worker if there are fewer than wsMaxFlushers,
// or else, with help, the helper if it is not running. A worker queueing a
// connection again asks for no help: the helper would never stop.
func (f *wsFlusher) add(c *wsConn, help bool) {
	f.mu.Lock()
	f.queue = append(f.queue, c)
	kind := turnNone
	switch {
	case f.running < wsMaxFlushers:
		f.running++
		kind = turnWorker
	case help && wsCanHelp && !f.helping:
		f.helping = true
		kind = turnHelper
	}
	f.mu.Unlock()
	if kind != turnNone {
		go f.work(kind)
	}
}

// next returns the next queued connection, or nil (and the calling worker
// stops) when none is queued or the helper's slice has passed.
func (f *wsFlusher) next(kind int32, until time.Time) *wsConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.head == len(f.queue) || (kind == turnHelper && time.Now().After(until)) {
		if f.head == len(f.queue) {
			if cap(f.queue) > 1024 {
				f.queue = nil // let a burst's queue go
			}
			f.queue, f.head = f.queue[:0], 0
		}
		f.stopped(kind)
		return nil
	}
	c := f.queue[f.head]
	f.queue[f.head] = nil
	f.head++
	return c
}

// stopped records that a worker (or the helper) stopped. f.mu must be held.
func (f *wsFlusher) stopped(kind int32) {
	if kind == turnHelper {
		f.helping = false
	} else {
		f.running--
	}
}

// leave takes the calling goroutine out of the workers (or stops being the
// helper), and starts another worker if connections are queued.
func (f *wsFlusher) leave(kind int32) {
	f.mu.Lock()
	f.stopped(kind)
	start := f.head < len(f.queue) && f.running < wsMaxFlushers
	if start {
		f.running++
	}
	f.mu.Unlock()
	if start {
		go f.work(turnWorker)
	}
}

func (f *wsFlusher) work(kind int32) {
	for {
		var until time.Time
		if kind == turnHelper {
			until = time.Now().Add(wsHelperSlice)
		}
		for c := f.next(kind, until); c != nil; c = f.next(kind, until) {
			if !c.turn(kind) {
				// This goroutine left the workers: it writes c's frames
				// alone, with writes that may wait, until c is idle.
				c.flush()
				return
			}
		}
		if kind != turnHelper || !f.helpAgain() {
			return
		}
		time.Sleep(wsHelperPause)
	}
}

// helpAgain makes the calling goroutine, whose slice as the helper has
// passed, the helper again if connections are still queued and no other
// helper has started.
func (f *wsFlusher) helpAgain() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.head == len(f.queue) || f.helping {
		return false
	}
	f.helping = true
	return true
}

// turn writes one message of the connection's queued frames, on a worker.
// Then it queues the connection again if frames remain, or marks it idle.
// It reports false when the calling goroutine has left the workers and must
// go on with flush; c's count of c.wg goes with it.
func (c *wsConn) turn(kind int32) bool {
	f, ok, err := c.sub.Poll()
	if err != nil { // flushing stays set: the connection is ending
		if errors.Is(err, hub.ErrOverflow) {
			// The close handshake may wait for the client: not on a worker.
			go func() {
				defer c.wg.Done()
				c.conn.Close(closeTooSlow, "client too slow: control replies piled up")
				c.cancel()
			}()
			return true
		}
		c.cancel()
		c.wg.Done()
		return true
	}
	if !ok {
		if c.idle() {
			c.wg.Done()
		} else {
			c.s.flushers.add(c, false)
		}
		return true
	}
	c.inTurn.Store(kind)
	if c.mayWait || c.slow.Load() {
		// A write of this connection waited: leave it to a goroutine
		// of its own, which may wait too.
		if k := c.inTurn.Swap(turnNone); k != turnNone {
			c.s.flushers.leave(k)
		}
		c.pending = &f
		return false
	}
	ok = c.writeBatch(f)
	if c.inTurn.Swap(turnNone) == turnNone {
		return false // the write waited, and the worker left (blocked)
	}
	if !ok {
		c.wg.Done()
		return true
	}
	if c.sub.Ready() {
		c.s.flushers.add(c, false)
	} else if c.idle() {
		c.wg.Done()
	} else {
		c.s.flushers.add(c, false)
	}
	return true
}

// idle marks the connection as having no writer. It reports false, with
// the connection marked as being written again, when a frame arrived
// meanwhile (its ready saw the writer still there).
func (c *wsConn) idle() bool {
	c.mu.Lock()
	c.flushing = false
	c.mu.Unlock()
	if !c.sub.Ready() {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flushing || c.closing {
		return true // another writer has it, or none is wanted
	}
	c.flushing = true
	return false
}

// batchPool holds buffers for joining queued frames into one message.
var batchPool = sync.Pool{New: func() any { return new([]byte) }}

// writeBatch writes f and the frames queued behind it, up to
// wsMaxBatchBytes, in one message, separated by newlines: one system call
// for many frames when the client has a backlog. It reports success.
func (c *wsConn) writeBatch(f hub.Frame) bool {
	msg := f.Data
	var bp *[]byte
	for len(msg) < wsMaxBatchBytes {
		g, ok, err := c.sub.Poll()
		if !ok || err != nil {
			break // an error comes back from the next Poll
		}
		if bp == nil {
			bp = batchPool.Get().(*[]byte)
			msg = append(append((*bp)[:0], f.Data...), '\n')
		} else {
			msg = append(msg, '\n')
		}
		msg = append(msg, g.Data...)
	}
	ok := c.write(c.ctx, msg)
	if bp != nil && cap(msg) <= 4*wsMaxBatchBytes { // keep no huge buffer
		*bp = msg
		batchPool.Put(bp)
	}
	return ok
}

// flush writes the connection's queued frames, with writes that may wait
// for the client, until none is queued; then it marks the connection idle
// and releases its count of c.wg. A goroutine that left the wsFlusher
// workers runs it.
func (c *wsConn) flush() {
	defer c.wg.Done()
	if p := c.pending; p != nil {
		c.pending = nil
		if !c.writeBatch(*p) {
			return
		}
	}
	for {
		f, ok, err := c.sub.Poll()
		if err != nil {
			if errors.Is(err, hub.ErrOverflow) {
				c.conn.Close(closeTooSlow, "client too slow: control replies piled up")
			}
			c.cancel()
			return // flushing stays set: the connection is ending
		}
		if !ok {
			c.slow.Store(false) // caught up: workers may write again
			if c.idle() {
				return
			}
			continue
		}
		if !c.writeBatch(f) {
			return
		}
	}
}

// track adds or removes a connection from the set the pinger visits.
func (s *Server) track(c *wsConn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[*wsConn]struct{}{}
	}
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
}

// pingLoop keeps every WebSocket alive and notices dead peers: one goroutine
// for the whole server (not one per connection, which would cost each
// connection a stack). Every wsWatchEvery it drops the connections whose
// write is stuck (see wsConn.stalled); every wsPingEvery it pings all
// connections, each ping in a short-lived goroutine. It returns when ctx
// ends, after its pings.
func (s *Server) pingLoop(ctx context.Context) {
	t := time.NewTicker(wsWatchEvery)
	defer t.Stop()
	var pings sync.WaitGroup
	defer pings.Wait()
	var conns []*wsConn
	lastPing := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		conns = conns[:0]
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		now := time.Now()
		for _, c := range conns {
			if c.stalled(now.UnixNano()) {
				c.drop()
			}
		}
		if now.Sub(lastPing) < wsPingEvery {
			clear(conns)
			continue
		}
		lastPing = now
		for _, c := range conns {
			pings.Add(1)
			go func() {
				defer pings.Done()
				pctx, cancel := context.WithTimeout(c.ctx, wsWriteTimeout)
				defer cancel()
				if err := c.conn.Ping(pctx); err != nil {
					c.cancel()
				}
			}()
		}
		clear(conns)
	}
}
