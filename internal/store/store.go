package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the name of the database file inside berth's state directory.
const FileName = "berth.db"

// Sentinel errors that callers branch on. They are returned wrapped with
// context; test them with errors.Is.
var (
	// ErrNotFound: no such job, or no active token of that name.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the secret matches no active token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrJobFinished: the job already ended (succeeded, failed or cancelled).
	ErrJobFinished = errors.New("job already finished")
	// ErrJobStarted: StartJob on a job that is already running.
	ErrJobStarted = errors.New("job already started")
	// ErrTokenExists: CreateToken with the name of an active token. The error
	// returned is a *TokenExistsError.
	ErrTokenExists = errors.New("token already exists")
)

const (
	busyTimeout = 5 * time.Second
	maxReaders  = 4
)

// Store is berth's database. It is safe for concurrent use; see the package
// documentation for how reads and writes are scheduled.
type Store struct {
	dir string  // the directory holding the database file
	w   *sql.DB // the single writer connection
	r   *sql.DB // read-only connections
	now func() time.Time

	closeOnce sync.Once
	closeErr  error
}

// Open opens the database at path (conventionally <state>/berth.db), creating
// the file and its directory if they do not exist, and migrates it to the
// schema this binary knows. It also creates the job output directory
// (<dir>/jobs). The caller must Close the Store.
//
// Processes opening a new file at the same moment can find it locked in
// ways SQLite's busy timeout does not wait out (switching it to WAL needs it
// alone): Open then tries again, for up to busyTimeout.
func Open(path string) (*Store, error) {
	deadline := time.Now().Add(busyTimeout)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		s, err := open(path, migrationsFS)
		if err == nil {
			return s, nil
		}
		if !isBusy(err) || time.Now().Add(delay).After(deadline) {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
		time.Sleep(delay)
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func open(path string, migrations migrationSource) (*Store, error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	// The driver splits its DSN at the first '?', and a leading "file:" would
	// make it a URI: an absolute path without '?' is always a plain file name.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(abs, "?#") {
		return nil, errors.New("path must not contain '?' or '#'")
	}
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Create the file ourselves so that it is 0600 (SQLite would use 0644);
	// SQLite gives the -wal and -shm files the database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, jobsDir), 0o700); err != nil {
		return nil, err
	}

	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(ON)&_pragma=synchronous(NORMAL)",
		busyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", abs+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{dir: dir, w: w, now: time.Now}
	ctx := context.Background()
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, err
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("enable WAL: journal mode is %q (is the state directory on a network file system?)", mode)
	}
	if err := migrate(ctx, w, migrations, s.now); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", abs+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(maxReaders)
	r.SetMaxIdleConns(maxReaders)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	s.r = r
	return s, nil
}

// Close closes the database. It waits for nothing: calls in flight fail.
// Close is idempotent; later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.r.Close(), s.w.Close())
	})
	return s.closeErr
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the single writer
// connection) and commits it if fn returns nil. fn must use only tx: the
// writer pool has one connection, which tx holds.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error that matters is fn's
		return err
	}
	return tx.Commit()
}

// orNow returns t, or the current time if t is zero.
func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}

// dbTime converts t for storage: nanoseconds since the epoch, NULL if zero.
func dbTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// goTime converts a stored time back; NULL is the zero time.
func goTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// goTimePtr is goTime for optional fields: NULL is nil.
func goTimePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := goTime(n)
	return &t
}
