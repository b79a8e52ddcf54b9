package inspect

// The SQLite Sink. STYLE says internal/store is the only importer of the SQL
// driver; this file (with migrate.go and migrations/) is the deliberate,
// temporary exception described in doc.go, written so that it can move into
// internal/store unchanged but for the package name.

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
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
	// pageSize is the database's page size, SQLite's default: a row is a
	// few numbers. A commit writes whole pages to the WAL, checksummed,
	// and the checkpoint writes them again: 64 KiB pages, which berth gave
	// new files while a row held a blob of meta records of some hundred
	// KiB (schema 0005), were half of what an Add of a few exchanges cost.
	pageSize = 4 << 10
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
// bodies), named by the ID of their first exchange. A segment is a file of
// its body records and then its meta records (codec.go: everything but the
// bodies, the heads as they passed), written with few system calls (small
// records gathered in a buffer, large bodies straight from the exchange's
// buffer); and a row of a few numbers: its file, how many exchanges, where
// the meta records start and their checksum. So a batch costs some writes
// to a file and a small INSERT, not a row per exchange with its bodies
// through SQLite's pages and WAL, nor its meta records written twice (WAL,
// then checkpoint). The meta records of every kept exchange stay in memory
// as the index (a few hundred bytes each), read from the files at the
// first use: List reads nothing unless it searches bodies, and Get reads
// one body record. A segment goes once all its exchanges are evicted: its
// row is deleted, and its file kept as a spare (up to maxSpares) that a
// later segment overwrites in place rather than creating a file: the
// system then reuses the file's cached pages instead of freeing them and
// allocating others (that was about half of what storing a large body
// cost). A file keeps the name it was created with, <first segment>.seg.
//
// The file is written and closed before the row commits; a crash between
// the two leaves a file without a row, which the next open deletes (or
// keeps as a spare). Neither is synced (as the database's
// synchronous=NORMAL): a crash of the machine may lose the last segments'
// files, or leave in them bytes of the segments they overwrote. Checksums
// tell: a segment whose meta records are lost is dropped at the next open
// (its IDs are not given again), and Get returns an exchange whose body
// record is lost without its bodies.
type DB struct {
	w            *sql.DB // the single writer connection
	r            *sql.DB // read-only connections
	dir          string  // the segment files: <name>.bodies beside the database
	maxExchanges int64
	maxBodyBytes int64

	// wmu serializes add: held across its transaction. It guards spares
	// and sw.
	wmu    sync.Mutex
	spares []int64       // files of evicted segments kept for reuse, oldest first
	sw     segmentWriter // writes segment files

	// insert and remove add and delete a segment's row, on w (prepared
	// once: parsing them was a tenth of an Add of a few exchanges).
	insert, remove *sql.Stmt

	// mu guards the index. Readers take a snapshot of entries under it
	// and scan it without: add only appends past a snapshot's length and
	// drops from the front, never changing an element in place. A reader
	// that reads a segment's file checks after reading that the segment is
	// still kept (live): a segment's file is reused only by an add after
	// the one that took the segment out of the index.
	mu        sync.RWMutex
	entries   []entry            // kept exchanges, oldest (lowest ID) first
	segs      map[int64]segState // the kept segments
	bodyBytes int64              // the kept body records' bytes
	nextID    int64

	// readyOnce loads the index at the first Add, List or Get, not at
	// open: berth opens the database as it starts, inspecting or not.
	readyOnce sync.Once
	readyErr  error

	closeOnce sync.Once
	closeErr  error
}

// segState is a kept segment in the index.
type segState struct {
	left int   // how many of entries are in it
	file int64 // its file: <file>.seg
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

// maxSpares is how many evicted segments' files are kept for reuse. An
// add creates about one segment and evicts about one in the steady state;
// one more absorbs the batches that evict none or two. Spares are disk
// space beyond the bounds: at most maxSpares segments.
const maxSpares = 2

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
		segs: map[int64]segState{}, nextID: 1,
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		w.Close()
		return nil, err
	}

	// The page size, then WAL (which fixes the page size of a new file, so
	// not through the DSN: the driver runs its pragmas sorted by name).
	ctx := context.Background()
	if err := setPageSize(ctx, w); err != nil {
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
	if d.insert, err = w.PrepareContext(ctx, `INSERT INTO segments (id, file, metas, size, count, metas_at, metas_crc) VALUES (?, ?, X'', ?, ?, ?, ?)`); err == nil {
		d.remove, err = w.PrepareContext(ctx, `DELETE FROM segments WHERE id = ?`)
	}
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	return d, nil
}

