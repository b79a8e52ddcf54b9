package inspect

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// add stores exs in d, one Add call each, and returns their IDs.
func add(t testing.TB, d *DB, exs ...*Exchange) []int64 {
	t.Helper()
	var out []int64
	for _, ex := range exs {
		if ex.Request.Method == "" {
			ex.Request.Method = "GET"
		}
		if ex.Request.Target == "" {
			ex.Request.Target = "/"
		}
		if err := d.Add(context.Background(), []*Exchange{ex}); err != nil {
			t.Fatalf("Add: %v", err)
		}
		out = append(out, ex.ID)
	}
	return out
}

func withBody(n int) *Exchange {
	return &Exchange{Service: "web", Start: t0, Response: Response{Status: 200, Body: bytes.Repeat([]byte("b"), n), Size: int64(n)}}
}

func TestDB_EvictsByCount(t *testing.T) {
	path := dbPath(t)
	d := openDBAt(t, path, DBOptions{MaxExchanges: 5})
	var all []int64
	for range 8 {
		all = append(all, add(t, d, withBody(10))...)
	}
	if got, want := ids(list(t, d, Filter{})), []int64{8, 7, 6, 5, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("kept %v, want %v (the 5 newest)", got, want)
	}
	if _, err := d.Get(context.Background(), all[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(evicted) = %v, want ErrNotFound", err)
	}
	// A lower bound applies when the database is opened again.
	d.Close()
	d = openDBAt(t, path, DBOptions{MaxExchanges: 2})
	if got, want := ids(list(t, d, Filter{})), []int64{8, 7}; !reflect.DeepEqual(got, want) {
		t.Errorf("after reopening with MaxExchanges 2: kept %v, want %v", got, want)
	}
	// IDs are never reused.
	if id := add(t, d, withBody(1))[0]; id != 9 {
		t.Errorf("next ID = %d, want 9", id)
	}
}

func TestDB_EvictsByBodyBytes(t *testing.T) {
	d := openDBAt(t, dbPath(t), DBOptions{MaxBodyBytes: 1000})
	add(t, d, withBody(300), withBody(300), withBody(300)) // 900
	add(t, d, withBody(300))                               // 1200: the oldest goes
	if got, want := ids(list(t, d, Filter{})), []int64{4, 3, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	add(t, d, withBody(950)) // needs the three others gone
	if got, want := ids(list(t, d, Filter{})), []int64{5}; !reflect.DeepEqual(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	add(t, d, withBody(5000)) // larger than the bound: kept alone
	if got, want := ids(list(t, d, Filter{})), []int64{6}; !reflect.DeepEqual(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if got := get(t, d, 6); len(got.Response.Body) != 5000 {
		t.Errorf("kept %d body bytes, want 5000", len(got.Response.Body))
	}
	// The evicted exchanges' segments are gone, and the totals count the
	// one kept (its body record: the body and a few bytes of lengths).
	var segs int
	if err := d.r.QueryRow(`SELECT count(*) FROM segments`).Scan(&segs); err != nil {
		t.Fatal(err)
	}
	if segs != 1 || len(d.entries) != 1 || d.bodyBytes < 5000 || d.bodyBytes > 5010 {
		t.Errorf("%d segments, %d entries, %d body bytes; want 1, 1, about 5000", segs, len(d.entries), d.bodyBytes)
	}
}

func TestDB_BatchAddEvictsInOneTransaction(t *testing.T) {
	d := openDBAt(t, dbPath(t), DBOptions{MaxExchanges: 3})
	batch := []*Exchange{withBody(1), withBody(2), withBody(3), withBody(4), withBody(5)}
	for _, ex := range batch {
		ex.Request.Method, ex.Request.Target = "GET", "/"
	}
	if err := d.Add(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for i, ex := range batch {
		if ex.ID != int64(i+1) {
			t.Errorf("batch[%d].ID = %d, want %d", i, ex.ID, i+1)
		}
	}
	if got, want := ids(list(t, d, Filter{})), []int64{5, 4, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
}

func TestRecorder_SurvivesRestart(t *testing.T) {
	path := dbPath(t)
	d, err := OpenDB(path, DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Sink: d})
	if err != nil {
		t.Fatal(err)
	}
	play(r, synth{
		method: "POST", target: "/login", reqHeader: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		reqBody: []byte("user=bob&password=hunter2"), status: 302,
		respHeader: http.Header{"Location": {"/home"}, "Server-Timing": {"auth;dur=4"}},
		wait:       time.Millisecond, total: 2 * time.Millisecond,
	})
	flush(t, r)
	before := newest(t, d)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d = openDBAt(t, path, DBOptions{})
	after := get(t, d, before.ID)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("after reopening:\n got %+v\nwant %+v", after, before)
	}
	if string(after.Request.Body) != "user=bob&password=hunter2" || after.Timing[0].Name != "auth" {
		t.Errorf("reopened exchange lost its body or timing: %+v", after)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600: it holds credentials", fi.Mode().Perm())
	}
}

func TestDB_Filters(t *testing.T) {
	d := openDBAt(t, dbPath(t), DBOptions{})
	exs := []*Exchange{
		// 1
		{Service: "web", Request: Request{Method: "GET", Target: "/api/items?page=2", Header: http.Header{"Accept": {"application/json"}}},
			Response: Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"items":["needle"]}`)}},
		// 2
		{Service: "web", Request: Request{Method: "POST", Target: "/api/items", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"name":"haystack"}`)},
			Response: Response{Status: 201}},
		// 3
		{Service: "web", Request: Request{Method: "GET", Target: "/missing"},
			Response: Response{Status: 404, Header: http.Header{"X-Trace": {"Abc-123"}}}},
		// 4
		{Service: "api", Request: Request{Method: "delete", Target: "/api/items/7"},
			Response: Response{Status: 500, Body: []byte("boom")}},
		// 5
		{Service: "api", Request: Request{Method: "GET", Target: "/old"},
			Response: Response{Status: 301, Header: http.Header{"Location": {"/new"}}}},
		// 6: a replay of 1
		{Service: "web", ReplayOf: 1, Request: Request{Method: "GET", Target: "/api/items?page=2"},
			Response: Response{Status: 200}},
	}
	add(t, d, exs...)
	tests := []struct {
		name string
		f    Filter
		want []int64
	}{
		{"everything, newest first", Filter{}, []int64{6, 5, 4, 3, 2, 1}},
		{"service", Filter{Service: "api"}, []int64{5, 4}},
		{"method, any case", Filter{Method: "Delete"}, []int64{4}},
		{"method GET", Filter{Method: "GET"}, []int64{6, 5, 3, 1}},
		{"status 2xx", Filter{StatusClass: 2}, []int64{6, 2, 1}},
		{"status 3xx", Filter{StatusClass: 3}, []int64{5}},
		{"status 4xx", Filter{StatusClass: 4}, []int64{3}},
		{"status 5xx", Filter{StatusClass: 5}, []int64{4}},
		{"path contains", Filter{PathContains: "/api/items"}, []int64{6, 4, 2, 1}},
		{"path contains the query", Filter{PathContains: "page=2"}, []int64{6, 1}},
		{"header name, request or response", Filter{Header: "content-type"}, []int64{2, 1}},
		{"header name and value, case-insensitive", Filter{Header: "X-Trace: abc"}, []int64{3}},
		{"header value that no header has", Filter{Header: "Accept:text/html"}, nil},
		{"header location", Filter{Header: "Location:/new"}, []int64{5}},
		{"response body contains", Filter{BodyContains: "needle"}, []int64{1}},
		{"request body contains", Filter{BodyContains: "haystack"}, []int64{2}},
		{"body search is case-sensitive", Filter{BodyContains: "Needle"}, nil},
		{"replays of 1", Filter{ReplayOf: 1}, []int64{6}},
		{"before", Filter{BeforeID: 3}, []int64{2, 1}},
		{"after", Filter{AfterID: 4}, []int64{6, 5}},
		{"limit", Filter{Limit: 2}, []int64{6, 5}},
		{"page after a limit", Filter{Limit: 2, BeforeID: 5}, []int64{4, 3}},
		{"conditions combine", Filter{Service: "web", Method: "GET", StatusClass: 2}, []int64{6, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(list(t, d, tt.f))
			if tt.want == nil {
				tt.want = []int64{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
	t.Run("list leaves bodies out", func(t *testing.T) {
		for _, ex := range list(t, d, Filter{}) {
			if ex.Request.Body != nil || ex.Response.Body != nil {
				t.Errorf("List returned exchange %d with a body", ex.ID)
			}
		}
	})
	t.Run("default limit", func(t *testing.T) {
		for range DefaultListLimit {
			add(t, d, &Exchange{Service: "bulk"})
		}
		exs, err := d.List(context.Background(), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(exs) != DefaultListLimit {
			t.Errorf("List with Limit 0 returned %d, want %d", len(exs), DefaultListLimit)
		}
	})
	for _, bad := range []Filter{{StatusClass: 6}, {StatusClass: -1}, {Header: ":value"}} {
		if _, err := d.List(context.Background(), bad); err == nil {
			t.Errorf("List(%+v) succeeded, want an error", bad)
		}
	}
}

// A database written before migration 0004 (bodies in their own table) opens
// with its exchanges moved, bodies and frames with them, into segments
// (0004, then 0005 and DB's import), keeping their IDs.
func TestDB_MigratesBodiesIntoRows(t *testing.T) {
	path := dbPath(t)
	old := fstest.MapFS{}
	for _, name := range []string{"0001_init.sql", "0002_backend_frames.sql", "0003_totals_in_memory.sql"} {
		b, err := fs.ReadFile(migrationsFS, name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := migrate(ctx, raw, old); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO exchanges (id, method, target, body_bytes) VALUES (1, 'POST', '/a', 9), (2, 'GET', '/b', 0)`,
		`INSERT INTO bodies (id, request, response, frames) VALUES (1, X'6964', X'6f6b21', '[{"time":"2026-11-29T00:00:00Z","fromClient":true,"opcode":1,"fin":true,"length":2,"payload":"aGk="}]')`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	d := openDBAt(t, path, DBOptions{})
	ex := get(t, d, 1)
	if string(ex.Request.Body) != "id" || string(ex.Response.Body) != "ok!" || len(ex.Frames) != 1 || string(ex.Frames[0].Payload) != "hi" {
		t.Errorf("moved: request %q response %q frames %+v", ex.Request.Body, ex.Response.Body, ex.Frames)
	}
	if ex := get(t, d, 2); ex.Request.Body != nil || ex.Response.Body != nil || ex.Frames != nil {
		t.Errorf("exchange without bodies: %+v", ex)
	}
	if got := ids(list(t, d, Filter{BodyContains: "ok!"})); !reflect.DeepEqual(got, []int64{1}) {
		t.Errorf("body search after the move: %v", got)
	}
	if ex := get(t, d, 1); ex.Request.Method != "POST" || ex.Request.Target != "/a" {
		t.Errorf("moved request line: %q %q, want POST /a", ex.Request.Method, ex.Request.Target)
	}
	var left int
	if err := d.r.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'exchanges'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("old table still there (%d, %v)", left, err)
	}
	if id := add(t, d, withBody(1))[0]; id != 3 {
		t.Errorf("next ID after the move = %d, want 3", id)
	}
}

// Exchanges live in segment files beside the database: private, given up
// with the last exchange they hold and then kept as spares that later
// segments overwrite. A file without a row (a crash before the commit) is
// kept as a spare or removed at the next open.
func TestDB_SegmentFiles(t *testing.T) {
	path := dbPath(t)
	d, err := OpenDB(path, DBOptions{MaxExchanges: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { d.Close() }()
	dir := filepath.Join(filepath.Dir(path), "inspect.bodies")
	add(t, d, withBody(10)) // segment 1
	add(t, d, withBody(20)) // segment 2
	if got := segmentNames(t, dir); !reflect.DeepEqual(got, []string{"1.seg", "2.seg"}) {
		t.Errorf("segment files %v, want 1.seg 2.seg", got)
	}
	first, err := os.Stat(filepath.Join(dir, "1.seg"))
	if err != nil || first.Mode().Perm() != 0o600 {
		t.Errorf("segment file: %v, %v; want mode 0600", first.Mode(), err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("segment folder: %v, %v; want mode 0700", fi.Mode(), err)
	}
	var page int
	if err := d.w.QueryRow(`PRAGMA page_size`).Scan(&page); err != nil || page != pageSize {
		t.Errorf("page size %d (%v), want %d", page, err, pageSize)
	}
	add(t, d, withBody(30)) // evicts exchange 1: its segment's file is a spare
	if got := segmentNames(t, dir); !reflect.DeepEqual(got, []string{"1.seg", "2.seg", "3.seg"}) || !reflect.DeepEqual(d.spares, []int64{1}) {
		t.Errorf("after eviction: %v, spares %v; want 1.seg 2.seg 3.seg, spare 1", got, d.spares)
	}
	if got := segmentRows(t, d); !reflect.DeepEqual(got, []int64{2, 3}) {
		t.Errorf("segment rows %v, want 2 3", got)
	}
	add(t, d, withBody(40)) // evicts 2; segment 4 overwrites 1's file
	if got := segmentNames(t, dir); !reflect.DeepEqual(got, []string{"1.seg", "2.seg", "3.seg"}) || !reflect.DeepEqual(d.spares, []int64{2}) {
		t.Errorf("after reuse: %v, spares %v; want 1.seg 2.seg 3.seg, spare 2", got, d.spares)
	}
	reused, err := os.Stat(filepath.Join(dir, "1.seg"))
	if err != nil || !os.SameFile(first, reused) || d.segs[4].file != 1 {
		t.Errorf("segment 4 is in file %d, want segment 1's (%v)", d.segs[4].file, err)
	}
	if ex := get(t, d, 4); len(ex.Response.Body) != 40 || ex.Response.Truncated {
		t.Errorf("exchange 4 in a reused file: body %d bytes, truncated %v; want 40, false", len(ex.Response.Body), ex.Response.Truncated)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// More orphans than spares: a crash before commits, and files of
	// spares left when the database closed.
	for seg := 90; seg < 90+maxSpares; seg++ {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(seg)+".seg"), []byte("orphan"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	d = openDBAt(t, path, DBOptions{MaxExchanges: 2})
	if ex := get(t, d, 3); len(ex.Response.Body) != 30 { // the first use loads the index
		t.Errorf("exchange 3 body: %d bytes, want 30", len(ex.Response.Body))
	}
	if ex := get(t, d, 4); len(ex.Response.Body) != 40 {
		t.Errorf("exchange 4 body after reopening: %d bytes, want 40", len(ex.Response.Body))
	}
	names := segmentNames(t, dir)
	if len(names) != 2+maxSpares+1 || !slices.Contains(names, "1.seg") || !slices.Contains(names, "3.seg") || !slices.Contains(names, "notes.txt") {
		t.Errorf("after reopening: %v; want 1.seg (segment 4), 3.seg, %d spares and notes.txt", names, maxSpares)
	}
	if len(d.spares) != maxSpares {
		t.Errorf("spares %v, want %d", d.spares, maxSpares)
	}
}

// segmentNames lists the files of a segment folder.
func segmentNames(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// segmentRows lists the IDs of d's segments' rows.
func segmentRows(t *testing.T, d *DB) []int64 {
	t.Helper()
	rows, err := d.r.Query(`SELECT id FROM segments ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A crash of the machine may leave a segment's file short, or holding the
// bytes of the segment it overwrote. A body record that is not the one
// written leaves its exchange readable, without bodies; a segment whose
// meta records are not is dropped, and its IDs are not given again.
func TestDB_LostRecords(t *testing.T) {
	path := dbPath(t)
	d, err := OpenDB(path, DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { d.Close() }()
	dir := filepath.Join(filepath.Dir(path), "inspect.bodies")
	add(t, d, withBody(10), withBody(20), withBody(30)) // segments 1, 2, 3
	d.Add(context.Background(), []*Exchange{withBody(40), withBody(50)})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// 1: a body byte of other content; 2: the file cut inside its meta
	// records; 3: gone; 4 (exchanges 4 and 5): a byte of the meta records
	// changed.
	seg := func(id int) string { return filepath.Join(dir, strconv.Itoa(id)+".seg") }
	flip := func(name string, at func(size int64) int64) {
		t.Helper()
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b[at(int64(len(b)))] ^= 0xff
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flip(seg(1), func(int64) int64 { return 5 })
	if fi, err := os.Stat(seg(2)); err != nil || os.Truncate(seg(2), fi.Size()-1) != nil {
		t.Fatal(err)
	}
	if err := os.Remove(seg(3)); err != nil {
		t.Fatal(err)
	}
	flip(seg(4), func(size int64) int64 { return size - 1 })

	d = openDBAt(t, path, DBOptions{})
	if got := ids(list(t, d, Filter{})); !reflect.DeepEqual(got, []int64{1}) {
		t.Errorf("kept %v, want 1", got)
	}
	ex := get(t, d, 1)
	if ex.Response.Body != nil || !ex.Response.Truncated || ex.Response.Size != 10 {
		t.Errorf("exchange whose body was lost: body %q truncated %v size %d; want none, true, 10",
			ex.Response.Body, ex.Response.Truncated, ex.Response.Size)
	}
	if got := ids(list(t, d, Filter{BodyContains: "b"})); len(got) != 0 {
		t.Errorf("body search matched %v in a lost body", got)
	}
	if got := segmentRows(t, d); !reflect.DeepEqual(got, []int64{1}) {
		t.Errorf("segment rows %v, want 1", got)
	}
	if id := add(t, d, withBody(1))[0]; id != 6 {
		t.Errorf("next ID = %d, want 6: the lost segments' IDs are not given again", id)
	}
}

// A database of schema 0005 (a segment's meta records in its row, format
// 1, without checksums; 64 KiB pages) opens and keeps working: its segments
// are read, listed and searched, evicted like the others, and survive
// another open beside segments written since. Its pages become pageSize.
func TestDB_OpensSchema0005(t *testing.T) {
	path := dbPath(t)
	old := fstest.MapFS{}
	for _, name := range []string{"0001_init.sql", "0002_backend_frames.sql", "0003_totals_in_memory.sql", "0004_bodies_in_row.sql", "0005_segments.sql"} {
		b, err := fs.ReadFile(migrationsFS, name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	dir := filepath.Join(filepath.Dir(path), "inspect.bodies")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	ctx := context.Background()
	for _, q := range []string{`PRAGMA page_size = 65536`, `PRAGMA journal_mode = WAL`} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := migrate(ctx, raw, old); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `DROP TABLE exchanges`); err != nil { // as 0005's open left it
		t.Fatal(err)
	}
	// Segments 1 (exchanges 1, 2) and 3 (exchange 3), as 0005 wrote them.
	for _, seg := range [][]*Exchange{
		{{ID: 1, Service: "web", Start: t0, Request: Request{Method: "POST", Target: "/a", Body: []byte("needle"), Size: 6}, Response: Response{Status: 201}},
			{ID: 2, Service: "web", Start: t0, Request: Request{Method: "GET", Target: "/b"}, Response: Response{Status: 200, Body: []byte("hay"), Size: 3}}},
		{{ID: 3, Service: "api", Start: t0, Request: Request{Method: "GET", Target: "/c"}, Response: Response{Status: 404, Body: []byte("no"), Size: 2}}},
	} {
		var bodies bytes.Buffer
		var metas []byte
		for _, ex := range seg {
			off := bodies.Len()
			n, _, err := writeBody(&bodies, ex, nil)
			if err != nil {
				t.Fatal(err)
			}
			metas = appendBytes(metas, appendMetaVersion(nil, 1, ex, nil, nil, off, n, 0))
		}
		if err := os.WriteFile(filepath.Join(dir, strconv.FormatInt(seg[0].ID, 10)+".seg"), bodies.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, `INSERT INTO segments (id, metas, size) VALUES (?, ?, ?)`, seg[0].ID, metas, bodies.Len()); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	d := openDBAt(t, path, DBOptions{MaxExchanges: 4})
	var page int
	var mode string
	if err := d.w.QueryRow(`PRAGMA page_size`).Scan(&page); err != nil || page != pageSize {
		t.Errorf("page size %d (%v), want %d", page, err, pageSize)
	}
	if err := d.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v), want wal", mode, err)
	}
	if got := ids(list(t, d, Filter{})); !reflect.DeepEqual(got, []int64{3, 2, 1}) {
		t.Errorf("listed %v, want 3 2 1", got)
	}
	if ex := get(t, d, 1); string(ex.Request.Body) != "needle" || ex.Request.Method != "POST" || ex.Response.Status != 201 {
		t.Errorf("exchange 1: %s %s %d, body %q", ex.Request.Method, ex.Request.Target, ex.Response.Status, ex.Request.Body)
	}
	if got := ids(list(t, d, Filter{BodyContains: "hay"})); !reflect.DeepEqual(got, []int64{2}) {
		t.Errorf("body search: %v, want 2", got)
	}
	add(t, d, withBody(4)) // segment 4, written since: 4 kept
	add(t, d, withBody(5)) // segment 5: evicts 1 (its segment stays: 2 is kept)
	add(t, d, withBody(6)) // evicts 2: segment 1 goes
	if got := segmentRows(t, d); !reflect.DeepEqual(got, []int64{3, 4, 5, 6}) {
		t.Errorf("segment rows %v, want 3 4 5 6", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d = openDBAt(t, path, DBOptions{MaxExchanges: 4})
	if got := ids(list(t, d, Filter{})); !reflect.DeepEqual(got, []int64{6, 5, 4, 3}) {
		t.Errorf("after reopening: %v, want 6 5 4 3", got)
	}
	if ex := get(t, d, 3); string(ex.Response.Body) != "no" || ex.Service != "api" {
		t.Errorf("exchange 3 of schema 0005 after reopening: %q %q", ex.Service, ex.Response.Body)
	}
	if ex := get(t, d, 5); len(ex.Response.Body) != 5 {
		t.Errorf("exchange 5 after reopening: %d body bytes, want 5", len(ex.Response.Body))
	}
}

// A reader that opened a segment's file before the segment was evicted and
// its file reused does not read the new segment's bytes as its own.
func TestDB_ReadAfterReuse(t *testing.T) {
	d := openDBAt(t, dbPath(t), DBOptions{MaxExchanges: 1})
	add(t, d, withBody(10)) // segment 1
	es := d.snapshot()
	var m meta
	if err := decodeMeta(es[0].meta, &m); err != nil {
		t.Fatal(err)
	}
	files := segmentFiles{d: d}
	defer files.close()
	if _, err := files.read(1, &m); err != nil {
		t.Fatal(err)
	}
	add(t, d, withBody(10)) // evicts segment 1: its file is a spare
	add(t, d, withBody(10)) // segment 3 overwrites it, still open in files
	if _, err := files.read(1, &m); !errors.Is(err, ErrNotFound) {
		t.Errorf("read of an evicted segment's reused file: %v, want ErrNotFound", err)
	}
}

// BenchmarkDB_Add is the storage cost of a batch as the Recorder hands it
// over, in the steady state (the history full, each Add evicting): 700
// exchanges of 100-byte bodies (a 20 ms batch at ~35,000 requests/s), 16
// of 256 KiB (bodies cut at the default BodyCap), and one. ns/op is per
// batch; the ns/exchange and cpu-ns/exchange metrics are what one exchange
// costs, in time and in CPU time (less noisy on a shared machine).
func BenchmarkDB_Add(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch int
		body  int
		o     DBOptions
	}{
		{"700x100B", 700, 100, DBOptions{}},
		{"16x256KiB", 16, 256 << 10, DBOptions{}},
		// What an Add costs whatever it stores, in a history of 1,000
		// segments (of 10,000, creating their files would take most of
		// the run).
		{"1x100B", 1, 100, DBOptions{MaxExchanges: 1000}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := openDBAt(b, dbPath(b), bc.o)
			// Bodies as the proxy hands them over: each in a buffer of
			// its own, not in the processor's caches (64 MiB of them).
			bodies := make([][]byte, min(1024, (64<<20)/bc.body))
			for i := range bodies {
				bodies[i] = bytes.Repeat([]byte{byte(i)}, bc.body)
			}
			reqH := []byte("GET /100 HTTP/1.1\r\nHost: 127.0.0.1:29002\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n")
			respH := []byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sat, 29 Nov 2026 22:00:00 GMT\r\n\r\n")
			exs := make([]*Exchange, bc.batch)
			for i := range exs {
				exs[i] = &Exchange{}
			}
			n := 0
			b.ReportAllocs()
			cpu0 := processCPU(b)
			for b.Loop() {
				for i, ex := range exs {
					n++
					*ex = Exchange{Service: "bench", Conn: uint64(i % 50), Seq: n, Remote: "127.0.0.1:40000", Backend: "127.0.0.1:29000",
						Start: t0, FirstByte: t0.Add(time.Millisecond), End: t0.Add(2 * time.Millisecond),
						Request:  Request{Method: "GET", Target: "/100"},
						Response: Response{Status: 200, Body: bodies[n%len(bodies)], Size: int64(bc.body)},
						rawReq:   reqH, rawResp: respH}
				}
				if err := d.Add(context.Background(), exs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/exchange")
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(n), "cpu-ns/exchange")
		})
	}
}

// processCPU is the CPU time (user and system) the process has used, in
// nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
