// Package proxy owns one published host port of a service and forwards every
// TCP connection made to it to one of the service's replicas. The engine uses
// it where a published port differs from the container port, or where the
// HTTP inspector is on; it is what lets a service restart without its users
// ever seeing "connection refused".
//
// # What it does with a connection
//
// Listen binds the host port at once, so that a port already taken fails
// `berth up` and names the port. Serve accepts connections until its ctx ends
// or Close is called. For each client connection the proxy:
//
//   - picks a backend: the replica with the fewest open connections, ties
//     broken round-robin. While there is none (SetBackends with an empty
//     list, or before the first SetBackends) or while the proxy is held
//     (Hold), the connection waits: it is queued, not refused;
//   - dials it. A refused dial (the service is mid-restart and its port not
//     yet bound) is retried with a short backoff (5 ms, doubling to 50 ms),
//     on the next replica if there are several, so a restart is invisible
//     even when the engine calls Hold late or never;
//   - gives up Options.HoldTimeout after the client connected (30 s by
//     default) if no backend could be reached: the client connection is then
//     reset (RST), so the client sees an error, never a clean but empty reply;
//   - then forwards bytes both ways, and passes a half-close on (CloseWrite)
//     and a reset on as a reset (RST).
//
// # Forwarding: copy small, splice large
//
// Each direction (forward.go) adapts to what passes. A small message, a
// request or a short response, is read once into a pooled buffer and written
// once: the fewest system calls there are. A read that fills 16 KiB means a
// bulk transfer, and from then on each wake-up splices what the socket has
// through a pipe (splice(2), Linux): a large body never enters user space,
// and the proxy moves it with less CPU than a copy costs. Splicing lasts
// while wake-ups bring at least 16 KiB, then reading resumes. Nothing
// wraps the connections: the proxy works on the sockets themselves.
//
// Where there is no splice(2) (macOS), everything is copied.
//
// # Replay of a connection's first bytes
//
// When a service restarts, connections that the old process's kernel had
// accepted but the process never took are reset as its listening socket
// closes, and a server shutting down gracefully may read a request and close
// without answering it (net/http does). To hide those races too, the
// client's first chunk of bytes (what one read gives, up to 64 KiB) is kept
// until the backend sends its first byte. If the backend ends the connection
// before sending anything, and the client has sent nothing beyond that first
// chunk, the proxy connects again (waiting for a backend as above, within
// the same HoldTimeout) and sends the same bytes; at most 3 times per
// connection. It does so when:
//
//   - the backend reset the connection (RST): it had not read everything
//     sent to it (it never accepted the connection, or died with bytes
//     unread), so it cannot have acted on the request;
//   - the backend closed it cleanly (FIN) and the first chunk is an HTTP/1
//     request with an idempotent method (GET, HEAD, OPTIONS, TRACE, PUT,
//     DELETE), as nginx's proxy_next_upstream does. A POST, or a protocol
//     the proxy does not know, gets the close passed on: the server may
//     have acted on it.
//
// Only the start of a connection is replayed. The later requests of a
// keep-alive connection go to the backend connection it already has; when
// that process exits the connection ends, and HTTP clients open a new one
// (retrying an idempotent request that was in flight on it).
//
// # Resources
//
// A forwarded connection costs its two sockets and two goroutines. Buffers
// (64 KiB, pooled) are taken only once a socket is readable, and pipes only
// while bytes are being spliced; pipes come from a pool that keeps up to 32
// idle ones and is closed with the Proxy. So an idle keep-alive connection
// holds neither. The client's first chunk, kept for a replay, is copied to a
// slice of its own size and dropped at the backend's first byte.
//
// # HTTP mode: recording for the inspector
//
// With a Recorder (Options.Recorder, or SetRecorder for the connections
// accepted next) a connection is parsed as HTTP/1.x while it is forwarded
// (http.go): bodies are framed (Content-Length, chunked, until the close;
// HEAD, 1xx, 204 and 304 have none) to find where the next exchange of a
// keep-alive or pipelined connection starts, and the Recorder gets each
// exchange's heads, body bytes (chunk framing removed) and end.
//
// A head is read once, in place (head.go): its first line, and of its
// fields only those that frame the message or upgrade the connection
// (Content-Length, Transfer-Encoding, Upgrade), matched regardless of case.
// No header map is built on the forwarding path: the Recorder gets the
// head's bytes as received, to copy, and ParseHead turns them into an
// http.Header when someone looks. The structs the Recorder is passed, and
// those that track the exchanges in flight, are reused, so following an
// exchange allocates nothing in the proxy (TestObserver_NoAllocsPerExchange)
// and costs a few hundred nanoseconds of CPU (BenchmarkObserverExchange,
// BenchmarkHTTPExchange).
//
// Both directions are copied through user space (64 KiB reads) instead of
// spliced, since the bytes must be seen; the Recorder sees each read just
// before it is written on, so it hears of events in the order they
// happened: a request before its response can come back, a WebSocket
// message before the answer it causes. Once the Exchange is Sated with a
// body (the inspector keeps a prefix), the rest of it, or of each chunk's
// data, is spliced again and only counted, so a large download through an
// inspected port costs little more than through a plain one. Nothing is
// buffered beyond one read: a server-sent event reaches the client as it is
// sent.
//
// After a WebSocket upgrade, frames are parsed both ways (wsframe.go) and
// handed over with up to MaxFramePayload bytes of payload each, unmasked,
// when the Exchange implements FrameRecorder. Anything that does not parse as
// HTTP/1.x (TLS, HTTP/2, a head over 64 KiB, a malformed chunk) turns the
// mode off for the rest of that connection: what was in flight ends with an
// error, and the bytes go on being forwarded, spliced again.
//
// In this mode a connection that waited HoldTimeout for a backend in vain
// and has sent a whole request head gets a 503 that names the service,
// instead of a reset; the Recorder sees it too.
//
// # Must not
//
// The package must not import internal/store or internal/engine, start
// processes, or know what a service is beyond its name. It decides nothing
// about restarts: the engine calls Hold and SetBackends.
//
// # Goroutines and locks
//
// Serve runs the accept loop in the caller's goroutine, plus one watcher
// goroutine that closes the proxy when ctx ends. Each client connection runs
// two goroutines: session.run (connect, backend→client) and session.pump
// (client→backend). Every one of them is tracked by Proxy.wg and joined by
// Close and by Serve before it returns.
//
// Proxy.mu guards the backends, the hold flag and the set of sessions;
// session.mu guards one connection's state. The two are never held at the
// same time. observer.mu guards one connection's HTTP parsing; the
// Recorder's methods are called with it held, and it is never held while
// taking the others.
package proxy
