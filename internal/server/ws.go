package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
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
// forwarder per subscribed log stream. The handler goroutine owns it.
type wsConn struct {
	s    *Server
	conn *websocket.Conn
	sub  *hub.Subscriber
	user string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex                    // guards logs and done
	logs map[string]context.CancelFunc // log stream (or notifications) → its forwarder
	done map[string]chan struct{}      // log stream → closed when its forwarder has returned
}

func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	// The Origin allow-list is the guard's job (and the Unix socket is trusted).
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	conn.SetReadLimit(wsReadLimit)
	ctx, cancel := context.WithCancel(r.Context())
	c := &wsConn{s: s, conn: conn, sub: hub.NewSubscriber(s.queueSize), user: UserOf(r.Context()), ctx: ctx, cancel: cancel, logs: map[string]context.CancelFunc{}, done: map[string]chan struct{}{}}
	defer func() {
		cancel()
		c.sub.Close()
		s.hub.Unsubscribe(c.sub, nil)
		c.wg.Wait()
		conn.CloseNow()
	}()
	s.track(c, true)
	defer s.track(c, false)
	c.wg.Add(1)
	go c.writeHub()
	c.read()
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
				c.reply(fe.Reply(nil))
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
	if c.sub.Send(f) != nil {
		c.cancel()
	}
}

func (c *wsConn) subscribe(ctl hub.Control) {
	var hubStreams []string
	for i, st := range ctl.Streams {
		if msg := c.s.checkStream(st); msg != "" {
			r := (&hub.FrameError{Field: fieldIndex("streams", i), Message: msg}).Reply(ctl.ID)
			c.reply(r)
			return
		}
	}
	for i, st := range ctl.Streams {
		if msg := c.watchJobStream(st); msg != "" {
			c.reply((&hub.FrameError{Field: fieldIndex("streams", i), Message: msg}).Reply(ctl.ID))
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
	tail := 0
	if resume {
		tail = -1
	}
	sub, err := l.Subscribe(logs.SubscribeOptions{Tail: tail, Follow: true})
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
		// Writes use the connection's context: cancelling a write closes
		// the connection, and unsubscribing must not.
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

// write sends one message; a client that cannot take it within the write
// timeout is disconnected with a reason, never waited on longer.
func (c *wsConn) write(ctx context.Context, b []byte) bool {
	if !writeOrDrop(ctx, c.conn, websocket.MessageText, b) {
		c.cancel()
		return false
	}
	return true
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

// writeHub writes the hub subscriber's frames (data, replies, notices).
// Frames that queued up while a write was in flight go out together, in one
// message, separated by newlines: one system call and one write deadline
// for many frames when the client has a backlog.
func (c *wsConn) writeHub() {
	defer c.wg.Done()
	defer c.cancel()
	var batch []byte
	for {
		f, err := c.sub.Next(c.ctx)
		if err != nil {
			if errors.Is(err, hub.ErrOverflow) {
				c.conn.Close(closeTooSlow, "client too slow: control replies piled up")
			}
			return
		}
		batch = append(batch[:0], f.Data...)
		for len(batch) < wsMaxBatchBytes {
			g, ok := c.sub.TryNext()
			if !ok {
				break
			}
			batch = append(batch, '\n')
			batch = append(batch, g.Data...)
		}
		if !c.write(c.ctx, batch) {
			return
		}
		if cap(batch) > 4*wsMaxBatchBytes {
			batch = nil // do not keep a huge buffer for an idle connection
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
// connection a stack), pinging all connections every wsPingEvery, each ping
// in a short-lived goroutine. It returns when ctx ends, after its pings.
func (s *Server) pingLoop(ctx context.Context) {
	t := time.NewTicker(wsPingEvery)
	defer t.Stop()
	var pings sync.WaitGroup
	defer pings.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		conns := make([]*wsConn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
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
	}
}
