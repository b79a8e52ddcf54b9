package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder notes when each node's fn started and finished, as positions in
// one global sequence of events.
type recorder struct {
	mu       sync.Mutex // guards seq, started, finished, calls
	seq      int
	started  map[string]int
	finished map[string]int
	calls    []string
}

func newRecorder() *recorder {
	return &recorder{started: map[string]int{}, finished: map[string]int{}}
}

func (r *recorder) start(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.started[name] = r.seq
	r.calls = append(r.calls, name)
}

func (r *recorder) finish(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.finished[name] = r.seq
}

func TestGraph_Walk(t *testing.T) {
	big := map[string][]string{}
	for i := range 40 { // a layered graph: every node depends on a few of the previous layer
		name := fmt.Sprintf("n%02d", i)
		var deps []string
		if i >= 8 {
			for j := (i/8 - 1) * 8; j < (i/8)*8; j += 1 + i%3 {
				deps = append(deps, fmt.Sprintf("n%02d", j))
			}
		}
		big[name] = deps
	}
	for _, tc := range []struct {
		name string
		deps map[string][]string
	}{
		{"web stack", stack},
		{"layered graph", big},
	} {
		for _, reverse := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s reverse=%v waits for every prerequisite", tc.name, reverse), func(t *testing.T) {
				g := mustNew(t, tc.deps)
				for range 20 {
					rec := newRecorder()
					err := g.Walk(context.Background(), reverse, func(ctx context.Context, name string) error {
						rec.start(name)
						defer rec.finish(name)
						return nil
					})
					if err != nil {
						t.Fatalf("Walk: %v", err)
					}
					if got, want := len(rec.calls), len(g.Nodes()); got != want {
						t.Fatalf("fn called %d times, want %d (calls %q)", got, want, rec.calls)
					}
					for _, name := range g.Nodes() {
						prereqs := g.Dependencies(name)
						if reverse {
							prereqs = g.Dependents(name)
						}
						for _, p := range prereqs {
							if rec.finished[p] > rec.started[name] {
								t.Fatalf("%s started (event %d) before %s finished (event %d)", name, rec.started[name], p, rec.finished[p])
							}
						}
					}
				}
			})
		}
	}
}

func TestGraph_Walk_Concurrent(t *testing.T) {
	t.Run("independent nodes run at the same time", func(t *testing.T) {
		g := mustNew(t, map[string][]string{"a": nil, "b": nil, "c": nil, "top": {"a", "b", "c"}})
		var wg sync.WaitGroup
		wg.Add(3)
		allIn := make(chan struct{})
		go func() { wg.Wait(); close(allIn) }()
		err := g.Walk(context.Background(), false, func(ctx context.Context, name string) error {
			if name == "top" {
				return nil
			}
			wg.Done()
			// Each of a, b, c returns only once all three are running: a
			// sequential walk would never get there.
			select {
			case <-allIn:
				return nil
			case <-time.After(5 * time.Second):
				return errors.New("the other independent nodes never started")
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a dependent starts as soon as its own dependencies are done", func(t *testing.T) {
		// slow blocks until fast's dependent ran: fast-dependent must not wait for slow.
		g := mustNew(t, map[string][]string{"slow": nil, "fast": nil, "after-fast": {"fast"}})
		afterFastRan := make(chan struct{})
		err := g.Walk(context.Background(), false, func(ctx context.Context, name string) error {
			switch name {
			case "slow":
				select {
				case <-afterFastRan:
				case <-time.After(5 * time.Second):
					return errors.New("after-fast waited for an unrelated node")
				}
			case "after-fast":
				close(afterFastRan)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestGraph_Walk_Error(t *testing.T) {
	boom := errors.New("boom")

	t.Run("first error cancels the rest and skips nodes not started", func(t *testing.T) {
		// db fails; cache is running and sees its ctx cancelled; api and web never start.
		g := mustNew(t, map[string][]string{"db": nil, "cache": nil, "api": {"db", "cache"}, "web": {"api"}})
		rec := newRecorder()
		cacheRunning := make(chan struct{})
		var cacheErr error
		err := g.Walk(context.Background(), false, func(ctx context.Context, name string) error {
			rec.start(name)
			switch name {
			case "db":
				<-cacheRunning
				return boom
			case "cache":
				close(cacheRunning)
				<-ctx.Done()
				cacheErr = ctx.Err()
				return cacheErr
			}
			return nil
		})
		if got, want := fmt.Sprint(err), "db: boom"; got != want {
			t.Errorf("Walk error = %q, want %q", got, want)
		}
		if !errors.Is(err, boom) {
			t.Errorf("errors.Is(%v, boom) = false, want true", err)
		}
		if !errors.Is(cacheErr, context.Canceled) {
			t.Errorf("cache's ctx error = %v, want context.Canceled", cacheErr)
		}
		slices.Sort(rec.calls)
		if want := []string{"cache", "db"}; !slices.Equal(rec.calls, want) {
			t.Errorf("fn called for %q, want %q", rec.calls, want)
		}
	})

	t.Run("error in reverse walk names the node", func(t *testing.T) {
		g := mustNew(t, map[string][]string{"db": nil, "web": {"db"}})
		var calls []string
		err := g.Walk(context.Background(), true, func(ctx context.Context, name string) error {
			calls = append(calls, name) // web is the only one called
			return fmt.Errorf("stop service %q: %w", name, boom)
		})
		if got, want := fmt.Sprint(err), `web: stop service "web": boom`; got != want {
			t.Errorf("Walk error = %q, want %q", got, want)
		}
		if want := []string{"web"}; !slices.Equal(calls, want) {
			t.Errorf("fn called for %q, want %q", calls, want)
		}
	})

	t.Run("cancelled parent ctx skips the rest and returns its error", func(t *testing.T) {
		g := mustNew(t, map[string][]string{"a": nil, "b": {"a"}, "c": {"b"}})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var calls []string
		err := g.Walk(ctx, false, func(_ context.Context, name string) error {
			calls = append(calls, name)
			if name == "a" {
				cancel() // a succeeds, but the walk was cancelled meanwhile
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Walk error = %v, want context.Canceled", err)
		}
		if want := []string{"a"}; !slices.Equal(calls, want) {
			t.Errorf("fn called for %q, want %q", calls, want)
		}
	})

	t.Run("already cancelled ctx calls nothing", func(t *testing.T) {
		g := mustNew(t, stack)
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := errors.New("berth is shutting down")
		cancel(cause)
		err := g.Walk(ctx, false, func(context.Context, string) error {
			t.Error("fn called after cancel")
			return nil
		})
		if !errors.Is(err, cause) {
			t.Errorf("Walk error = %v, want the cancel cause", err)
		}
	})

	t.Run("empty graph", func(t *testing.T) {
		g := mustNew(t, nil)
		if err := g.Walk(context.Background(), false, func(context.Context, string) error { return boom }); err != nil {
			t.Errorf("Walk on empty graph = %v, want nil", err)
		}
	})
}
