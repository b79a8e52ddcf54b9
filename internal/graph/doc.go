// Package graph owns the dependency graph of a project's services: building it
// from depends_on, rejecting unknown dependencies and cycles with errors that
// name them, ordering nodes deterministically, and walking the graph
// concurrently so that a node is handled only after its dependencies (or, in
// reverse, its dependents).
//
// It is pure: it knows node names and edges only. It must not start processes,
// touch the file system or the network, log, or import any other internal
// package. Callers (internal/engine) decide what a node means.
package graph
