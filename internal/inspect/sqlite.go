package inspect

// The SQLite Sink. STYLE says internal/store is the only importer of the SQL
// driver; this file (with migrate.go and migrations/) is the deliberate,
// temporary exception described in doc.go, written so that it can move into
// internal/store unchanged but for the package name.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the name of the inspector's database inside berth's state
// directory.
const FileName = "inspect.db"

// Defaults for DBOptions.
const (
	DefaultMaxExchanges = 10_000
	DefaultMaxBodyBytes = 256 << 20
)

const (
	busyTimeout = 5 * time.Second
	maxReaders  = 4
	// walLimit is the size the WAL file is truncated to after a checkpoint:
	// bodies pass through it, and it would otherwise keep its largest size.
	walLimit = 64 << 20
)

// DBOptions bound the history a DB keeps.
type DBOptions struct {
	// MaxExchanges is how many exchanges are kept; DefaultMaxExchanges if 0.
	MaxExchanges int
	// MaxBodyBytes bounds the kept bodies' total size;
	// DefaultMaxBodyBytes if 0.
	MaxBodyBytes int64
}

// DB is a Sink in a SQLite file. It keeps a bounded history: after every
// Add, the oldest exchanges are evicted until at most MaxExchanges remain
// and their bodies total at most MaxBodyBytes (the newest exchange is always
// kept, however large). It is safe for concurrent use.
type DB struct {
	w *sql.DB // the single writer connection
	r *sql.DB // read-only connections

	maxExchanges int64
	maxBodyBytes int64

	// The history's totals, kept by the writer (write holds mu around each
	// transaction, so they change only with a commit).
	mu        sync.Mutex
	count     int64 // exchanges kept
	bodyBytes int64 // their body_bytes

	closeOnce sync.Once
	closeErr  error
}

var _ Sink = (*DB)(nil)

// OpenDB opens the database at path (conventionally <state>/inspect.db),
// creating it and its directory if needed, migrates it, and evicts what is
// beyond o's bounds. The caller must Close it.
func OpenDB(path string, o DBOptions) (*DB, error) {
	d, err := openDB(path, o)
	if err != nil {
		return nil, fmt.Errorf("open inspector database %s: %w", path, err)
	}
	return d, nil
}

func openDB(path string, o DBOptions) (*DB, error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	if o.MaxExchanges <= 0 {
		o.MaxExchanges = DefaultMaxExchanges
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	// As in internal/store: the driver splits its DSN at the first '?'.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(abs, "?#") {
		return nil, errors.New("path must not contain '?' or '#'")
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, err
	}
	// Recorded traffic holds credentials: create the file 0600 ourselves
	// (SQLite would use 0644; the -wal and -shm files take its mode).
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(ON)&_pragma=synchronous(NORMAL)",
		busyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", abs+"?"+common+
		fmt.Sprintf("&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(%d)&_txlock=immediate", walLimit))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	d := &DB{w: w, maxExchanges: int64(o.MaxExchanges), maxBodyBytes: o.MaxBodyBytes}

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
	if err := migrate(ctx, w, migrationsFS); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(body_bytes), 0) FROM exchanges`).Scan(&d.count, &d.bodyBytes); err != nil {
		w.Close()
		return nil, err
	}
	if err := d.write(ctx, d.evict); err != nil {
		w.Close()
		return nil, fmt.Errorf("evict: %w", err)
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
	d.r = r
	return d, nil
}

// Close closes the database. Calls in flight fail. Close is idempotent.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		d.closeErr = errors.Join(d.r.Close(), d.w.Close())
	})
	return d.closeErr
}

// write runs fn in a write transaction on the single writer connection and
// commits it if fn returns nil. fn works on a copy of the totals, which
// replaces them once the transaction has committed.
func (d *DB) write(ctx context.Context, fn func(context.Context, *sql.Tx, *totals) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := totals{count: d.count, bodyBytes: d.bodyBytes}
	if err := fn(ctx, tx, &t); err != nil {
		_ = tx.Rollback() // the error that matters is fn's
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	d.count, d.bodyBytes = t.count, t.bodyBytes
	return nil
}

// totals are the history's size during a write transaction.
type totals struct {
	count, bodyBytes int64
}

const insertExchange = `INSERT INTO exchanges (
	replay_of, service, conn, seq, remote,
	method, target, proto, host, req_header, req_size, req_truncated,
	resp_proto, status, reason, resp_header, resp_size, resp_truncated,
	started_at, first_byte_at, ended_at, held_ns, upgraded, error, server_timing, body_bytes,
	backend, frame_count, req_body, resp_body, frames
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Add implements Sink: it stores exs in one transaction, then evicts the
// oldest exchanges beyond the bounds.
func (d *DB) Add(ctx context.Context, exs []*Exchange) error {
	if len(exs) == 0 {
		return nil
	}
	ids := make([]int64, len(exs))
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx, t *totals) error {
		ins, err := tx.PrepareContext(ctx, insertExchange)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i, ex := range exs {
			frames, err := framesJSON(ex.Frames)
			if err != nil {
				return fmt.Errorf("exchange %s %s: %w", ex.Request.Method, ex.Request.Target, err)
			}
			frameBytes := 0
			if len(ex.Frames) > 0 {
				frameBytes = len(frames)
			}
			kept := int64(len(ex.Request.Body) + len(ex.Response.Body) + frameBytes)
			args, err := exchangeArgs(ex, kept)
			if err != nil {
				return fmt.Errorf("exchange %s %s: %w", ex.Request.Method, ex.Request.Target, err)
			}
			args = append(args, nonNilBytes(ex.Request.Body), nonNilBytes(ex.Response.Body), frames)
			res, err := ins.ExecContext(ctx, args...)
			if err != nil {
				return err
			}
			if ids[i], err = res.LastInsertId(); err != nil {
				return err
			}
			t.count++
			t.bodyBytes += kept
		}
		return d.evict(ctx, tx, t)
	})
	if err != nil {
		return fmt.Errorf("store %d exchange(s): %w", len(exs), err)
	}
	for i, ex := range exs {
		ex.ID = ids[i]
	}
	return nil
}

