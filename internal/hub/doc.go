// Package hub carries berth's realtime streams — the project's events, each
// service's status and log, each job's output, notifications — from the
// parts of the engine that publish them to the WebSocket connections that
// watch them. It owns stream names, sequence numbers, retained tails,
// subscriber queues and the wire format of frames; and the decoding of
// clients' control requests.
//
// It must not know about services, processes, jobs or HTTP: publishers hand
// it payloads, internal/server hands it subscribers and writes out what they
// return. It never blocks a publisher on a subscriber, never logs, and starts
// no goroutine.
//
// # Streams and groups
//
// A stream is a named, ordered sequence of frames: events, notifications, inspect,
// service/<name>/status, service/<name>/logs, job/<id> (see ValidStream).
// Each frame gets the next sequence number of its stream, from 1. A stream is
// also a group: every subscriber of job/42 gets every frame of job 42, in
// order, whether it launched the job or only watches it. A stream retains its
// latest frames (its tail, Options.TailSize) so that a client that reconnects
// resumes where it left off: it subscribes with since = the last seq it has,
// and gets the rest of the tail and then the live frames, with no gap and no
// duplicate (the replay and the registration happen under the stream's lock).
// The inspect stream is live only: it keeps no tail, and publishing to it
// with nobody subscribed costs no encoding (see liveOnly).
//
// # Wire format
//
// Every frame, both ways, is one JSON object, written as one WebSocket text
// message. Data frames (server → client):
//
//	{"stream":"service/web/logs","seq":1201,"payload":{…}}
//
// The control stream ("control", no seq) carries the rest. Client requests
// (canonical form; see Control for the flat form DecodeControl also takes):
//
//	{"stream":"control","payload":{"op":"subscribe","id":7,"streams":["events","job/42"],"since":{"job/42":17}}}
//	{"stream":"control","payload":{"op":"unsubscribe","id":8,"streams":["job/42"]}}
//
// The server's replies (see Reply), echoing the request's id:
//
//	{"stream":"control","payload":{"op":"subscribed","id":7,"streams":["events","job/42"]}}
//	{"stream":"control","payload":{"op":"error","id":7,"code":"bad_frame","field":"streams[1]","message":"…"}}
//
// The hub's notices (see Notice), queued in order with the data frames so the
// server writes them as they are:
//
//	{"stream":"control","payload":{"op":"missed","stream":"service/web/logs","from":1200,"to":1450,"count":251}}
//
// The subscriber's queue was full: frames 1200…1450 of the stream were not
// sent; frame 1451 onwards follow. To get them, subscribe again with
// since=1199 (while they are in the tail), or read them from elsewhere (the
// on-disk log).
//
//	{"stream":"control","payload":{"op":"gap","stream":"job/42","since":17,"first":1025,"last":2048}}
//
// A subscription asked to resume after seq 17, but the tail holds only
// 1025…2048 (first is 0 when it holds nothing; since > last means the stream
// restarted its numbering, e.g. berth restarted). Nothing was replayed: reload
// up to seq 2048 from elsewhere; live frames continue at 2049.
//
// # Slow subscribers
//
// Each Subscriber has a bounded queue. When it is full, frames are dropped
// for that subscriber alone, counted per stream, and reported with a missed
// notice once it has caught up (see Subscriber). The connection that owns it
// forwards the notice or disconnects the client; either way the publisher and
// the other subscribers never wait.
//
// # Concurrency and locking
//
// Memory, Subscriber and the codec are safe for concurrent use (Next from one
// goroutine at a time). Each struct has one mutex. Lock order:
//
//	Memory.mu  →  stream.mu  →  Subscriber.mu
//
// never the reverse. Memory.mu serializes subscription changes (Subscribe,
// Unsubscribe, Close, creating and forgetting streams); Publish takes it only
// to create a stream, and otherwise finds its stream without a lock and takes
// that stream's mu alone, for numbering, tail and fan-out. So a publisher
// waits only for other publishers of its stream and for a Subscribe replaying
// that stream's tail. Subscriber.mu is a leaf: nothing is locked or called
// while it is held, and Subscriber.Close runs its AfterClose functions (which
// take Memory.mu) after releasing it. A Subscriber's OnReady function runs
// without Subscriber.mu but possibly with stream.mu held: it must not call
// into the hub.
//
// A NATS hub (internal/hub/natshub, one subject per stream, JetStream for the
// tail) implements the same Hub interface and fills the same Subscriber
// through its producer methods: Deliver, Notify, Purge, AfterClose and End.
package hub
