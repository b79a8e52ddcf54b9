package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/hub"
)

// Frame is one frame received on the WebSocket: a data frame (Seq > 0) or a
// control frame (stream "control": replies and notices).
type Frame struct {
	Stream  string          `json:"stream"`
	Seq     uint64          `json:"seq,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

// Control is the payload of a control frame.
type Control struct {
	Op      string   `json:"op"`
	Streams []string `json:"streams,omitempty"`
	Stream  string   `json:"stream,omitempty"`
	Code    string   `json:"code,omitempty"`
	Field   string   `json:"field,omitempty"`
	Message string   `json:"message,omitempty"`
	From    uint64   `json:"from,omitempty"`
	To      uint64   `json:"to,omitempty"`
	Count   uint64   `json:"count,omitempty"`
	Since   uint64   `json:"since,omitempty"`
	First   uint64   `json:"first,omitempty"`
	Last    uint64   `json:"last,omitempty"`
}

// WS is a multiplexed WebSocket connection to the engine: one socket, many
// streams. Next must be called from one goroutine; Subscribe and Close are
// safe to call concurrently with it.
type WS struct {
	conn    *websocket.Conn
	pending [][]byte
}

// DialWS opens the API's WebSocket over the engine's Unix socket.
func (c *Client) DialWS(ctx context.Context) (*WS, error) {
	return DialWS(ctx, "ws://berth/api/ws", &websocket.DialOptions{HTTPClient: c.http})
}

// DialWS opens a WebSocket at url (e.g. ws://127.0.0.1:PORT/api/ws?token=T).
func DialWS(ctx context.Context, url string, opts *websocket.DialOptions) (*WS, error) {
	conn, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		if resp != nil && resp.StatusCode >= 300 {
			return nil, &Error{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: fmt.Sprintf("open %s: %s", url, resp.Status)}
		}
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
	conn.SetReadLimit(16 << 20)
	return &WS{conn: conn}, nil
}

// Subscribe asks for streams; since maps streams to the last seq the caller
// has (resume without gap). The answer arrives through Next.
func (w *WS) Subscribe(ctx context.Context, streams []string, since map[string]uint64) error {
	b, err := hub.EncodeControl(hub.Control{Op: hub.OpSubscribe, Streams: streams, Since: since})
	if err != nil {
		return err
	}
	return w.conn.Write(ctx, websocket.MessageText, b)
}

// Unsubscribe stops streams.
func (w *WS) Unsubscribe(ctx context.Context, streams []string) error {
	b, err := hub.EncodeControl(hub.Control{Op: hub.OpUnsubscribe, Streams: streams})
	if err != nil {
		return err
	}
	return w.conn.Write(ctx, websocket.MessageText, b)
}

// WriteRaw sends a raw message (tests of the server's validation).
func (w *WS) WriteRaw(ctx context.Context, b []byte) error {
	return w.conn.Write(ctx, websocket.MessageText, b)
}

// Next returns the next frame. A message may carry several frames,
// separated by newlines.
func (w *WS) Next(ctx context.Context) (Frame, error) {
	for len(w.pending) == 0 {
		_, b, err := w.conn.Read(ctx)
		if err != nil {
			return Frame{}, err
		}
		for _, part := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(part)) > 0 {
				w.pending = append(w.pending, part)
			}
		}
	}
	b := w.pending[0]
	w.pending = w.pending[1:]
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return Frame{}, fmt.Errorf("decode frame: %w", err)
	}
	return f, nil
}

// Control decodes the payload of a control frame.
func (f Frame) Control() (Control, bool) {
	if f.Stream != hub.StreamControl {
		return Control{}, false
	}
	var c Control
	if json.Unmarshal(f.Payload, &c) != nil {
		return Control{}, false
	}
	return c, true
}

// Close closes the connection normally.
func (w *WS) Close() error {
	return w.conn.Close(websocket.StatusNormalClosure, "")
}

// CloseStatus returns the close code of an error from Next (-1 if none).
func CloseStatus(err error) int {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code)
	}
	return -1
}
