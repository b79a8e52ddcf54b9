package proxy

import "time"

// Recorder receives the HTTP/1.1 exchanges that pass through a proxy in HTTP
// mode, for the inspector (list, detail, replay, HAR export).
//
// Options.Recorder turns the HTTP mode on; without it a Proxy only splices
// bytes. The HTTP mode keeps this contract:
//
//   - The proxy reads each request head and response head as the bytes
//     pass, for what frames the message, and hands it over as received
//     (RequestHead.Head, ResponseHead.Head; ParseHead parses one). It frames
//     bodies (Content-Length, chunked, close-delimited) to find where the
//     next exchange of a keep-alive connection starts. It never
//     buffers a whole body: body bytes are handed to the Exchange in the
//     chunks in which they are forwarded, just before they are written on
//     (so calls follow the order of events across the two directions), with
//     the chunked framing removed and any content coding (gzip, br) kept.
//     A Recorder that wants a body keeps it, or a bounded prefix of it,
//     itself.
//   - For one exchange the calls come in order: Begin, then RequestBody,
//     Response and ResponseBody as the bytes arrive (a response may start
//     before its request body has ended), then exactly one End. Exchanges of
//     one connection are sequential; those of different connections are
//     concurrent, so a Recorder must be safe for concurrent use.
//   - Every method is called on the forwarding path: it must not block and
//     should return in microseconds (copy what it keeps, hand work to a
//     queue). What a method is passed is valid only during the call: a
//     []byte, and the RequestHead, ResponseHead, ExchangeEnd and Frame
//     themselves, which the proxy reuses so that following an exchange
//     allocates nothing. A Recorder copies the fields it keeps.
//   - A Recorder observes; it never changes the traffic. Replaying or
//     editing a request is the inspector's job, through an ordinary client.
//   - After a 101 Switching Protocols the exchange ends with Upgraded set.
//     For a WebSocket upgrade whose Exchange implements FrameRecorder, the
//     proxy goes on parsing the connection as WebSocket frames, calls Frame
//     for each frame in each direction, and calls End (Upgraded set) when
//     the connection closes. Otherwise End comes at the 101 and the
//     connection goes back to plain copying. HTTP/2
//     (prior knowledge) and TLS are not parsed: such a connection is spliced
//     and recorded as nothing.
//   - While no backend is ready, a connection that the HTTP mode has seen a
//     request on gets, after Options.HoldTimeout, a 503 with a body that says
//     which service it waited for and for how long, instead of a reset.
type Recorder interface {
	// Begin is called once a request head has been parsed, before the
	// request is forwarded. It returns the Exchange that receives the rest
	// of it, or nil to not record this exchange.
	Begin(req *RequestHead) Exchange
}

// Exchange receives one request and its response. See Recorder for the order
// of calls and what its methods may do.
type Exchange interface {
	// RequestBody receives the next bytes of the request body.
	RequestBody(p []byte)
	// Response is called once the response head has been parsed. Interim
	// 1xx responses other than 101 are not reported.
	Response(resp *ResponseHead)
	// ResponseBody receives the next bytes of the response body.
	ResponseBody(p []byte)
	// End is called exactly once, when the exchange is over or failed.
	End(end *ExchangeEnd)
}

// RequestHead is a request as the proxy read it. The proxy reads from the
// head only what it needs to frame the message; the fields are in Head,
// byte for byte, for a Recorder to copy and parse when someone looks
// (ParseHead). So announcing an exchange builds no header map. A
// RequestHead is valid only during the Begin call.
type RequestHead struct {
	Service string    // Options.Name
	Conn    uint64    // the client connection, unique within the Proxy
	Seq     int       // 1 for the first exchange of Conn, then 2, 3, …
	Remote  string    // the client's address
	Start   time.Time // when the first byte of the head arrived

	Method        string // "GET": the standard methods cost no allocation
	ContentLength int64  // -1 when not known in advance (chunked)
	// Head is the request head as received: the request line, the header
	// fields and the empty line that ends them (not the empty lines a
	// client may send before a request). Valid only during the call.
	Head []byte
}

// ResponseHead is a response as the proxy read it; see RequestHead. It is
// valid only during the Response call.
type ResponseHead struct {
	Start         time.Time // when the first byte of the head arrived
	Status        int
	ContentLength int64 // -1 when not known in advance (chunked, close-delimited)
	// Head is the response head as received: the status line, the header
	// fields and the empty line. Valid only during the call.
	Head []byte
}

// Sated may be implemented by an Exchange that keeps only a prefix of each
// body. Once Sated reports true for the request's (response false) or the
// response's body, the proxy hands it no more bytes of that body: the rest
// of a body of known length, or of one that runs until the close, is
// forwarded without passing through user space (spliced, where the system
// can). ExchangeEnd still counts every byte.
type Sated interface {
	Sated(response bool) bool
}

// FrameRecorder is implemented by an Exchange that wants the frames of a
// WebSocket connection upgraded by its request. See Recorder.
type FrameRecorder interface {
	// Frame receives one frame, once it has passed whole (or the
	// connection ended inside it). It is called on the forwarding path.
	Frame(f *Frame)
}

// Frame is one WebSocket frame as it passed through the proxy.
type Frame struct {
	Time       time.Time // when its last byte passed
	FromClient bool      // sent by the client (masked on the wire)
	Fin        bool
	Opcode     byte   // 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong
	Compressed bool   // RSV1 set: permessage-deflate; Payload is as sent
	Length     int64  // payload length from the frame header
	Payload    []byte // the first MaxFramePayload bytes, unmasked; valid only during the call
}

// MaxFramePayload is how much of each WebSocket frame's payload the proxy
// hands to FrameRecorder.Frame.
const MaxFramePayload = 16 << 10

// ExchangeEnd says how an exchange ended. It is valid only during the End
// call.
type ExchangeEnd struct {
	End           time.Time
	RequestBytes  int64 // body bytes forwarded, after removing chunk framing
	ResponseBytes int64
	Upgraded      bool          // 101 Switching Protocols: the connection was upgraded
	Held          time.Duration // connect time: from the request's start until a backend connection was open; 0 on a reused one
	Backend       string        // the replica's address that answered: "127.0.0.1:8000"; "" if none did
	Err           error         // nil when both messages were forwarded whole
}