// framesJSON encodes a WebSocket exchange's frames for their column.
func framesJSON(fs []Frame) (string, error) {
	if len(fs) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(fs)
	return string(b), err
}

// exchangeArgs are the columns of insertExchange; kept is what the exchange
// counts towards the bound on body bytes.
func exchangeArgs(ex *Exchange, kept int64) ([]any, error) {
	reqH, err := headerJSON(ex.Request.Header)
	if err != nil {
		return nil, err
	}
	respH, err := headerJSON(ex.Response.Header)
	if err != nil {
		return nil, err
	}
	timing := []byte("[]")
	if len(ex.Timing) > 0 {
		if timing, err = json.Marshal(ex.Timing); err != nil {
			return nil, err
		}
	}
	var replayOf any
	if ex.ReplayOf > 0 {
		replayOf = ex.ReplayOf
	}
	return []any{
		replayOf, ex.Service, int64(ex.Conn), ex.Seq, ex.Remote,
		ex.Request.Method, ex.Request.Target, ex.Request.Proto, ex.Request.Host, reqH, ex.Request.Size, ex.Request.Truncated,
		ex.Response.Proto, ex.Response.Status, ex.Response.Reason, respH, ex.Response.Size, ex.Response.Truncated,
		dbTime(ex.Start), dbTime(ex.FirstByte), dbTime(ex.End), int64(ex.Held), ex.Upgraded, ex.Error, string(timing),
		kept, ex.Backend, ex.FrameCount,
	}, nil
}

// evict deletes the oldest exchanges until the bounds hold, never the
// newest one, and updates t.
func (d *DB) evict(ctx context.Context, tx *sql.Tx, t *totals) error {
	over := func() bool { return t.count > 1 && (t.count > d.maxExchanges || t.bodyBytes > d.maxBodyBytes) }
	if !over() {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, body_bytes FROM exchanges ORDER BY id`)
	if err != nil {
		return err
	}
	var cutoff int64
	for over() && rows.Next() {
		var bb int64
		if err := rows.Scan(&cutoff, &bb); err != nil {
			rows.Close()
			return err
		}
		t.count--
		t.bodyBytes -= bb
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM exchanges WHERE id <= ?`, cutoff)
	return err
}

const exchangeColumns = `e.id, e.replay_of, e.service, e.conn, e.seq, e.remote,
	e.method, e.target, e.proto, e.host, e.req_header, e.req_size, e.req_truncated,
	e.resp_proto, e.status, e.reason, e.resp_header, e.resp_size, e.resp_truncated,
	e.started_at, e.first_byte_at, e.ended_at, e.held_ns, e.upgraded, e.error, e.server_timing,
	e.backend, e.frame_count`

