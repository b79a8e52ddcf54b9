package store

import (
	"context"
	"database/sql"
	"github.com/berth-dev/berth/internal/berthtest"
	"path/filepath"
	"testing"
)

// TestMain ends the package's tests with a goroutine-leak check: every Store
// a test opened must have been closed, with its database/sql pools.
func TestMain(m *testing.M) { berthtest.Main(m) }

// dbPath returns the path of a new database in a fresh temporary directory.
func dbPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "state", FileName)
}

// openAt opens the database at path, closed at the end of the test.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// newStore opens a new database, closed at the end of the test.
func newStore(t testing.TB) *Store {
	t.Helper()
	return openAt(t, dbPath(t))
}

// reopen closes s and opens its file again.
func reopen(t testing.TB, s *Store) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openAt(t, filepath.Join(s.dir, FileName))
}

// createJob creates a job for service, failing the test on error.
func createJob(t testing.TB, s *Store, service string) Job {
	t.Helper()
	j, err := s.CreateJob(context.Background(), Job{
		Service: service, Command: []string{"sh", "-c", "echo hi"}, Kind: KindRun, LaunchedBy: "alice",
	})
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	return j
}

func getJob(t testing.TB, s *Store, id int64) Job {
	t.Helper()
	j, err := s.Job(context.Background(), id)
	if err != nil {
		t.Fatalf("Job(%d): %v", id, err)
	}
	return j
}

func intp(i int) *int { return &i }

func nullInt(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: true} }
