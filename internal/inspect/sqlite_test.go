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

// Bodies live in segment files beside the database: private, removed with
// the last exchange they hold, and a file without a row (a crash before the
// commit) is removed at the next open. A body record the file lost (a crash
// of the machine) leaves its exchange readable, without bodies.
func TestDB_SegmentFiles(t *testing.T) {
	path := dbPath(t)
	d, err := OpenDB(path, DBOptions{MaxExchanges: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(path), "inspect.bodies")
	segs := func() []string {
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
	add(t, d, withBody(10)) // segment 1
	add(t, d, withBody(20)) // segment 2
	if got := segs(); !reflect.DeepEqual(got, []string{"1.seg", "2.seg"}) {
		t.Errorf("segment files %v, want 1.seg 2.seg", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "1.seg")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("segment file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("segment folder: %v, %v; want mode 0700", fi.Mode(), err)
	}
	var page int
	if err := d.w.QueryRow(`PRAGMA page_size`).Scan(&page); err != nil || page != pageSize {
		t.Errorf("page size %d (%v), want %d", page, err, pageSize)
	}
	add(t, d, withBody(30)) // evicts exchange 1: its segment goes
	if got := segs(); !reflect.DeepEqual(got, []string{"2.seg", "3.seg"}) {
		t.Errorf("after eviction: %v, want 2.seg 3.seg", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(dir, "99.seg"), []byte("orphan"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "3.seg"), 5); err != nil {
		t.Fatal(err)
	}
	d = openDBAt(t, path, DBOptions{MaxExchanges: 2})
	if ex := get(t, d, 2); len(ex.Response.Body) != 20 { // the first use loads the index
		t.Errorf("exchange 2 body: %d bytes, want 20", len(ex.Response.Body))
	}
	if got := segs(); !reflect.DeepEqual(got, []string{"2.seg", "3.seg", "notes.txt"}) {
		t.Errorf("after reopening: %v, want the orphan gone", got)
	}
	ex := get(t, d, 3)
	if ex.Response.Body != nil || !ex.Response.Truncated || ex.Response.Size != 30 {
		t.Errorf("exchange whose body was lost: body %q truncated %v size %d; want none, true, 30",
			ex.Response.Body, ex.Response.Truncated, ex.Response.Size)
	}
}
