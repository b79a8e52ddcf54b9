// Package inspect is berth's HTTP inspector: it records the exchanges that a
// published-port proxy in HTTP mode reports (Recorder implements
// proxy.Recorder), keeps a bounded history of them that survives restarts,
// and lists, replays (as-is or edited), diffs and exports them (HAR 1.2,
// copy-as-curl).
//
// It owns the recorded traffic and the inspector's database file,
// <state>/inspect.db (DB, FileName). It never changes traffic: the proxy
// forwards, the Recorder only copies. It does not import engine, server,
// store or cli, start processes, or know ports: the engine tells it, through
// Options.Target, where a service's requests are replayed.
//
// # Recording: never in the way of the traffic
//
// Begin, RequestBody, Response, ResponseBody and End run on the proxy's
// forwarding path. They take one uncontended per-exchange mutex, copy the
// request and response heads as they passed (into one buffer; they are
// parsed only when someone reads the exchange), copy at most
// Options.BodyCap bytes of each body into a buffer of the exchange's own
// (sized once at the Content-Length when the head gives one, else doubling,
// never past the cap; buffers of the full cap are pooled and reused once
// stored), and count the rest. A body past the cap costs nothing more
// (BenchmarkRecorder_Exchange). End hands the finished exchange to a
// bounded queue with a non-blocking send; if the queue is full the exchange
// is dropped and counted (Stats.Dropped), never waited for. A global budget
// (Options.MemoryLimit) bounds the body bytes held by all exchanges in
// flight and queued: past it bodies stop growing and are marked Truncated
// (Stats.Trimmed). So a slow or stalled database costs recorded exchanges,
// never latency, and memory stays bounded whatever the traffic.
//
// One goroutine per Recorder (run) drains the queue, hands exchanges to the
// Sink in batches of up to 1024 (one SQLite transaction each), and calls
// Options.OnStored. It gathers a batch for batchLinger after its first
// exchange without listening to the queue, so a batch costs it one wake-up. Sink failures and drops are
// logged at Warn, at most once every 10 s with counts.
//
// An exchange that ends Upgraded (WebSocket) is recorded with its 101 and
// headers, and (a recording implements proxy.FrameRecorder) its first
// MaxFrames frames with up to MaxFramePayload bytes of each, counted in the
// memory budget and in the stored body bytes; FrameCount counts them all.
// The proxy ends such an exchange when the connection closes, so it is
// stored then.
//
// # Storage: the Sink interface, and a deliberate exception to STYLE
//
// The Recorder reads and writes through the small Sink interface (Add, List,
// Get). DB (sqlite.go, codec.go, migrate.go, migrations/, legacy.go) is its
// implementation, in a SQLite file of its own with embedded migrations and a
// folder of segment files. STYLE says
// internal/store is the only importer of the SQL driver: this package
// importing modernc.org/sqlite is a deliberate, temporary exception, so that
// the inspector could be built while internal/store was someone else's. DB
// is written to move into internal/store as it is (the same open, pragmas and
// migration rules as store.Store); store would then import this package for
// the Exchange and Filter types (inspect imports neither store nor engine,
// so there is no cycle), and the engine would pass the store's
// implementation as Options.Sink. Nothing outside sqlite.go, legacy.go and
// migrate.go knows SQL.
//
// DB keeps a bounded history: after each Add the oldest exchanges are
// evicted until at most DBOptions.MaxExchanges remain (default 10,000) and
// their kept bodies total at most DBOptions.MaxBodyBytes (default 256 MiB).
// It stores a batch as one segment (codec.go, sqlite.go): a file beside the
// database (inspect.bodies/) of body records and then meta records
// (everything but the bodies, the heads as the proxy passed them), and a
// row of a few numbers, so a few writes and one small INSERT per batch
// rather than a row per exchange. An evicted segment's file is overwritten
// by a later segment rather than removed (the system reuses its cached
// pages), and checksums tell a record that a crash of the machine lost or
// left stale. The meta records of the kept exchanges are also its index in
// memory (a few hundred bytes each), read from the files at the first Add,
// List or Get rather than at open (about 10 ms for 10,000 exchanges, kept
// off berth's start): then List and eviction read no file, Get reads one
// body record. IDs are never reused. A replay's ReplayOf may name an
// exchange evicted since. Recorded traffic holds credentials: the files are
// created 0600, in a 0700 folder.
//
// # Replay
//
// Replay sends a recorded request again, possibly edited, with an ordinary
// net/http client to the base URL Options.Target gives for the service (the
// published port), and records the result, seen from the client side, as a
// new exchange with ReplayOf set. The replay client remembers the local
// addresses of its connections, and Begin returns nil for a request coming
// from one of them: a replay through an inspected port is recorded once.
//
// # Goroutines and locks
//
// A Recorder owns one goroutine, started by New and joined by Close. Close
// stops recording, lets the sink store what is queued for up to
// Options.CloseTimeout, then cancels the sink's context (a Sink must honour
// it). Replay runs on its caller's goroutine; its HTTP connections are
// closed when it returns (no keep-alive).
//
// recording.mu guards one exchange being recorded; replayer.mu guards the
// set of the replay client's local addresses. Neither is held while taking
// the other, nor while calling the Sink, so there is no lock order.
package inspect
