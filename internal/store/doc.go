// Package store is berth's persistent state: the history of jobs (everything a
// user launches — `berth run`, `berth exec`, a restart, a one-off from the API),
// who watches them, the named API tokens, and notifications waiting to be
// delivered to a user. It lives in one SQLite file, <state>/berth.db, opened by
// Open.
//
// store is the only package that imports the SQL driver (modernc.org/sqlite,
// pure Go). It never imports engine, hub, server or supervise: it stores what
// it is told and decides nothing about processes. It does not log; every
// failure is returned, wrapped with what was being done ("finish job 42: …").
//
// # Files
//
// Open owns the directory that holds the database file:
//
//	<dir>/berth.db, berth.db-wal, berth.db-shm   the database (WAL mode), mode 0600
//	<dir>/jobs/                                   job output, mode 0700
//	<dir>/jobs/<id>.log                           the output of job <id>
//
// Job output is not kept in SQLite. Store.JobOutputPath names a job's file and
// Job.OutputPath carries it; the file belongs to whoever writes it. The layout
// is the one internal/logs uses for a service, so the engine can capture a
// job's output with logs.Open(strconv.FormatInt(id, 10), logs.Options{Dir:
// s.JobOutputDir()}) (numbered, timestamped records; rotation adds
// <id>.log.1 …). Store.OpenJobOutput is a plain append-only alternative for
// callers that only need the bytes; use one or the other for a given job,
// never both. The database stores the path relative to <dir>, so a state
// directory that moves keeps its history.
//
// # Jobs
//
// A job goes queued → running → succeeded | failed | cancelled, or straight
// from queued to an end state (cancelled before it started, failed to spawn).
// It ends exactly once: FinishJob on an ended job fails with ErrJobFinished,
// StartJob on a running one with ErrJobStarted. IDs are never reused. At
// start, before launching anything, the engine calls RecoverJobs: whatever a
// dead berth left queued or running is marked failed.
//
// # Schema and migrations
//
// The schema is a list of numbered SQL files embedded from migrations/
// (0001_init.sql, 0002_….sql, …). The schema_version table records each one
// applied. Open applies the missing ones in order, each in its own
// transaction together with its schema_version row, so a failed migration
// leaves the database at the previous version. Opening a database whose
// version is newer than this binary knows fails rather than guess.
// Migrations are append-only: a released file is never edited.
//
// Times are stored as INTEGER nanoseconds since the Unix epoch and are
// returned in UTC; a zero time.Time is stored as NULL.
//
// # Concurrency
//
// A *Store is safe for concurrent use. SQLite allows one writer at a time, so
// the Store keeps two database/sql pools on the same file:
//
//   - the writer: a single connection (MaxOpenConns 1). Every write runs in a
//     BEGIN IMMEDIATE transaction on it, so writers in this process queue in
//     database/sql (honouring their ctx) instead of failing with SQLITE_BUSY,
//     and read-modify-write steps (finish only a running job, refuse a
//     duplicate token name) are atomic.
//   - the readers: a few read-only connections (query_only). In WAL mode they
//     read the last committed state without waiting for the writer.
//
// busy_timeout (5 s) covers another process that opens the same file. No Go
// mutex is held around SQL, so there is no lock order to respect.
//
// synchronous=NORMAL: in WAL mode a crash of berth loses nothing that was
// committed; a power loss can lose the last few commits, never corrupt the file.
//
// # Security
//
// An API token's secret is 32 random bytes from crypto/rand, printed once by
// CreateToken. Only its SHA-256 is stored. Authenticate compares the hash of
// what it is given with every active token's hash using
// crypto/subtle.ConstantTimeCompare and never stops early, so timing does not
// tell which token, if any, matched. Secrets never appear in errors.
// Authenticate is a read: it writes Token.LastUsed at most once a minute per
// token. The name "owner" is reserved (the server's name for the user who
// started berth), and a name is unique among active tokens.
package store