// List implements Sink.
func (d *DB) List(ctx context.Context, f Filter) ([]Exchange, error) {
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("list exchanges: %w", err)
	}
	var (
		where []string
		args  []any
	)
	cond := func(c string, a ...any) {
		where = append(where, c)
		args = append(args, a...)
	}
	if f.Service != "" {
		cond(`e.service = ?`, f.Service)
	}
	if f.Method != "" {
		cond(`upper(e.method) = ?`, strings.ToUpper(f.Method))
	}
	if f.StatusClass > 0 {
		cond(`e.status BETWEEN ? AND ?`, f.StatusClass*100, f.StatusClass*100+99)
	}
	if f.PathContains != "" {
		cond(`instr(e.target, ?) > 0`, f.PathContains)
	}
	if f.Header != "" {
		name, value, hasValue := strings.Cut(f.Header, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.ToLower(strings.TrimSpace(value))
		match := `SELECT 1 FROM json_each(%s) h WHERE lower(h.key) = ?`
		hargs := []any{name}
		if hasValue {
			match = `SELECT 1 FROM json_each(%s) h, json_each(h.value) v WHERE lower(h.key) = ? AND instr(lower(v.value), ?) > 0`
			hargs = append(hargs, value)
		}
		cond(`(EXISTS (`+fmt.Sprintf(match, "e.req_header")+`) OR EXISTS (`+fmt.Sprintf(match, "e.resp_header")+`))`,
			append(hargs, hargs...)...)
	}
	if f.BodyContains != "" {
		b := []byte(f.BodyContains) // a BLOB, so that instr compares bytes
		cond(`(instr(e.req_body, ?) > 0 OR instr(e.resp_body, ?) > 0)`, b, b)
	}
	if f.ReplayOf > 0 {
		cond(`e.replay_of = ?`, f.ReplayOf)
	}
	if f.BeforeID > 0 {
		cond(`e.id < ?`, f.BeforeID)
	}
	if f.AfterID > 0 {
		cond(`e.id > ?`, f.AfterID)
	}
	q := `SELECT ` + exchangeColumns + ` FROM exchanges e`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY e.id DESC`
	limit := f.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := d.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list exchanges: %w", err)
	}
	defer rows.Close()
	var out []Exchange
	for rows.Next() {
		var ex Exchange
		if err := scanExchange(rows, &ex); err != nil {
			return nil, fmt.Errorf("list exchanges: %w", err)
		}
		out = append(out, ex)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list exchanges: %w", err)
	}
	return out, nil
}

// Get implements Sink.
func (d *DB) Get(ctx context.Context, id int64) (Exchange, error) {
	row := d.r.QueryRowContext(ctx, `SELECT `+exchangeColumns+`, e.req_body, e.resp_body, e.frames
		FROM exchanges e WHERE e.id = ?`, id)
	var ex Exchange
	var frames string
	err := scanExchange(row, &ex, &ex.Request.Body, &ex.Response.Body, &frames)
	if len(ex.Request.Body) == 0 {
		ex.Request.Body = nil
	}
	if len(ex.Response.Body) == 0 {
		ex.Response.Body = nil
	}
	if err == nil && frames != "[]" {
		if err = json.Unmarshal([]byte(frames), &ex.Frames); err != nil {
			err = fmt.Errorf("frames: %w", err)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Exchange{}, fmt.Errorf("get exchange %d: %w", id, err)
	}
	return ex, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanExchange(s scanner, ex *Exchange, extra ...any) error {
	var (
		replayOf                sql.NullInt64
		conn                    int64
		reqH, respH, timing     string
		start, firstByte, ended sql.NullInt64
		held                    int64
	)
	dest := append([]any{
		&ex.ID, &replayOf, &ex.Service, &conn, &ex.Seq, &ex.Remote,
		&ex.Request.Method, &ex.Request.Target, &ex.Request.Proto, &ex.Request.Host, &reqH, &ex.Request.Size, &ex.Request.Truncated,
		&ex.Response.Proto, &ex.Response.Status, &ex.Response.Reason, &respH, &ex.Response.Size, &ex.Response.Truncated,
		&start, &firstByte, &ended, &held, &ex.Upgraded, &ex.Error, &timing,
		&ex.Backend, &ex.FrameCount,
	}, extra...)
	if err := s.Scan(dest...); err != nil {
		return err
	}
	ex.ReplayOf = replayOf.Int64
	ex.Conn = uint64(conn)
	ex.Start, ex.FirstByte, ex.End = goTime(start), goTime(firstByte), goTime(ended)
	ex.Held = time.Duration(held)
	if err := json.Unmarshal([]byte(reqH), &ex.Request.Header); err != nil {
		return fmt.Errorf("exchange %d: request header: %w", ex.ID, err)
	}
	if err := json.Unmarshal([]byte(respH), &ex.Response.Header); err != nil {
		return fmt.Errorf("exchange %d: response header: %w", ex.ID, err)
	}
	if timing != "[]" {
		if err := json.Unmarshal([]byte(timing), &ex.Timing); err != nil {
			return fmt.Errorf("exchange %d: server timing: %w", ex.ID, err)
		}
	}
	return nil
}

// headerJSON encodes h as a JSON object of arrays, names sorted. It is
// on the path of every stored exchange, so it skips reflection.
func headerJSON(h http.Header) (string, error) {
	if len(h) == 0 {
		return "{}", nil
	}
	names := make([]string, 0, len(h))
	size := 2
	for name, vs := range h {
		names = append(names, name)
		size += len(name) + 6
		for _, v := range vs {
			size += len(v) + 3
		}
	}
	slices.Sort(names)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, name)
		b = append(b, ':', '[')
		for j, v := range h[name] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, v)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	return string(b), nil
}

// appendJSONString appends s as a JSON string: plain ASCII as it is,
// anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
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
