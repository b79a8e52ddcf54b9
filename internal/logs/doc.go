// Package logs captures the output of a service's processes: it splits it into
// lines, numbers and timestamps them, writes them to a size-rotated file on
// disk and fans them out to live subscribers.
//
// It owns the files <Dir>/<service>.log and their rotated copies
// <service>.log.1 … <service>.log.N (1 is the newest), and nothing else. It
// knows nothing about processes, the hub or the API: the caller hands Capture
// a reader (a process's stdout or stderr pipe) and owns the goroutine Capture
// runs on; the caller turns a Subscription into whatever stream it serves.
//
// # Every line is kept
//
// The disk copy is complete: the capture writer never drops a line and never
// waits for a reader. Every line gets the next sequence number of its service
// (Line.Seq: 1, 2, 3, …, continuing across restarts of berth, because Open
// recovers the last one from disk) and is written, in sequence order, to the
// current file. Lines are lost only when the disk fails (a write error; the
// first is returned by Close), when berth dies with lines still buffered (at
// most ~50 ms of output), or when rotation deletes the oldest file beyond
// Options.MaxFiles.
//
// Only live subscribers can skip lines, and they are told how many. Each
// Subscription has a bounded queue (SubscribeOptions.Buffer lines). When a
// subscriber falls behind and its queue is full, the oldest queued lines are
// dropped — the publisher is never blocked — and the next batch returned by
// Next reports, as missed, how many lines were skipped immediately before its
// first line. The skipped lines are on disk: a new Subscription with a Tail
// reads them back.
//
// # On-disk format
//
// One record per line, in sequence order:
//
//	<seq> <time> <replica> <o|e> <text>\n
//
// where time is UTC with nine fractional digits (2006-01-02T15:04:05.000000000Z),
// replica is decimal and text is the line's bytes, verbatim: it cannot hold a
// '\n' (lines are split on it) but may hold anything else, '\r' and invalid
// UTF-8 included, so records round-trip exactly. A record torn by a crash at
// the end of the current file is cut off when the file is reopened.
//
// # Line splitting
//
// Output is split on '\n'. A '\r' right before the '\n' (CRLF) is removed;
// any other '\r' is kept. A line longer than Options.MaxLineLen is split into
// pieces of MaxLineLen bytes, never dropped. A last line without a newline is
// emitted at EOF as it is (a trailing '\r' there is kept). Bytes are kept as
// they are, valid UTF-8 or not.
//
// # Performance
//
// Capture reads with a 256 KiB buffer, takes one timestamp per read chunk,
// formats records into a reused buffer and writes it when it passes 256 KiB,
// when a read returns less than it asked for (no more output immediately
// pending), or at the latest ~50 ms after the first unwritten record, so
// `logs -f` readers of the file see lines promptly. With no live subscriber
// the hot path does not allocate.
//
// # Concurrency and locking
//
// A Log is safe for concurrent use: any number of Capture calls (one per
// replica and stream), Append, Subscribe and LastSeq may run at once. Each
// Log has one mutex (Log.mu) and each Subscription one (Subscription.mu).
// Lock order: Log.mu before Subscription.mu; never the reverse. A new
// Subscription takes its history bound (the last sequence number) and joins
// the live fan-out under Log.mu, so history and live lines meet without a gap
// or a duplicate. Log goroutines: none of its own, except the runtime's
// short-lived flush timer callback, which Close stops.
package logs
