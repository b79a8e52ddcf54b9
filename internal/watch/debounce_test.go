package watch

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"
)

const ms = time.Millisecond

// step is one input of a debouncer table test, at an offset from time zero.
type step struct {
	at       time.Duration
	path     string
	c        change
	overflow bool
}

// sent is a batch a debouncer table test expects, and when.
type sent struct {
	at       time.Duration
	paths    []string
	overflow bool
}

// simulate runs the debouncer as batcher.run would with a perfect clock: a
// batch is taken exactly at its deadline.
func simulate(quiet, maxWait time.Duration, steps []step) []sent {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	d := newDebouncer(quiet, maxWait)
	var got []sent
	flushUntil := func(now time.Time) {
		for {
			dl, ok := d.deadline()
			if !ok || dl.After(now) {
				return
			}
			if b, ok := d.take(); ok {
				got = append(got, sent{at: dl.Sub(t0), paths: b.Paths, overflow: b.Overflow})
			}
		}
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		flushUntil(now)
		if s.overflow {
			d.setOverflow(now)
		} else {
			d.add(now, s.path, s.c)
		}
	}
	flushUntil(t0.Add(time.Hour))
	return got
}

func TestDebouncer(t *testing.T) {
	every := func(from, to, interval time.Duration, path string) []step {
		var s []step
		for at := from; at <= to; at += interval {
			s = append(s, step{at: at, path: path})
		}
		return s
	}
	tests := []struct {
		name           string
		quiet, maxWait time.Duration
		steps          []step
		want           []sent
	}{
		{
			name:  "one change is one batch after the quiet window",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{{at: 0, path: "/r/a"}},
			want:  []sent{{at: 100 * ms, paths: []string{"/r/a"}}},
		},
		{
			name:  "changes closer than quiet coalesce, sorted and deduplicated",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{{at: 0, path: "/r/b"}, {at: 50 * ms, path: "/r/a"}, {at: 120 * ms, path: "/r/b"}},
			want:  []sent{{at: 220 * ms, paths: []string{"/r/a", "/r/b"}}},
		},
		{
			name:  "a gap longer than quiet splits",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{{at: 0, path: "/r/a"}, {at: 150 * ms, path: "/r/b"}},
			want:  []sent{{at: 100 * ms, paths: []string{"/r/a"}}, {at: 250 * ms, paths: []string{"/r/b"}}},
		},
		{
			name:  "continuous changes are flushed every maxWait",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: every(0, 4500*ms, 50*ms, "/r/a"),
			want: []sent{
				{at: 2000 * ms, paths: []string{"/r/a"}},
				{at: 4000 * ms, paths: []string{"/r/a"}}, // the change at 2000ms, after the flush, began it
				{at: 4600 * ms, paths: []string{"/r/a"}},
			},
		},
		{
			name:  "maxWait shorter than quiet wins",
			quiet: 100 * ms, maxWait: 30 * ms,
			steps: []step{{at: 0, path: "/r/a"}, {at: 10 * ms, path: "/r/b"}},
			want:  []sent{{at: 30 * ms, paths: []string{"/r/a", "/r/b"}}},
		},
		{
			name:  "atomic save reports the final name only",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{
				{at: 0, path: "/r/a.txt.1f2e", c: created},
				{at: 1 * ms, path: "/r/a.txt.1f2e", c: changed},
				{at: 2 * ms, path: "/r/a.txt.1f2e", c: removed}, // renamed away
				{at: 2 * ms, path: "/r/a.txt", c: created},
			},
			want: []sent{{at: 102 * ms, paths: []string{"/r/a.txt"}}},
		},
		{
			name:  "vim save: backup rename, new file, backup removed",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{
				{at: 0, path: "/r/a.txt", c: removed}, // renamed to a.txt~
				{at: 1 * ms, path: "/r/a.txt", c: created},
				{at: 2 * ms, path: "/r/a.txt", c: changed},
				{at: 3 * ms, path: "/r/a.txt", c: changed}, // chmod
			},
			want: []sent{{at: 103 * ms, paths: []string{"/r/a.txt"}}},
		},
		{
			name:  "created then removed is no batch at all",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{{at: 0, path: "/r/tmp", c: created}, {at: 5 * ms, path: "/r/tmp", c: removed}},
			want:  nil,
		},
		{
			name:  "an existing file removed is reported",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{{at: 0, path: "/r/a", c: changed}, {at: 5 * ms, path: "/r/a", c: changed}, {at: 6 * ms, path: "/r/a", c: removed}},
			want:  []sent{{at: 106 * ms, paths: []string{"/r/a"}}},
		},
		{
			name:  "a write does not undo a removal",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{{at: 0, path: "/r/t", c: created}, {at: 1 * ms, path: "/r/t", c: removed}, {at: 2 * ms, path: "/r/t", c: changed}},
			want:  nil,
		},
		{
			name:  "a folder removed takes what the batch saw below it",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{
				{at: 0, path: "/r/d", c: created},
				{at: 0, path: "/r/d/new", c: created},
				{at: 1 * ms, path: "/r/keep/x", c: changed},
				{at: 2 * ms, path: "/r/d", c: removedTree},
				{at: 3 * ms, path: "/r/old", c: changed},
				{at: 3 * ms, path: "/r/old/f", c: changed},
				{at: 4 * ms, path: "/r/old", c: removedTree},
			},
			want: []sent{{at: 104 * ms, paths: []string{"/r/keep/x", "/r/old", "/r/old/f"}}},
		},
		{
			name:  "overflow alone is a batch",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{{at: 0, overflow: true}},
			want:  []sent{{at: 100 * ms, overflow: true}},
		},
		{
			name:  "overflow is kept with the paths and cleared after",
			quiet: 100 * ms, maxWait: 2 * time.Second,
			steps: []step{{at: 0, path: "/r/a"}, {at: 10 * ms, overflow: true}, {at: 500 * ms, path: "/r/b"}},
			want: []sent{
				{at: 110 * ms, paths: []string{"/r/a"}, overflow: true},
				{at: 600 * ms, paths: []string{"/r/b"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := simulate(tt.quiet, tt.maxWait, tt.steps)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("batches:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDebouncer_TooManyPaths(t *testing.T) {
	now := time.Now()
	d := newDebouncer(100*ms, time.Second)
	for i := range maxBatchPaths + 5 {
		d.add(now, fmt.Sprintf("/r/%05d", i), changed)
	}
	d.add(now, "/r/00000", changed) // known paths still update
	b, ok := d.take()
	if !ok || !b.Overflow || len(b.Paths) != maxBatchPaths {
		t.Fatalf("take() = %d paths, overflow %v, ok %v; want %d paths, overflow", len(b.Paths), b.Overflow, ok, maxBatchPaths)
	}
	if _, ok := d.take(); ok {
		t.Fatal("second take() reported a batch")
	}
}

// recv waits for the next batch on c; ok is false when c is closed.
func recv(t *testing.T, c <-chan Batch) (b Batch, ok bool) {
	t.Helper()
	select {
	case b, ok = <-c:
		return b, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no batch within 5s")
		return Batch{}, false
	}
}

// noRecv fails if c delivers anything within d.
func noRecv(t *testing.T, c <-chan Batch, d time.Duration) {
	t.Helper()
	select {
	case b, ok := <-c:
		t.Fatalf("unexpected batch %+v (open %v)", b, ok)
	case <-time.After(d):
	}
}

// waitTaken waits until b's goroutine has taken the pending batch.
func waitTaken(t *testing.T, b *batcher) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		pending := b.deb.pending
		b.mu.Unlock()
		if !pending {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("batch not taken within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func startBatcher(t *testing.T, quiet, maxWait time.Duration) (*batcher, *fakeClock, context.CancelFunc, chan struct{}) {
	t.Helper()
	clock := newFakeClock()
	b := newBatcher(clock, quiet, maxWait)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return b, clock, cancel, done
}

func TestBatcher_FakeClock(t *testing.T) {
	t.Run("sends after the quiet window, not before", func(t *testing.T) {
		b, clock, _, _ := startBatcher(t, 100*ms, 2*time.Second)
		b.add("/r/a", changed)
		clock.WaitTimer(t, 100*ms)
		clock.Advance(99 * ms)
		noRecv(t, b.out, 20*ms)
		clock.Advance(1 * ms)
		got, _ := recv(t, b.out)
		if want := (Batch{Paths: []string{"/r/a"}}); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})

	t.Run("a change in the window moves the deadline", func(t *testing.T) {
		b, clock, _, _ := startBatcher(t, 100*ms, 2*time.Second)
		b.add("/r/a", changed)
		clock.WaitTimer(t, 100*ms)
		clock.Advance(60 * ms)
		b.add("/r/b", changed)
		clock.Advance(40 * ms) // the first timer fires at 100ms: early, re-armed for 60ms
		clock.WaitTimer(t, 60*ms)
		noRecv(t, b.out, 20*ms)
		clock.Advance(60 * ms)
		got, _ := recv(t, b.out)
		if want := (Batch{Paths: []string{"/r/a", "/r/b"}}); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})

	t.Run("maxWait cuts a continuous stream", func(t *testing.T) {
		b, clock, _, _ := startBatcher(t, 100*ms, 250*ms)
		b.add("/r/a", changed)
		clock.WaitTimer(t, 100*ms)
		for range 4 { // a change every 80ms: never quiet for 100ms
			clock.Advance(80 * ms)
			b.add("/r/a", changed)
		}
		// Now t=320ms, past the 250ms deadline: the batch comes without the
		// clock moving again, though no 100ms were ever quiet.
		got, _ := recv(t, b.out)
		if want := (Batch{Paths: []string{"/r/a"}}); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})

	t.Run("a slow receiver never blocks add", func(t *testing.T) {
		b, clock, _, _ := startBatcher(t, 100*ms, 2*time.Second)
		b.add("/r/a", changed)
		clock.WaitTimer(t, 100*ms)
		clock.Advance(100 * ms)
		waitTaken(t, b) // batch {a} is now waiting for a receiver
		for i := range 1000 {
			b.add(fmt.Sprintf("/r/x%d", i%3), changed)
		}
		got, _ := recv(t, b.out)
		if want := []string{"/r/a"}; !reflect.DeepEqual(got.Paths, want) {
			t.Errorf("first batch %v, want %v", got.Paths, want)
		}
		clock.WaitTimer(t, 100*ms)
		clock.Advance(100 * ms)
		got, _ = recv(t, b.out)
		if want := []string{"/r/x0", "/r/x1", "/r/x2"}; !reflect.DeepEqual(got.Paths, want) {
			t.Errorf("second batch %v, want %v", got.Paths, want)
		}
	})

	t.Run("cancel with a pending batch closes the channel without it", func(t *testing.T) {
		b, clock, cancel, done := startBatcher(t, 100*ms, 2*time.Second)
		b.add("/r/a", changed)
		clock.WaitTimer(t, 100*ms)
		cancel()
		<-done
		if got, ok := recv(t, b.out); ok {
			t.Errorf("got %+v after cancel, want closed channel", got)
		}
	})

	t.Run("cancel while blocked sending", func(t *testing.T) {
		b, clock, cancel, done := startBatcher(t, 100*ms, 2*time.Second)
		b.add("/r/a", changed)
		clock.WaitTimer(t, 100*ms)
		clock.Advance(100 * ms) // run may or may not have reached its send: both must end
		cancel()
		<-done
		for range b.out { // at most the one batch, then closed
		}
	})
}

func TestDebouncer_BurstWaitsLonger(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		paths int
		want  time.Duration // after the last change
	}{
		{"one file saved", 1, 20 * time.Millisecond},
		{"an atomic save's few names", burstPaths, 20 * time.Millisecond},
		{"a burst", burstPaths + 1, 250 * time.Millisecond},
		{"a checkout", 500, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDebouncer(20*time.Millisecond, 10*time.Second)
			d.burstQuiet = 250 * time.Millisecond
			for i := 0; i < tt.paths; i++ {
				d.add(t0, fmt.Sprintf("/src/f%d", i), changed)
			}
			got, ok := d.deadline()
			if !ok || got.Sub(t0) != tt.want {
				t.Fatalf("deadline = %v after the last change (ok %v), want %v", got.Sub(t0), ok, tt.want)
			}
		})
	}
}
