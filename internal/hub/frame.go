package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
)

// Frame is one message on a stream. Data is the complete encoded JSON frame,
// ready to be written to a WebSocket as one text message:
//
//	{"stream":"service/web/logs","seq":17,"payload":{…}}
//
// Data is encoded once, when the frame is published, and shared by every
// subscriber and by the stream's retained tail: nobody may modify it.
//
// Frames of data streams have Seq ≥ 1. Frames on StreamControl (the hub's
// notices and the server's replies) have Seq 0 and no "seq" member.
type Frame struct {
	Stream string
	Seq    uint64
	Data   []byte
}

// ControlFrame returns a frame on StreamControl whose payload is v encoded
// with encoding/json: {"stream":"control","payload":<v>}. The server uses it
// for its replies (see Reply); the hub for its notices (see Notice).
func ControlFrame(v any) (Frame, error) {
	p, err := json.Marshal(v)
	if err != nil {
		return Frame{}, fmt.Errorf("encode control frame: %w", err)
	}
	data := make([]byte, 0, len(controlPrefix)+len(p)+1)
	data = append(data, controlPrefix...)
	data = append(data, p...)
	data = append(data, '}')
	return Frame{Stream: StreamControl, Data: data}, nil
}

const controlPrefix = `{"stream":"control","payload":`

// framePrefix returns the start of every frame of stream name, up to the
// sequence number: {"stream":"<name>","seq":. Valid stream names need no
// escaping in JSON.
func framePrefix(name string) []byte {
	return []byte(`{"stream":"` + name + `","seq":`)
}

// appendFrame appends the frame prefix+seq+payload to dst.
func appendFrame(dst, prefix []byte, seq uint64, payload []byte) []byte {
	dst = append(dst, prefix...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"payload":`...)
	dst = append(dst, payload...)
	return append(dst, '}')
}

// frameLen is an upper bound of the length of the frame appendFrame makes.
func frameLen(prefix, payload []byte) int {
	return len(prefix) + 20 + len(`,"payload":`) + len(payload) + 1
}

// JSONAppender is a payload that encodes itself: AppendJSON appends its JSON
// to dst and returns the result. Publish takes it unchecked, as a
// json.RawMessage (the publisher vouches for it), and calls AppendJSON only
// when a frame is made: not for a live-only stream nobody watches.
type JSONAppender interface {
	AppendJSON(dst []byte) []byte
}

// encoder is a reusable JSON encoder of payloads.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// encodePayload encodes v as encoding/json.Marshal does (a json.RawMessage
// as it is, a JSONAppender as it appends itself), into a pooled buffer. The result is valid until e.release is called.
func encodePayload(v any) (p []byte, e *encoder, err error) {
	e = encoders.Get().(*encoder)
	e.buf.Reset()
	if raw, ok := v.(json.RawMessage); ok {
		// Already JSON (Hub.Publish): encoding/json would scan it again.
		e.buf.Write(raw)
		return e.buf.Bytes(), e, nil
	}
	if a, ok := v.(JSONAppender); ok {
		e.buf.Write(a.AppendJSON(e.buf.AvailableBuffer()))
		return e.buf.Bytes(), e, nil
	}
	if err := e.enc.Encode(v); err != nil {
		e.release()
		return nil, nil, err
	}
	b := e.buf.Bytes()
	return b[:len(b)-1], e, nil // Encode adds a newline
}

// release returns e to the pool, unless it has grown too big to keep.
func (e *encoder) release() {
	if e.buf.Cap() <= 64<<10 {
		encoders.Put(e)
	}
}

// Notice operations: the hub's notices to a subscriber, on StreamControl.
const (
	// OpMissed: the subscriber's queue was full, and the frames From…To
	// (Count of them) of Stream were not delivered. Frames after To follow.
	OpMissed = "missed"
	// OpGap: a subscription asked to resume after Since, but the stream's
	// retained tail holds only First…Last (First is 0 when it holds nothing;
	// Since > Last means the stream restarted its numbering). Nothing was
	// replayed; live frames continue after Last.
	OpGap = "gap"
)

// Notice is the payload of a notice frame the hub puts in a subscriber's
// queue, in order with the stream's data frames:
//
//	{"stream":"control","payload":{"op":"missed","stream":"service/web/logs","from":1200,"to":1450,"count":251}}
//	{"stream":"control","payload":{"op":"gap","stream":"job/42","since":17,"first":1025,"last":2048}}
//
// Only the members of its Op are encoded.
type Notice struct {
	Op     string
	Stream string
	// From, To and Count are set for OpMissed.
	From, To, Count uint64
	// Since, First and Last are set for OpGap.
	Since, First, Last uint64
}

type missedPayload struct {
	Op     string `json:"op"`
	Stream string `json:"stream"`
	From   uint64 `json:"from"`
	To     uint64 `json:"to"`
	Count  uint64 `json:"count"`
}

type gapPayload struct {
	Op     string `json:"op"`
	Stream string `json:"stream"`
	Since  uint64 `json:"since"`
	First  uint64 `json:"first"`
	Last   uint64 `json:"last"`
}

// Frame returns the notice as a frame on StreamControl. It panics if n.Op
// is not OpMissed or OpGap.
func (n Notice) Frame() Frame {
	var v any
	switch n.Op {
	case OpMissed:
		v = missedPayload{n.Op, n.Stream, n.From, n.To, n.Count}
	case OpGap:
		v = gapPayload{n.Op, n.Stream, n.Since, n.First, n.Last}
	default:
		panic("hub: unknown notice op " + strconv.Quote(n.Op))
	}
	f, err := ControlFrame(v)
	if err != nil { // structs of strings and integers always encode
		panic(err)
	}
	return f
}

// ParseNotice returns the notice that f carries, and false if f is not a
// notice (a data frame, or a control frame of another op).
func ParseNotice(f Frame) (Notice, bool) {
	if f.Stream != StreamControl {
		return Notice{}, false
	}
	var env struct {
		Payload struct {
			Op     string `json:"op"`
			Stream string `json:"stream"`
			From   uint64 `json:"from"`
			To     uint64 `json:"to"`
			Count  uint64 `json:"count"`
			Since  uint64 `json:"since"`
			First  uint64 `json:"first"`
			Last   uint64 `json:"last"`
		} `json:"payload"`
	}
	if json.Unmarshal(f.Data, &env) != nil {
		return Notice{}, false
	}
	p := env.Payload
	if p.Op != OpMissed && p.Op != OpGap {
		return Notice{}, false
	}
	return Notice{Op: p.Op, Stream: p.Stream, From: p.From, To: p.To, Count: p.Count,
		Since: p.Since, First: p.First, Last: p.Last}, true
}
