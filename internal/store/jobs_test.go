package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func TestJob_Lifecycle(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)

	j, err := s.CreateJob(ctx, Job{
		Service:    "web",
		Command:    []string{"python", "manage.py", "migrate", "--noinput"},
		Kind:       KindRun,
		LaunchedBy: "alice",
		Watchers:   []string{"carol", "bob", "carol"},
		Status:     StatusSucceeded, // ignored
		CreatedAt:  t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Job{
		ID:         j.ID,
		Service:    "web",
		Command:    []string{"python", "manage.py", "migrate", "--noinput"},
		Kind:       KindRun,
		LaunchedBy: "alice",
		Watchers:   []string{"bob", "carol"},
		Status:     StatusQueued,
		CreatedAt:  t0,
		OutputPath: filepath.Join(s.dir, "jobs", fmt.Sprint(j.ID)+".log"),
	}
	if j.ID <= 0 {
		t.Errorf("ID = %d, want > 0", j.ID)
	}
	if !reflect.DeepEqual(j, want) {
		t.Errorf("CreateJob returned\n%+v\nwant\n%+v", j, want)
	}
	if got := getJob(t, s, j.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Job after create =\n%+v\nwant\n%+v", got, want)
	}

	if err := s.StartJob(ctx, j.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	want.Status, want.StartedAt = StatusRunning, t0.Add(time.Second)
	if got := getJob(t, s, j.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Job after start =\n%+v\nwant\n%+v", got, want)
	}

	if err := s.FinishJob(ctx, j.ID, StatusFailed, intp(3), "exit status 3", t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	want.Status, want.ExitCode, want.Error, want.EndedAt = StatusFailed, intp(3), "exit status 3", t0.Add(2*time.Second)
	if got := getJob(t, s, j.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Job after finish =\n%+v\nwant\n%+v", got, want)
	}
}

func TestJob_Defaults(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	before := time.Now()
	j, err := s.CreateJob(ctx, Job{Service: "worker", Kind: KindRestart})
	if err != nil {
		t.Fatal(err)
	}
	if j.CreatedAt.Before(before.Add(-time.Second)) || j.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want about now, in UTC", j.CreatedAt)
	}
	got := getJob(t, s, j.ID)
	if got.Command != nil || got.Watchers != nil || got.ExitCode != nil || !got.StartedAt.IsZero() || !got.EndedAt.IsZero() {
		t.Errorf("job without command or watchers = %+v; want nil Command, Watchers, ExitCode and zero times", got)
	}
	if err := s.StartJob(ctx, j.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishJob(ctx, j.ID, StatusSucceeded, intp(0), "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	got = getJob(t, s, j.ID)
	if got.StartedAt.IsZero() || got.EndedAt.Before(got.StartedAt) || *got.ExitCode != 0 {
		t.Errorf("after start and finish at zero times: %+v; want both set to now, exit code 0", got)
	}
}

func TestJob_InvalidTransitions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)

	t.Run("finish twice", func(t *testing.T) {
		j := createJob(t, s, "web")
		if err := s.StartJob(ctx, j.ID, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishJob(ctx, j.ID, StatusSucceeded, intp(0), "", t0); err != nil {
			t.Fatal(err)
		}
		err := s.FinishJob(ctx, j.ID, StatusFailed, intp(1), "again", t0.Add(time.Hour))
		if !errors.Is(err, ErrJobFinished) {
			t.Fatalf("second FinishJob: err = %v, want ErrJobFinished", err)
		}
		if want := fmt.Sprintf("finish job %d: job already finished", j.ID); err.Error() != want {
			t.Errorf("error text = %q, want %q", err, want)
		}
		if got := getJob(t, s, j.ID); got.Status != StatusSucceeded || *got.ExitCode != 0 || !got.EndedAt.Equal(t0) {
			t.Errorf("job changed by the refused finish: %+v", got)
		}
	})
	t.Run("finish from queued", func(t *testing.T) {
		j := createJob(t, s, "web")
		if err := s.FinishJob(ctx, j.ID, StatusCancelled, nil, "", t0); err != nil {
			t.Fatalf("cancel a queued job: %v", err)
		}
		got := getJob(t, s, j.ID)
		if got.Status != StatusCancelled || !got.StartedAt.IsZero() || got.ExitCode != nil {
			t.Errorf("cancelled queued job = %+v", got)
		}
		if err := s.StartJob(ctx, j.ID, t0); !errors.Is(err, ErrJobFinished) {
			t.Errorf("start a cancelled job: err = %v, want ErrJobFinished", err)
		}
	})
	t.Run("start twice", func(t *testing.T) {
		j := createJob(t, s, "web")
		if err := s.StartJob(ctx, j.ID, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.StartJob(ctx, j.ID, t0.Add(time.Second)); !errors.Is(err, ErrJobStarted) {
			t.Errorf("second StartJob: err = %v, want ErrJobStarted", err)
		}
		if got := getJob(t, s, j.ID); !got.StartedAt.Equal(t0) {
			t.Errorf("StartedAt = %v, want the first start %v", got.StartedAt, t0)
		}
	})
	t.Run("finish with a non-terminal status", func(t *testing.T) {
		j := createJob(t, s, "web")
		for _, st := range []JobStatus{StatusQueued, StatusRunning, "done", ""} {
			if err := s.FinishJob(ctx, j.ID, st, nil, "", t0); err == nil || errors.Is(err, ErrJobFinished) {
				t.Errorf("FinishJob(%q): err = %v, want an invalid-status error", st, err)
			}
		}
		if got := getJob(t, s, j.ID); got.Status != StatusQueued {
			t.Errorf("status = %q, want queued", got.Status)
		}
	})
	t.Run("unknown job", func(t *testing.T) {
		const id = 999999
		checks := map[string]error{
			"Job":           func() error { _, err := s.Job(ctx, id); return err }(),
			"StartJob":      s.StartJob(ctx, id, t0),
			"FinishJob":     s.FinishJob(ctx, id, StatusFailed, nil, "", t0),
			"AddWatcher":    s.AddWatcher(ctx, id, "bob"),
			"RemoveWatcher": s.RemoveWatcher(ctx, id, "bob"),
		}
		for name, err := range checks {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", name, err)
			} else if !strings.Contains(err.Error(), "999999") {
				t.Errorf("%s: error %q does not name the job", name, err)
			}
		}
	})
	t.Run("bad job", func(t *testing.T) {
		for _, j := range []Job{
			{Kind: KindRun},                // no service
			{Service: "web"},               // no kind
			{Service: "web", Kind: "cron"}, // unknown kind
			{Service: "web", Kind: KindExec, Watchers: []string{""}},
		} {
			if _, err := s.CreateJob(ctx, j); err == nil {
				t.Errorf("CreateJob(%+v) succeeded; want an error", j)
			}
		}
	})
}

func TestJob_HistorySurvivesReopen(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a := createJob(t, s, "web")
	b := createJob(t, s, "worker")
	if err := s.StartJob(ctx, a.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishJob(ctx, a.ID, StatusSucceeded, intp(0), "", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddWatcher(ctx, b.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	before, err := s.Jobs(ctx, JobFilter{})
	if err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s)
	after, err := s.Jobs(ctx, JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("after reopen:\n%+v\nwant\n%+v", after, before)
	}
	// IDs keep growing: a new job never takes an old one's ID or output file.
	if c := createJob(t, s, "web"); c.ID <= b.ID {
		t.Errorf("new job ID %d, want > %d", c.ID, b.ID)
	}
}

func TestJobs_Filter(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var ids []int64
	for i, svc := range []string{"web", "worker", "web", "db", "web"} {
		j := createJob(t, s, svc)
		ids = append(ids, j.ID)
		switch i {
		case 0:
			s.StartJob(ctx, j.ID, t0)
			s.FinishJob(ctx, j.ID, StatusSucceeded, intp(0), "", t0)
		case 1, 2:
			s.StartJob(ctx, j.ID, t0)
		}
	}
	// ids[0] web succeeded, [1] worker running, [2] web running, [3] db queued, [4] web queued.
	tests := []struct {
		name   string
		filter JobFilter
		want   []int64
	}{
		{"all, newest first", JobFilter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"service", JobFilter{Service: "web"}, []int64{ids[4], ids[2], ids[0]}},
		{"status", JobFilter{Status: []JobStatus{StatusRunning}}, []int64{ids[2], ids[1]}},
		{"statuses", JobFilter{Status: []JobStatus{StatusQueued, StatusSucceeded}}, []int64{ids[4], ids[3], ids[0]}},
		{"service and status", JobFilter{Service: "web", Status: []JobStatus{StatusQueued, StatusRunning}}, []int64{ids[4], ids[2]}},
		{"limit", JobFilter{Limit: 2}, []int64{ids[4], ids[3]}},
		{"next page", JobFilter{BeforeID: ids[3], Limit: 2}, []int64{ids[2], ids[1]}},
		{"no match", JobFilter{Service: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, err := s.Jobs(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, j := range jobs {
				got = append(got, j.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := s.Jobs(ctx, JobFilter{Status: []JobStatus{"done"}}); err == nil {
		t.Error("Jobs with an unknown status succeeded; want an error")
	}
}

func TestRecoverJobs(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	queued := createJob(t, s, "web")
	running := createJob(t, s, "web")
	done := createJob(t, s, "web")
	s.StartJob(ctx, running.ID, t0)
	s.StartJob(ctx, done.ID, t0)
	s.FinishJob(ctx, done.ID, StatusSucceeded, intp(0), "", t0.Add(time.Second))

	// berth dies; a new one opens the file.
	s = reopen(t, s)
	at := t0.Add(time.Hour)
	n, err := s.RecoverJobs(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("RecoverJobs = %d, want 2", n)
	}
	for _, id := range []int64{queued.ID, running.ID} {
		j := getJob(t, s, id)
		if j.Status != StatusFailed || j.Error != "berth stopped while the job was running" || !j.EndedAt.Equal(at) || j.ExitCode != nil {
			t.Errorf("recovered job %d = %+v", id, j)
		}
	}
	if j := getJob(t, s, done.ID); j.Status != StatusSucceeded || j.Error != "" || !j.EndedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("finished job touched by recovery: %+v", j)
	}
	if n, err := s.RecoverJobs(ctx, at); err != nil || n != 0 {
		t.Errorf("second RecoverJobs = %d, %v; want 0, nil", n, err)
	}
	if err := s.FinishJob(ctx, running.ID, StatusSucceeded, intp(0), "", at); !errors.Is(err, ErrJobFinished) {
		t.Errorf("finishing a recovered job: err = %v, want ErrJobFinished", err)
	}
}

func TestWatchers(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	j := createJob(t, s, "web")
	other := createJob(t, s, "web")

	for _, u := range []string{"dave", "bob", "dave"} {
		if err := s.AddWatcher(ctx, j.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	if got := getJob(t, s, j.ID).Watchers; !reflect.DeepEqual(got, []string{"bob", "dave"}) {
		t.Errorf("watchers = %q, want [bob dave]", got)
	}
	if got := getJob(t, s, other.ID).Watchers; got != nil {
		t.Errorf("other job's watchers = %q, want none", got)
	}
	if err := s.RemoveWatcher(ctx, j.ID, "dave"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveWatcher(ctx, j.ID, "nobody"); err != nil {
		t.Errorf("removing a non-watcher: %v, want nil", err)
	}
	jobs, err := s.Jobs(ctx, JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := jobs[1].Watchers; jobs[1].ID != j.ID || !reflect.DeepEqual(got, []string{"bob"}) {
		t.Errorf("Jobs: job %d watchers = %q, want [bob]", jobs[1].ID, got)
	}
	if err := s.AddWatcher(ctx, j.ID, ""); err == nil {
		t.Error("AddWatcher with an empty name succeeded")
	}

	// Watching a finished job is allowed (and harmless).
	s.FinishJob(ctx, other.ID, StatusCancelled, nil, "", t0)
	if err := s.AddWatcher(ctx, other.ID, "erin"); err != nil {
		t.Errorf("watch a finished job: %v", err)
	}
}

func TestJobOutput(t *testing.T) {
	s := newStore(t)
	j := createJob(t, s, "web")
	if j.OutputPath != s.JobOutputPath(j.ID) {
		t.Errorf("OutputPath = %q, want JobOutputPath = %q", j.OutputPath, s.JobOutputPath(j.ID))
	}
	for _, chunk := range []string{"hello\n", "world\n"} {
		f, err := s.OpenJobOutput(j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(f, chunk); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(j.OutputPath)
	if err != nil || string(b) != "hello\nworld\n" {
		t.Errorf("output = %q, %v; want both chunks appended", b, err)
	}
	fi, err := os.Stat(j.OutputPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("output file mode = %v, %v; want 0600", fi.Mode(), err)
	}

	// The stored path is relative: a state directory that moves keeps its output.
	oldDir := s.dir
	s.Close()
	newDir := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(oldDir, newDir); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, filepath.Join(newDir, FileName))
	if got := getJob(t, s, j.ID).OutputPath; got != filepath.Join(newDir, "jobs", fmt.Sprint(j.ID)+".log") {
		t.Errorf("OutputPath after moving the state dir = %q", got)
	}
}

func TestJob_ConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const writers, perWriter = 8, 200

	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 { // readers run alongside the writers, through the read pool
		readers.Go(func() {
			for range 300 {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Jobs(ctx, JobFilter{Limit: 20}); err != nil {
					t.Errorf("Jobs: %v", err)
					return
				}
			}
		})
	}

	var wg sync.WaitGroup
	ids := make([][]int64, writers)
	for w := range writers {
		wg.Go(func() {
			svc := fmt.Sprintf("svc%d", w)
			for i := range perWriter {
				j, err := s.CreateJob(ctx, Job{Service: svc, Kind: KindAPI, Command: []string{"true"}, Watchers: []string{"w"}})
				if err != nil {
					t.Errorf("CreateJob: %v", err)
					return
				}
				ids[w] = append(ids[w], j.ID)
				if i%2 == 0 {
					if err := s.FinishJob(ctx, j.ID, StatusSucceeded, intp(0), "", time.Time{}); err != nil {
						t.Errorf("FinishJob: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if t.Failed() {
		return
	}

	seen := map[int64]bool{}
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("ID %d assigned twice", id)
			}
			seen[id] = true
		}
	}
	all, err := s.Jobs(ctx, JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*perWriter || len(seen) != writers*perWriter {
		t.Errorf("got %d jobs (%d IDs), want %d", len(all), len(seen), writers*perWriter)
	}
	done, err := s.Jobs(ctx, JobFilter{Service: "svc3", Status: []JobStatus{StatusSucceeded}})
	if err != nil || len(done) != perWriter/2 {
		t.Errorf("svc3 succeeded jobs = %d, %v; want %d", len(done), err, perWriter/2)
	}
}

func TestJob_ContextCancelled(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.CreateJob(ctx, Job{Service: "web", Kind: KindRun}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateJob with a cancelled ctx: err = %v, want context.Canceled", err)
	}
	// The writer connection is still usable afterwards.
	createJob(t, s, "web")
}

func BenchmarkCreateFinishJob(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	cmd := []string{"python", "manage.py", "migrate"}
	b.ReportAllocs()
	for b.Loop() {
		j, err := s.CreateJob(ctx, Job{Service: "web", Kind: KindRun, Command: cmd, LaunchedBy: "alice"})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.FinishJob(ctx, j.ID, StatusSucceeded, intp(0), "", time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateFinishJob_Parallel(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	cmd := []string{"python", "manage.py", "migrate"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			j, err := s.CreateJob(ctx, Job{Service: "web", Kind: KindRun, Command: cmd, LaunchedBy: "alice"})
			if err != nil {
				b.Error(err)
				return
			}
			if err := s.FinishJob(ctx, j.ID, StatusSucceeded, intp(0), "", time.Time{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
