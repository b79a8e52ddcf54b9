package inspect

// The SQLite Sink. STYLE says internal/store is the only importer of the SQL
// driver; this file (with migrate.go and migrations/) is the deliberate,
// temporary exception described in doc.go, written so that it can move into
// internal/store unchanged but for the package name.

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	// walLimit is the size the WAL file is truncated to after a
	// checkpoint: it would otherwise keep its largest size.
	walLimit = 16 << 20
	// pageSize is the page size of a new database (an existing one keeps
	// its own): a segment's meta records are a blob of some hundred KiB,
	// and the WAL writes a page with two system calls.
	pageSize = 64 << 10
)

// DBOptions bound the history a DB keeps.
type DBOptions struct {
	// MaxExchanges is how many exchanges are kept; DefaultMaxExchanges if 0.
	MaxExchanges int
	// MaxBodyBytes bounds the kept bodies' total size;
	// DefaultMaxBodyBytes if 0.
	MaxBodyBytes int64
}

// DB is a Sink in a SQLite file and a folder of segment files beside it. It
// keeps a bounded history: after every Add, the oldest exchanges are evicted
// until at most MaxExchanges remain and their bodies total at most
// MaxBodyBytes (the newest exchange is always kept, however large). It is
// safe for concurrent use.
//
// Exchanges are stored in segments, one per Add (or per segmentBytes of
// bodies), named by the ID of their first exchange: a row holding the
// segment's meta records (codec.go: everything but the bodies, the heads as
// they passed), and a file holding its body records, written through a
// buffer so that small bodies cost no system call each and large ones are
// not copied again. So a batch costs one INSERT and a few writes, not a
// row per exchange with its bodies through SQLite's pages and WAL. The meta
// records of every kept exchange stay in memory as the index (a few hundred
// bytes each): List reads nothing unless it searches bodies, and Get reads
// one body record. A segment goes, row and file, once all its exchanges are
// evicted.
//
// The file is written and closed before the row commits; a crash between
// the two leaves a file without a row, which the next open deletes. Neither
// is synced (as the database's synchronous=NORMAL): a crash of the machine
// may lose the last bodies, and Get then returns their exchange without them.
type DB struct {
	w            *sql.DB    // the single writer connection
	r            *sql.DB    // read-only connections
	dir          string     // the segment files: <name>.bodies beside the database
	wmu          sync.Mutex // serializes add: held across its transaction
	maxExchanges int64
	maxBodyBytes int64

	// mu guards the index. Readers take a snapshot of entries under it
	// and scan it without: add only appends past a snapshot's length and
	// drops from the front, never changing an element in place.
	mu        sync.RWMutex
	entries   []entry       // kept exchanges, oldest (lowest ID) first
	segLeft   map[int64]int // segment → how many of entries are in it
	bodyBytes int64         // the kept body records' bytes
	nextID    int64

	// readyOnce loads the index at the first Add, List or Get, not at
	// open: berth opens the database as it starts, inspecting or not.
	readyOnce sync.Once
	readyErr  error

	closeOnce sync.Once
	closeErr  error
}

// entry is one kept exchange in the index.
type entry struct {
	id   int64
	seg  int64  // the segment that holds it
	meta []byte // its meta record
	kept int64  // its body record's bytes
}

// segmentBytes is the size of body records past which an add starts
// another segment: the granularity at which disk space is given back.
const segmentBytes = 16 << 20

var _ Sink = (*DB)(nil)

// OpenDB opens the database at path (conventionally <state>/inspect.db),
// creating it and its directory if needed, and migrates it. Its index is
// loaded (and what is beyond o's bounds evicted) at the first Add, List or
// Get. The caller must Close it.
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
		fmt.Sprintf("&_pragma=journal_size_limit(%d)&_txlock=immediate", walLimit))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	d := &DB{
		w: w, dir: strings.TrimSuffix(abs, filepath.Ext(abs)) + ".bodies",
		maxExchanges: int64(o.MaxExchanges), maxBodyBytes: o.MaxBodyBytes,
		segLeft: map[int64]int{}, nextID: 1,
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		w.Close()
		return nil, err
	}

	// The page size, then WAL (which fixes the page size of a new file, so
	// not through the DSN: the driver runs its pragmas sorted by name).
	ctx := context.Background()
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		w.Close()
		return nil, err
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
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

