package graph

import (
	"context"
	"fmt"
	"slices"
)

// Walk calls fn for every node, concurrently, each only after fn returned nil
// for all its dependencies; with reverse set, each only after fn returned nil
// for all its dependents instead, which is the order for stopping. Nodes that
// become ready together are started in name order, each on its own goroutine.
//
// The first error returned by fn cancels the ctx passed to every other call,
// and Walk returns it wrapped with the node's name ("web: <err>"); nodes not
// yet started are then skipped. Errors from other nodes after the first are
// dropped. If ctx is cancelled before every node was handled, the nodes not
// started are skipped and Walk returns ctx's error (its cause, when set).
//
// Walk returns only after every call of fn it made has returned: it leaves no
// goroutine behind. fn must return once its ctx is done.
func (g *Graph) Walk(ctx context.Context, reverse bool, fn func(ctx context.Context, name string) error) error {
	prereqs, next := g.deps, g.dependents
	if reverse {
		prereqs, next = g.dependents, g.deps
	}

	walkCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		name string
		err  error
	}
	// Buffered for every node so that a finished call never blocks on Walk.
	results := make(chan result, len(g.nodes))

	pending := make(map[string]int, len(g.nodes))
	var ready []string // sorted
	for _, name := range g.nodes {
		pending[name] = len(prereqs[name])
		if pending[name] == 0 {
			ready = append(ready, name)
		}
	}

	var firstErr error
	running, finished := 0, 0
	for {
		if firstErr == nil && walkCtx.Err() == nil {
			for _, name := range ready {
				running++
				go func() { results <- result{name, fn(walkCtx, name)} }()
			}
			ready = ready[:0]
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		if r.err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", r.name, r.err)
				cancel()
			}
			continue
		}
		finished++
		for _, n := range next[r.name] {
			pending[n]--
			if pending[n] == 0 {
				i, _ := slices.BinarySearch(ready, n)
				ready = slices.Insert(ready, i, n)
			}
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if finished < len(g.nodes) {
		return context.Cause(ctx)
	}
	return nil
}
