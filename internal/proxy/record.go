package proxy

import (
	"net/http"
	"time"
)

// Recorder receives the HTTP/1.1 exchanges that pass through a proxy in HTTP
// mode, for the inspector (list, detail, replay, HAR export).
//
// EXPERIMENTAL: the HTTP mode is not built yet. Today a Proxy only splices
// bytes and calls no Recorder; Options will gain a Recorder field that turns
// the mode on. This is the contract that mode will keep:
//
//   - The proxy parses each request head and response head as the bytes
//     pass, and frames bodies (Content-Length, chunked, close-delimited) to
//     find where the next exchange of a keep-alive connection starts. It never
//     buffers a whole body: body bytes are handed to the Exchange in the
//     chunks in which they are forwarded, after they were written on, with
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
//     queue). A []byte argument is valid only during the call; a header
//     passed in belongs to the Recorder after the call.
//   - A Recorder observes; it never changes the traffic. Replaying or
//     editing a request is the inspector's job, through an ordinary client.
//   - After a 101 Switching Protocols (WebSocket) the exchange ends with
//     Upgraded set and the connection goes back to plain splicing. HTTP/2
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
//
// EXPERIMENTAL: see Recorder.
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

// RequestHead is a request as the proxy parsed it.
//
// EXPERIMENTAL: see Recorder.
type RequestHead struct {
	Service string    // Options.Name
	Conn    uint64    // the client connection, unique within the Proxy
	Seq     int       // 1 for the first exchange of Conn, then 2, 3, …
	Remote  string    // the client's address
	Start   time.Time // when the first byte of the head arrived

	Method        string // "GET"
	Target        string // the request target as sent: "/path?q=1"
	Proto         string // "HTTP/1.1"
	Host          string
	Header        http.Header
	ContentLength int64 // -1 when not known in advance (chunked)
}

// ResponseHead is a response as the proxy parsed it.
//
// EXPERIMENTAL: see Recorder.
type ResponseHead struct {
	Start         time.Time // when the first byte of the head arrived
	Proto         string
	Status        int
	Reason        string
	Header        http.Header
	ContentLength int64 // -1 when not known in advance (chunked, close-delimited)
}

// ExchangeEnd says how an exchange ended.
//
// EXPERIMENTAL: see Recorder.
type ExchangeEnd struct {
	End           time.Time
	RequestBytes  int64 // body bytes forwarded, after removing chunk framing
	ResponseBytes int64
	Upgraded      bool          // 101 Switching Protocols: the connection is now spliced
	Held          time.Duration // how long the request waited for a backend
	Err           error         // nil when both messages were forwarded whole
}
