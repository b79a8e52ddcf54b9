package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

func TestOpen_CreatesFiles(t *testing.T) {
	path := dbPath(t) // its directory does not exist yet
	s := openAt(t, path)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("database mode = %v, want 0600", got)
	}
	di, err := os.Stat(s.JobOutputDir())
	if err != nil {
		t.Fatal(err)
	}
	if !di.IsDir() || di.Mode().Perm() != 0o700 {
		t.Errorf("jobs dir mode = %v, want a 0700 directory", di.Mode())
	}
	if got, want := s.JobOutputDir(), filepath.Join(filepath.Dir(path), "jobs"); got != want {
		t.Errorf("JobOutputDir = %q, want %q", got, want)
	}

	var mode string
	if err := s.r.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	var fk, timeout int
	if err := s.w.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRow("PRAGMA busy_timeout").Scan(&timeout); err != nil {
		t.Fatal(err)
	}
	if fk != 1 || timeout != 5000 {
		t.Errorf("foreign_keys = %d, busy_timeout = %d; want 1, 5000", fk, timeout)
	}
}

func TestOpen_ReadersCannotWrite(t *testing.T) {
	s := newStore(t)
	_, err := s.r.Exec(`INSERT INTO tokens (name, hash, created_at) VALUES ('x', zeroblob(32), 1)`)
	if err == nil {
		t.Fatal("insert through the read pool succeeded; want it refused (query_only)")
	}
}

func TestOpen_MigrationsIdempotent(t *testing.T) {
	type row struct {
		version int
		name    string
		at      int64
	}
	versions := func(s *Store) []row {
		t.Helper()
		rows, err := s.r.Query(`SELECT version, name, applied_at FROM schema_version ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.version, &r.name, &r.at); err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		return got
	}

	s := newStore(t)
	want, err := loadMigrations(migrationsFS)
	if err != nil {
		t.Fatal(err)
	}
	first := versions(s)
	if len(first) != len(want) || len(first) == 0 {
		t.Fatalf("schema_version has %d rows, want %d", len(first), len(want))
	}
	for i, r := range first {
		if r.version != i+1 || r.name != want[i].name {
			t.Errorf("schema_version[%d] = %d %s, want %d %s", i, r.version, r.name, i+1, want[i].name)
		}
	}
	j := createJob(t, s, "web")
	for range 3 {
		s = reopen(t, s)
	}
	if got := versions(s); !equalRows(got, first) {
		t.Errorf("after reopening, schema_version = %v, want %v (unchanged)", got, first)
	}
	if got := getJob(t, s, j.ID); got.Service != "web" {
		t.Errorf("job %d after reopen = %+v", j.ID, got)
	}
}

func equalRows[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOpen_ConcurrentFirstOpen(t *testing.T) {
	// Several openers of one new file (as two berth processes could be)
	// apply each migration once.
	path := dbPath(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(path) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("Open #%d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { s.Close() })
	}
	if t.Failed() {
		return
	}
	var n, maxV int
	if err := stores[0].r.QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if n != maxV {
		t.Errorf("schema_version has %d rows for version %d; want one per version", n, maxV)
	}
}

func TestOpen_NewerSchemaRefused(t *testing.T) {
	s := newStore(t)
	path := filepath.Join(s.dir, FileName)
	if _, err := s.w.Exec(`INSERT INTO schema_version (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), "newer than this berth knows") {
		t.Fatalf("Open of a newer database: err = %v, want one saying it is newer", err)
	}
}

func TestOpen_FailedMigrationRollsBack(t *testing.T) {
	path := dbPath(t)
	fsys := fstest.MapFS{
		"0001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
		"0002_b.sql": {Data: []byte(`CREATE TABLE b (x INTEGER); INSERT INTO nope VALUES (1);`)},
	}
	_, err := open(path, fsys)
	if err == nil || !strings.Contains(err.Error(), "migration 0002_b.sql") {
		t.Fatalf("open: err = %v, want migration 0002_b.sql to fail", err)
	}

	// Version 1 stays applied; nothing of version 2 does.
	fsys["0002_b.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (1);`)}
	s, err := open(path, fsys)
	if err != nil {
		t.Fatalf("open after fixing the migration: %v", err)
	}
	defer s.Close()
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in a = %d, %v; want 1", n, err)
	}
	if v, err := schemaVersion(context.Background(), s.r); err != nil || v != 2 {
		t.Errorf("schema version = %d, %v; want 2", v, err)
	}
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		wantErr string
	}{
		{"ordered by number", []string{"0002_b.sql", "0001_a.sql", "0010_j.sql", "0003_c.sql", "0004_d.sql", "0005_e.sql", "0006_f.sql", "0007_g.sql", "0008_h.sql", "0009_i.sql", "README.md"}, ""},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "0003_c.sql: expected version 2"},
		{"duplicate", []string{"0001_a.sql", "0001_b.sql"}, "expected version 2"},
		{"no number", []string{"init.sql"}, "init.sql: name must be NNNN_description.sql"},
		{"zero", []string{"0000_a.sql"}, "name must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys[f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			ms, err := loadMigrations(fsys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range ms {
				if m.version != i+1 {
					t.Errorf("ms[%d].version = %d", i, m.version)
				}
			}
			if len(ms) != 10 {
				t.Errorf("got %d migrations, want 10 (non-.sql files skipped)", len(ms))
			}
		})
	}
}

func TestOpen_BadPath(t *testing.T) {
	for _, p := range []string{"", filepath.Join(t.TempDir(), "a?b", FileName)} {
		if s, err := Open(p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded; want an error", p)
		}
	}
}

func TestStore_Close(t *testing.T) {
	s, err := Open(dbPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := s.Job(context.Background(), 1); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Job after Close: err = %v, want a closed-database error", err)
	}
	if _, err := s.CreateJob(context.Background(), Job{Service: "web", Kind: KindRun}); err == nil {
		t.Error("CreateJob after Close succeeded")
	}
}