// ready loads the index once, on first use: it reads every segment's meta
// records, removes orphan files, moves the rows of an older schema into
// segments and evicts what the bounds exclude. A failure is kept and
// returned by every later call.
func (d *DB) ready() error {
	d.readyOnce.Do(func() {
		ctx := context.Background() // not a caller's: the index serves every caller
		if err := d.load(ctx); err != nil {
			d.readyErr = fmt.Errorf("read the inspector's index: %w", err)
			return
		}
		if err := d.importRows(ctx); err != nil {
			d.readyErr = fmt.Errorf("move exchanges into segments: %w", err)
			return
		}
		if err := d.add(ctx, nil); err != nil { // evicts what the bounds exclude
			d.readyErr = fmt.Errorf("evict: %w", err)
		}
	})
	return d.readyErr
}

// load reads every segment's meta records into the index.
func (d *DB) load(ctx context.Context) error {
	rows, err := d.w.QueryContext(ctx, `SELECT id, metas FROM segments ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seg   int64
			metas []byte
		)
		if err := rows.Scan(&seg, &metas); err != nil {
			return err
		}
		es, err := splitMetas(seg, metas)
		if err != nil {
			return fmt.Errorf("segment %d: %w", seg, err)
		}
		d.keep(seg, es)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return d.removeOrphans()
}

// removeOrphans deletes the segment files that have no row: written by an
// add that did not commit, or left by an eviction cut short.
func (d *DB) removeOrphans() error {
	names, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		seg, err := strconv.ParseInt(strings.TrimSuffix(n.Name(), segmentExt), 10, 64)
		if err != nil || !strings.HasSuffix(n.Name(), segmentExt) {
			continue // not ours
		}
		if _, ok := d.segLeft[seg]; !ok {
			if err := os.Remove(filepath.Join(d.dir, n.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// segmentExt ends the name of a segment file: <first ID>.seg.
const segmentExt = ".seg"

func (d *DB) segmentPath(seg int64) string {
	return filepath.Join(d.dir, strconv.FormatInt(seg, 10)+segmentExt)
}

// splitMetas reads the entries of a segment's metas blob: meta records,
// each as a byte string.
func splitMetas(seg int64, metas []byte) ([]entry, error) {
	var es []entry
	dec := decoder{b: metas}
	for len(dec.b) > 0 {
		rec := dec.bytes()
		if dec.err != nil {
			return nil, dec.err
		}
		var m meta
		if err := decodeMeta(rec, &m); err != nil {
			return nil, err
		}
		es = append(es, entry{id: m.ex.ID, seg: seg, meta: rec, kept: int64(m.bodyLen)})
	}
	return es, nil
}

// keep adds es, the entries of segment seg, to the index. d.mu must be held
// for writing, or d not yet shared.
func (d *DB) keep(seg int64, es []entry) {
	d.entries = append(d.entries, es...)
	d.segLeft[seg] += len(es)
	for _, e := range es {
		d.bodyBytes += e.kept
		d.nextID = max(d.nextID, e.id+1)
	}
}

// Add implements Sink: it stores exs in one transaction, then evicts the
// oldest exchanges beyond the bounds.
func (d *DB) Add(ctx context.Context, exs []*Exchange) error {
	if len(exs) == 0 {
		return nil
	}
	if err := d.ready(); err != nil {
		return fmt.Errorf("store %d exchange(s): %w", len(exs), err)
	}
	for _, ex := range exs {
		ex.ID = 0 // assigned by add
	}
	if err := d.add(ctx, exs); err != nil {
		for _, ex := range exs {
			ex.ID = 0
		}
		return fmt.Errorf("store %d exchange(s): %w", len(exs), err)
	}
	return nil
}

// add stores exs in segments, giving each exchange without an ID the next
// one (an exchange imported with its ID keeps it), and evicts what is then
// beyond the bounds, in one transaction; then it updates the index.
func (d *DB) add(ctx context.Context, exs []*Exchange) (err error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()

	type segment struct {
		id    int64
		metas []byte
		spans [][2]int // each meta record's place in metas
		first int      // its first exchange's index in added
		size  int      // bytes written to its file
		f     *os.File
		w     *bufio.Writer
	}
	var (
		segs    []*segment
		cur     *segment
		added   = make([]entry, 0, len(exs))
		scratch []byte
	)
	closeFile := func(sg *segment) error {
		if sg.f == nil {
			return nil
		}
		err := errors.Join(sg.w.Flush(), sg.f.Close())
		sg.f = nil
		return err
	}
	defer func() {
		if err != nil {
			for _, sg := range segs {
				closeFile(sg)
				os.Remove(d.segmentPath(sg.id))
			}
		}
	}()
	next := d.nextID
	for _, ex := range exs {
		if ex.ID == 0 {
			ex.ID = next
		}
		next = max(next, ex.ID+1)
		if cur == nil || cur.size >= segmentBytes {
			if cur != nil {
				if err := closeFile(cur); err != nil {
					return err
				}
			}
			cur = &segment{id: ex.ID, first: len(added)}
			segs = append(segs, cur)
			if cur.f, err = os.OpenFile(d.segmentPath(cur.id), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
				return err
			}
			cur.w = bufio.NewWriterSize(cur.f, 64<<10)
		}
		off := cur.size
		n, err := writeBody(cur.w, ex)
		if err != nil {
			return err
		}
		cur.size += n
		scratch = appendMeta(scratch[:0], ex, ex.rawReq, ex.rawResp, off, n)
		cur.metas = appendBytes(cur.metas, scratch)
		cur.spans = append(cur.spans, [2]int{len(cur.metas) - len(scratch), len(cur.metas)})
		added = append(added, entry{id: ex.ID, seg: cur.id, kept: int64(n)})
	}
	if cur != nil {
		if err := closeFile(cur); err != nil {
			return err
		}
	}

	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit: a no-op
	for _, sg := range segs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO segments (id, metas, size) VALUES (?, ?, ?)`, sg.id, sg.metas, sg.size); err != nil {
			return err
		}
		for i, span := range sg.spans {
			added[sg.first+i].meta = sg.metas[span[0]:span[1]:span[1]]
		}
	}

	// Evict from the oldest, never the newest, until the bounds hold; a
	// segment goes once none of its exchanges is kept.
	kept := len(d.entries) + len(added)
	bodyBytes := d.bodyBytes
	for _, e := range added {
		bodyBytes += e.kept
	}
	at := func(i int) *entry {
		if i < len(d.entries) {
			return &d.entries[i]
		}
		return &added[i-len(d.entries)]
	}
	left := map[int64]int{}
	for _, e := range added {
		left[e.seg]++
	}
	var gone []int64
	evicted := 0
	for kept-evicted > 1 && (int64(kept-evicted) > d.maxExchanges || bodyBytes > d.maxBodyBytes) {
		e := at(evicted)
		evicted++
		bodyBytes -= e.kept
		left[e.seg]--
		if d.segLeft[e.seg]+left[e.seg] == 0 {
			gone = append(gone, e.seg)
		}
	}
	for _, seg := range gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM segments WHERE id = ?`, seg); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, seg := range gone {
		os.Remove(d.segmentPath(seg)) // if this fails, the next open removes it
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.entries = append(d.entries, added...)
	for _, e := range added {
		d.segLeft[e.seg]++
	}
	for _, e := range d.entries[:evicted] {
		if d.segLeft[e.seg]--; d.segLeft[e.seg] == 0 {
			delete(d.segLeft, e.seg)
		}
	}
	d.entries = d.entries[evicted:]
	if cap(d.entries) > 2*len(d.entries)+1024 {
		d.entries = slices.Clip(slices.Clone(d.entries)) // let go of the evicted ones' array
	}
	d.bodyBytes = bodyBytes
	d.nextID = next
	return nil
}

// snapshot returns the index as it is: entries, oldest first, that the
// caller may read without a lock.
func (d *DB) snapshot() []entry {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.entries[:len(d.entries):len(d.entries)]
}

// List implements Sink.
func (d *DB) List(ctx context.Context, f Filter) ([]Exchange, error) {
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("list exchanges: %w", err)
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if err := d.ready(); err != nil {
		return nil, fmt.Errorf("list exchanges: %w", err)
	}
	match := newMatcher(f)
	files := segmentFiles{d: d}
	defer files.close()
	var out []Exchange
	es := d.snapshot()
	for i := len(es) - 1; i >= 0 && (limit < 0 || len(out) < limit); i-- {
		e := &es[i]
		if f.AfterID > 0 && e.id <= f.AfterID {
			break
		}
		if f.BeforeID > 0 && e.id >= f.BeforeID {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("list exchanges: %w", err)
		}
		var m meta
		if err := decodeMeta(e.meta, &m); err != nil {
			return nil, fmt.Errorf("list exchanges: exchange %d: %w", e.id, err)
		}
		ex, ok, err := match.match(&m, func() ([]byte, error) { return files.read(e.seg, &m) })
		if err != nil {
			return nil, fmt.Errorf("list exchanges: exchange %d: %w", e.id, err)
		}
		if ok {
			out = append(out, ex)
		}
	}
	return out, nil
}

// Get implements Sink. An exchange whose body record was lost (a crash of
// the machine before the system wrote it) is returned without bodies,
// marked truncated.
func (d *DB) Get(ctx context.Context, id int64) (Exchange, error) {
	if err := d.ready(); err != nil {
		return Exchange{}, fmt.Errorf("get exchange %d: %w", id, err)
	}
	es := d.snapshot()
	i, found := slices.BinarySearchFunc(es, id, func(e entry, id int64) int { return cmp.Compare(e.id, id) })
	if !found {
		return Exchange{}, fmt.Errorf("get exchange %d: %w", id, ErrNotFound)
	}
	var m meta
	if err := decodeMeta(es[i].meta, &m); err != nil {
		return Exchange{}, fmt.Errorf("get exchange %d: %w", id, err)
	}
	ex := m.exchange()
	files := segmentFiles{d: d}
	defer files.close()
	rec, err := files.read(es[i].seg, &m)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		ex.Request.Truncated = ex.Request.Size > 0
		ex.Response.Truncated = ex.Response.Size > 0
		return ex, nil
	case err == nil:
		err = decodeBody(rec, &ex)
	}
	if err != nil {
		return Exchange{}, fmt.Errorf("get exchange %d: %w", id, err)
	}
	return ex, nil
}

// segmentFiles reads body records, keeping the last segment file it opened
// open for the next read.
type segmentFiles struct {
	d   *DB
	seg int64
	f   *os.File
}

// read returns m's body record from segment seg. It wraps ErrNotFound if
// the segment was evicted since m was seen, and io.ErrUnexpectedEOF if the
// file ends before the record.
func (sf *segmentFiles) read(seg int64, m *meta) ([]byte, error) {
	if sf.f == nil || sf.seg != seg {
		sf.close()
		f, err := os.Open(sf.d.segmentPath(seg))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w (evicted)", ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		sf.f, sf.seg = f, seg
	}
	rec := make([]byte, m.bodyLen)
	n, err := sf.f.ReadAt(rec, int64(m.bodyOff))
	if n == len(rec) {
		return rec, nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("body record of %d bytes at %d: %w", m.bodyLen, m.bodyOff, err)
}

func (sf *segmentFiles) close() {
	if sf.f != nil {
		sf.f.Close()
		sf.f = nil
	}
}