// setPageSize gives the database of w pageSize: a new one from the start;
// one of another page size (64 KiB, of schema 0005) is rewritten with it,
// once (VACUUM, out of WAL mode: a few MiB at most, some tens of
// milliseconds). If another process has the file open, that fails, and a
// later open tries again.
func setPageSize(ctx context.Context, w *sql.DB) error {
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return err
	}
	var size int
	if err := w.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil {
		return err
	}
	if size == pageSize {
		return nil
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode = DELETE").Scan(&mode); err != nil || !strings.EqualFold(mode, "delete") {
		return nil // open elsewhere: keep the page size for now
	}
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return err
	}
	w.ExecContext(ctx, "VACUUM") // if it fails (busy), the file is as it was
	return nil
}

// Close closes the database. Calls in flight fail. Close is idempotent.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		d.closeErr = errors.Join(d.insert.Close(), d.remove.Close(), d.r.Close(), d.w.Close())
	})
	return d.closeErr
}

// ready loads the index once, on first use: it reads every segment's meta
// records, drops the segments whose files lost them, removes orphan files
// (or keeps them as spares), moves the rows of an older schema into
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

// load reads every segment's meta records into the index: from its file,
// or from its row for a segment of schema 0005. A segment whose file lost
// them (a crash of the machine) is dropped, row and file; the IDs it held
// are not given again.
func (d *DB) load(ctx context.Context) error {
	rows, err := d.w.QueryContext(ctx, `SELECT id, file, count, metas_at, metas_crc, size, metas FROM segments ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var lost []int64
	for rows.Next() {
		var (
			seg, file, count, at, sum, size int64
			metas                           []byte
		)
		if err := rows.Scan(&seg, &file, &count, &at, &sum, &size, &metas); err != nil {
			return err
		}
		if file == 0 { // 0005: named by the segment
			file = seg
		}
		if len(metas) == 0 { // 0006 on: in the file
			if metas, err = d.readMetas(file, at, size, uint32(sum)); err != nil {
				if !errors.Is(err, errLost) {
					return fmt.Errorf("segment %d: %w", seg, err)
				}
				lost = append(lost, seg)
				d.nextID = max(d.nextID, seg+count)
				continue
			}
		}
		es, err := splitMetas(seg, metas)
		if err == nil && count > 0 && (int64(len(es)) != count || es[0].id != seg) {
			err = fmt.Errorf("%d meta records from ID %d, want %d from %d", len(es), es[0].id, count, seg)
		}
		if err != nil {
			return fmt.Errorf("segment %d: %w", seg, err)
		}
		d.keep(seg, file, es)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for _, seg := range lost {
		if _, err := d.remove.ExecContext(ctx, seg); err != nil {
			return err
		}
	}
	return d.removeOrphans()
}

// errLost says that a record is not (or no longer) in its segment's file as
// it was written: the file is shorter, or the record's checksum differs. A
// crash of the machine before the system wrote the file loses records so.
var errLost = errors.New("lost")

// readMetas reads a segment's meta records from its file: the bytes from
// at to size, whose checksum is sum.
func (d *DB) readMetas(file, at, size int64, sum uint32) ([]byte, error) {
	f, err := os.Open(d.segmentPath(file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no file)", errLost)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if at < 0 || at > size {
		return nil, fmt.Errorf("meta records at %d of %d bytes", at, size)
	}
	metas := make([]byte, size-at)
	if n, err := f.ReadAt(metas, at); n < len(metas) {
		if err == io.EOF {
			err = errLost
		}
		return nil, fmt.Errorf("meta records of %d bytes at %d: %w", len(metas), at, err)
	}
	if crc32.Checksum(metas, crcTable) != sum {
		return nil, fmt.Errorf("meta records: checksum: %w", errLost)
	}
	return metas, nil
}

// removeOrphans deletes the segment files that have no row, written by an
// add that did not commit, left by an eviction cut short or kept as spares
// when the database was closed, but keeps up to maxSpares of them as
// spares.
func (d *DB) removeOrphans() error {
	names, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	used := map[int64]bool{}
	for _, sg := range d.segs {
		used[sg.file] = true
	}
	for _, n := range names {
		file, err := strconv.ParseInt(strings.TrimSuffix(n.Name(), segmentExt), 10, 64)
		if err != nil || !strings.HasSuffix(n.Name(), segmentExt) {
			continue // not ours
		}
		if used[file] {
			continue
		}
		if len(d.spares) < maxSpares && n.Type().IsRegular() {
			d.spares = append(d.spares, file)
			continue
		}
		if err := os.Remove(filepath.Join(d.dir, n.Name())); err != nil {
			return err
		}
	}
	return nil
}

// segmentExt ends the name of a segment file: <file>.seg, where file is the
// ID of the segment it was created for. A file reused for another segment
// keeps its name (renaming costs as much as writing a small segment), and
// the segment's row names it.
const segmentExt = ".seg"

func (d *DB) segmentPath(file int64) string {
	return filepath.Join(d.dir, strconv.FormatInt(file, 10)+segmentExt)
}

// splitMetas reads the entries of a segment's meta records, each a byte
// string.
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
	if len(es) == 0 {
		return nil, errors.New("no meta records")
	}
	return es, nil
}

// keep adds es, the entries of segment seg in file, to the index. d.mu
// must be held for writing, or d not yet shared.
func (d *DB) keep(seg, file int64, es []entry) {
	d.entries = append(d.entries, es...)
	d.segs[seg] = segState{left: len(es), file: file}
	for _, e := range es {
		d.bodyBytes += e.kept
		d.nextID = max(d.nextID, e.id+1)
	}
}

// fileOf returns the file of segment seg, and whether seg is still kept.
func (d *DB) fileOf(seg int64) (file int64, ok bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	sg, ok := d.segs[seg]
	return sg.file, ok
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

// segment is one segment being written by add.
type segment struct {
	id      int64
	file    int64    // its file: <file>.seg
	first   int      // its first exchange's index in add's entries
	count   int      // its exchanges
	size    int      // bytes written to its file
	metas   []byte   // its meta records
	spans   [][2]int // each meta record's place in metas
	metasAt int      // where metas start in the file
	sum     uint32
	f       *os.File
	reused  bool // f was a spare
	created bool // f was created for it
}

// add stores exs in segments, giving each exchange without an ID the next
// one (an exchange imported with its ID keeps it), and evicts what is then
// beyond the bounds, in one transaction; then it updates the index.
func (d *DB) add(ctx context.Context, exs []*Exchange) (err error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()

	var (
		segs   []*segment
		cur    *segment
		added  = make([]entry, 0, len(exs))
		gather = make([]byte, 0, 1<<10) // a body record of small bodies
	)
	defer func() {
		if err != nil {
			for _, sg := range segs {
				if sg.f != nil {
					sg.f.Close()
				}
				if sg.created || sg.reused {
					os.Remove(d.segmentPath(sg.file))
				}
			}
		}
	}()
	next := d.nextID
	for i, ex := range exs {
		if ex.ID == 0 {
			ex.ID = next
		}
		next = max(next, ex.ID+1)
		if cur == nil || cur.size >= segmentBytes {
			if cur != nil {
				if err := d.finish(cur); err != nil {
					return err
				}
			}
			cur = &segment{id: ex.ID, first: len(added), metas: make([]byte, 0, metasSize(exs[i:])), spans: make([][2]int, 0, len(exs)-i)}
			segs = append(segs, cur)
			if err := d.create(cur); err != nil {
				return err
			}
		}
		if at, n := largestBody(ex); n >= directBytes {
			d.sw.align(at)
		}
		off := d.sw.off
		n, crc, err := writeBody(&d.sw, ex, gather)
		if err != nil {
			return err
		}
		cur.size = d.sw.off
		cur.count++
		metas, at := startBytes(cur.metas)
		metas = appendMeta(metas, ex, ex.rawReq, ex.rawResp, off, n, crc)
		metas, start := endBytes(metas, at)
		cur.metas = metas
		cur.spans = append(cur.spans, [2]int{start, len(metas)})
		added = append(added, entry{id: ex.ID, seg: cur.id, kept: int64(n)})
	}
	if cur != nil {
		if err := d.finish(cur); err != nil {
			return err
		}
	}

	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit: a no-op
	for _, sg := range segs {
		if _, err := tx.StmtContext(ctx, d.insert).ExecContext(ctx, sg.id, sg.file, sg.size, sg.count, sg.metasAt, int64(sg.sum)); err != nil {
			return err
		}
		for i, span := range sg.spans {
			added[sg.first+i].meta = sg.metas[span[0]:span[1]:span[1]]
		}
	}

	// Evict from the oldest, never the newest, until the bounds hold.
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
	evicted := 0
	for kept-evicted > 1 && (int64(kept-evicted) > d.maxExchanges || bodyBytes > d.maxBodyBytes) {
		bodyBytes -= at(evicted).kept
		evicted++
	}
	// A segment goes once none of its exchanges is kept. The evicted are
	// runs of a segment each, oldest first.
	type run struct {
		seg, file int64
		n         int
		gone      bool
	}
	var runs []run
	for i := 0; i < evicted; {
		r := run{seg: at(i).seg}
		for ; i < evicted && at(i).seg == r.seg; i++ {
			r.n++
		}
		total := d.segs[r.seg].left
		r.file = d.segs[r.seg].file
		for _, sg := range segs {
			if sg.id == r.seg {
				total, r.file = sg.count, sg.file
			}
		}
		if r.gone = r.n == total; r.gone {
			if _, err := tx.StmtContext(ctx, d.remove).ExecContext(ctx, r.seg); err != nil {
				return err
			}
		}
		runs = append(runs, r)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, r := range runs {
		if r.gone {
			d.spare(r.file)
		}
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.entries)+len(added) > cap(d.entries) {
		// A new array, as readers may be scanning the old one, with room
		// for as many again: dropping from the front takes from the room
		// at the back, so an array lasts about as many adds as it holds
		// batches, each copied once.
		grown := make([]entry, len(d.entries), 2*(len(d.entries)+len(added)))
		copy(grown, d.entries)
		d.entries = grown
	}
	d.entries = append(d.entries, added...)
	for _, sg := range segs {
		d.segs[sg.id] = segState{left: sg.count, file: sg.file}
	}
	for _, r := range runs {
		if r.gone {
			delete(d.segs, r.seg)
			continue
		}
		sg := d.segs[r.seg]
		sg.left -= r.n
		d.segs[r.seg] = sg
	}
	d.entries = d.entries[evicted:]
	if cap(d.entries) > 4*len(d.entries)+1024 {
		d.entries = slices.Clone(d.entries) // let go of the evicted ones' array
	}
	d.bodyBytes = bodyBytes
	d.nextID = next
	return nil
}

// metasSize is about the size of the meta records of exs, as many of them
// as a segment takes: a generous estimate, so that a segment's meta
// records are built without copying them as they grow.
func metasSize(exs []*Exchange) int {
	n, bodies := 0, 0
	for _, ex := range exs {
		if bodies >= segmentBytes {
			break
		}
		bodies += len(ex.Request.Body) + len(ex.Response.Body)
		for i := range ex.Frames {
			bodies += len(ex.Frames[i].Payload)
		}
		n += 128 + len(ex.Service) + len(ex.Remote) + len(ex.Backend) + len(ex.Error)
		if ex.rawReq != nil {
			n += len(ex.rawReq) + len(ex.rawResp)
		} else {
			n += 512 // heads written from their fields
		}
	}
	return n
}

// create opens the file of segment sg for writing through d.sw: a spare
// when there is one, else a new file. d.wmu must be held.
func (d *DB) create(sg *segment) error {
	for len(d.spares) > 0 {
		file := d.spares[0]
		d.spares = d.spares[1:]
		f, err := os.OpenFile(d.segmentPath(file), os.O_WRONLY, 0) // overwritten, then cut to size
		if err != nil {
			continue // gone: not ours any more
		}
		sg.f, sg.file, sg.reused = f, file, true
		d.sw.reset(f)
		return nil
	}
	f, err := os.OpenFile(d.segmentPath(sg.id), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	sg.f, sg.file, sg.created = f, sg.id, true
	d.sw.reset(f)
	return nil
}

// finish writes sg's meta records after its body records and closes its
// file. d.wmu must be held.
func (d *DB) finish(sg *segment) error {
	if len(sg.metas) >= directBytes {
		d.sw.align(0)
	}
	sg.metasAt = d.sw.off
	sg.sum = crc32.Checksum(sg.metas, crcTable)
	d.sw.Write(sg.metas)
	err := d.sw.flush()
	sg.size = d.sw.off
	if err == nil && sg.reused {
		err = sg.f.Truncate(int64(sg.size))
	}
	err = errors.Join(err, sg.f.Close())
	sg.f = nil
	d.sw.reset(nil)
	return err
}

// Writing files: the page cache copies a write to an offset that is a
// multiple of the page size (4 KiB on the systems berth runs on) much faster
// than to one that is not, and a write costs a system call and an update of
// the file's times: overwriting 256 KiB of a cached file cost about 30 µs
// of CPU at such an offset, 65 µs a few bytes off, and about twice as much
// in 64 KiB writes (Linux 6.18, ext4). So a large body, and a segment's
// meta records, are written on their own, at such an offset (after up to
// 4 KiB of padding, which no record uses), straight from their buffer.
const (
	// directBytes is the size from which a write goes straight to the
	// file, at a multiple of pageBytes; smaller ones are gathered in a
	// buffer of this size.
	directBytes = 64 << 10
	pageBytes   = 4 << 10
)

// segmentWriter writes a segment's file: small writes gathered in a
// buffer, large ones straight from the caller's bytes. The first error
// sticks, and makes every later write a no-op.
type segmentWriter struct {
	f   *os.File
	buf []byte
	off int // bytes written or buffered
	err error
}

func (w *segmentWriter) reset(f *os.File) {
	w.f, w.off, w.err = f, 0, nil
	if w.buf == nil {
		w.buf = make([]byte, 0, directBytes)
	}
	w.buf = w.buf[:0]
}

// Write implements io.Writer.
func (w *segmentWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(p) >= directBytes {
		if err := w.flush(); err != nil {
			return 0, err
		}
		n, err := w.f.Write(p)
		w.off += n
		w.err = err
		return n, err
	}
	if len(w.buf)+len(p) > cap(w.buf) {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	w.buf = append(w.buf, p...)
	w.off += len(p)
	return len(p), nil
}

// align pads the file with zeros so that the byte written at from bytes
// on is at a multiple of pageBytes.
func (w *segmentWriter) align(from int) {
	var zeros [pageBytes]byte
	if pad := (pageBytes - (w.off+from)%pageBytes) % pageBytes; pad > 0 {
		w.Write(zeros[:pad])
	}
}

func (w *segmentWriter) flush() error {
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.f.Write(w.buf)
		w.buf = w.buf[:0]
	}
	return w.err
}

// spare keeps file, of a segment evicted, for reuse, or removes it if
// there are maxSpares already. d.wmu must be held.
func (d *DB) spare(file int64) {
	if len(d.spares) < maxSpares {
		d.spares = append(d.spares, file)
		return
	}
	os.Remove(d.segmentPath(file)) // if this fails, the next open removes it
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
		ex, ok, err := match.match(&m, func() ([]byte, error) {
			rec, err := files.read(e.seg, &m)
			if errors.Is(err, errLost) {
				return noBodies, nil // as Get returns it
			}
			return rec, err
		})
		if err != nil {
			return nil, fmt.Errorf("list exchanges: exchange %d: %w", e.id, err)
		}
		if ok {
			out = append(out, ex)
		}
	}
	return out, nil
}

// noBodies is the body record of an exchange without bodies or frames.
var noBodies = []byte{0, 0, 0}

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
	case errors.Is(err, errLost):
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
// the segment was evicted since m was seen (its file may have been reused
// since: what was read is checked to be still kept), and errLost if the
// file ends before the record or the record is not the one written.
func (sf *segmentFiles) read(seg int64, m *meta) ([]byte, error) {
	if sf.f == nil || sf.seg != seg {
		sf.close()
		file, ok := sf.d.fileOf(seg)
		if !ok {
			return nil, fmt.Errorf("%w (evicted)", ErrNotFound)
		}
		f, err := os.Open(sf.d.segmentPath(file))
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
	if _, ok := sf.d.fileOf(seg); !ok {
		return nil, fmt.Errorf("%w (evicted)", ErrNotFound)
	}
	if n < len(rec) {
		if err == io.EOF {
			err = errLost
		}
		return nil, fmt.Errorf("body record of %d bytes at %d: %w", m.bodyLen, m.bodyOff, err)
	}
	if m.hasCRC && crc32.Checksum(rec, crcTable) != m.bodyCRC {
		return nil, fmt.Errorf("body record of %d bytes at %d: checksum: %w", m.bodyLen, m.bodyOff, errLost)
	}
	return rec, nil
}

func (sf *segmentFiles) close() {
	if sf.f != nil {
		sf.f.Close()
		sf.f = nil
	}
}
