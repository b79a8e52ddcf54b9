package graph

import (
	"fmt"
	"slices"
	"strings"
)

// Graph is an immutable directed acyclic graph of named nodes, where an edge
// from a to b means "a depends on b". A Graph is safe for concurrent use.
type Graph struct {
	deps       map[string][]string // node -> its direct dependencies, sorted, deduplicated
	dependents map[string][]string // node -> nodes that depend on it directly, sorted
	order      []string            // topological order, dependencies first
	nodes      []string            // sorted
	index      map[string]int      // node -> position in order
}

// New builds the dependency graph: deps maps each node to the nodes it depends
// on; a node with no dependencies must still be present as a key. Duplicate
// dependencies are ignored.
//
// New returns an error for a dependency on a node that is not a key of deps
// (`service "web" depends on undefined service "dbx"`) and for a cycle, which
// it names in order, each arrow reading "depends on" and starting from the
// cycle's alphabetically first node: `dependency cycle: api -> web -> api`.
// A node that depends on itself is a cycle of one: `dependency cycle: web -> web`.
// When there are several problems, New reports the first in name order, so the
// error is the same on every run.
func New(deps map[string][]string) (*Graph, error) {
	g := &Graph{
		deps:       make(map[string][]string, len(deps)),
		dependents: make(map[string][]string, len(deps)),
		index:      make(map[string]int, len(deps)),
	}
	for name := range deps {
		g.nodes = append(g.nodes, name)
	}
	slices.Sort(g.nodes)

	for _, name := range g.nodes {
		d := slices.Clone(deps[name])
		slices.Sort(d)
		d = slices.Compact(d)
		for _, dep := range d {
			if _, ok := deps[dep]; !ok {
				return nil, fmt.Errorf("service %q depends on undefined service %q", name, dep)
			}
		}
		g.deps[name] = d
	}
	if cycle := g.findCycle(); cycle != nil {
		return nil, fmt.Errorf("dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	for _, name := range g.nodes {
		for _, dep := range g.deps[name] {
			g.dependents[dep] = append(g.dependents[dep], name) // name order: already sorted
		}
	}
	g.order = g.topoSort()
	for i, name := range g.order {
		g.index[name] = i
	}
	return g, nil
}

// findCycle returns the first cycle found by a depth-first search in name
// order, as a path that starts and ends with the same node and is rotated to
// start at its smallest name, or nil when the graph is acyclic.
func (g *Graph) findCycle() []string {
	const (
		unvisited = iota
		onStack
		done
	)
	state := make(map[string]int, len(g.nodes))
	var stack []string
	var visit func(name string) []string
	visit = func(name string) []string {
		state[name] = onStack
		stack = append(stack, name)
		for _, dep := range g.deps[name] {
			switch state[dep] {
			case onStack:
				start := slices.Index(stack, dep)
				return canonicalCycle(stack[start:])
			case unvisited:
				if c := visit(dep); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		return nil
	}
	for _, name := range g.nodes {
		if state[name] == unvisited {
			if c := visit(name); c != nil {
				return c
			}
		}
	}
	return nil
}

// canonicalCycle rotates the cycle ring (without its closing repetition) to
// start at its smallest name and closes it.
func canonicalCycle(ring []string) []string {
	minAt := 0
	for i, n := range ring {
		if n < ring[minAt] {
			minAt = i
		}
	}
	out := make([]string, 0, len(ring)+1)
	out = append(out, ring[minAt:]...)
	out = append(out, ring[:minAt]...)
	return append(out, out[0])
}

// topoSort is Kahn's algorithm taking the smallest ready name first, which
// makes the order deterministic. The graph must be acyclic.
func (g *Graph) topoSort() []string {
	pending := make(map[string]int, len(g.nodes))
	var ready []string
	for _, name := range g.nodes {
		pending[name] = len(g.deps[name])
		if pending[name] == 0 {
			ready = append(ready, name) // g.nodes is sorted, so ready is too
		}
	}
	order := make([]string, 0, len(g.nodes))
	for len(ready) > 0 {
		name := ready[0]
		ready = ready[1:]
		order = append(order, name)
		for _, dependent := range g.dependents[name] {
			pending[dependent]--
			if pending[dependent] == 0 {
				i, _ := slices.BinarySearch(ready, dependent)
				ready = slices.Insert(ready, i, dependent)
			}
		}
	}
	return order
}

// Nodes returns every node, sorted by name.
func (g *Graph) Nodes() []string { return slices.Clone(g.nodes) }

// Order returns every node in topological order, dependencies first; among
// nodes whose dependencies are all placed, the smallest name comes first, so
// the order is the same on every run.
func (g *Graph) Order() []string { return slices.Clone(g.order) }

// Dependencies returns the direct dependencies of name, sorted, or nil for an
// unknown name.
func (g *Graph) Dependencies(name string) []string { return slices.Clone(g.deps[name]) }

// Dependents returns the nodes that depend on name directly, sorted, or nil
// for an unknown name.
func (g *Graph) Dependents(name string) []string { return slices.Clone(g.dependents[name]) }

// TransitiveDependents returns every node that depends on name directly or
// indirectly, not including name itself, in Order(): start them in this order,
// stop them in the reverse. It returns nil for an unknown name.
func (g *Graph) TransitiveDependents(name string) []string {
	return g.closure([]string{name}, g.dependents, false)
}

// Subgraph returns names plus all their transitive dependencies, in Order().
// Unknown names are ignored: callers validate names against Nodes first.
func (g *Graph) Subgraph(names []string) []string {
	return g.closure(names, g.deps, true)
}

// closure returns the nodes reachable from roots through edges, in Order(),
// including the roots themselves when withRoots is set.
func (g *Graph) closure(roots []string, edges map[string][]string, withRoots bool) []string {
	seen := make(map[string]bool)
	var visit func(name string)
	visit = func(name string) {
		for _, next := range edges[name] {
			if !seen[next] {
				seen[next] = true
				visit(next)
			}
		}
	}
	for _, r := range roots {
		if _, ok := g.deps[r]; !ok {
			continue
		}
		if withRoots {
			seen[r] = true
		}
		visit(r)
	}
	if len(seen) == 0 {
		return nil
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	slices.SortFunc(out, func(a, b string) int { return g.index[a] - g.index[b] })
	return out
}
