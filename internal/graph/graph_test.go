package graph

import (
	"slices"
	"testing"
)

// stack is a typical web project: web -> api -> {db, cache}, worker -> {db, cache}, migrate -> db.
var stack = map[string][]string{
	"web":     {"api"},
	"api":     {"db", "cache", "migrate"},
	"worker":  {"db", "cache"},
	"migrate": {"db"},
	"db":      nil,
	"cache":   {},
}

func mustNew(t *testing.T, deps map[string][]string) *Graph {
	t.Helper()
	g, err := New(deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return g
}

func TestGraph_Order(t *testing.T) {
	tests := []struct {
		name string
		deps map[string][]string
		want []string
	}{
		{"empty graph", map[string][]string{}, []string{}},
		{"nil graph", nil, []string{}},
		{"single node", map[string][]string{"web": nil}, []string{"web"}},
		{"independent nodes sort by name", map[string][]string{"c": nil, "a": nil, "b": nil}, []string{"a", "b", "c"}},
		{"chain puts dependencies first", map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}, []string{"c", "b", "a"}},
		{"ties broken by name", map[string][]string{"z": nil, "y": {"z"}, "a": {"z"}, "m": nil}, []string{"m", "z", "a", "y"}},
		{"duplicate dependencies are ignored", map[string][]string{"a": {"b", "b"}, "b": nil}, []string{"b", "a"}},
		{"diamond", map[string][]string{"top": {"l", "r"}, "l": {"base"}, "r": {"base"}, "base": nil}, []string{"base", "l", "r", "top"}},
		{"web stack", stack, []string{"cache", "db", "migrate", "api", "web", "worker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustNew(t, tt.deps)
			for range 5 { // map iteration order must not leak into the result
				if got := g.Order(); !slices.Equal(got, tt.want) {
					t.Fatalf("Order() = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestGraph_Nodes(t *testing.T) {
	got := mustNew(t, stack).Nodes()
	want := []string{"api", "cache", "db", "migrate", "web", "worker"}
	if !slices.Equal(got, want) {
		t.Errorf("Nodes() = %q, want %q", got, want)
	}
}

func TestNew_Errors(t *testing.T) {
	tests := []struct {
		name string
		deps map[string][]string
		want string
	}{
		{
			"unknown dependency",
			map[string][]string{"web": {"dbx"}, "db": nil},
			`service "web" depends on undefined service "dbx"`,
		},
		{
			"first unknown dependency in name order",
			map[string][]string{"web": {"zz", "aa"}, "api": {"nope"}},
			`service "api" depends on undefined service "nope"`,
		},
		{
			"self cycle",
			map[string][]string{"web": {"web"}},
			"dependency cycle: web -> web",
		},
		{
			"two-node cycle starts at the smallest name",
			map[string][]string{"web": {"api"}, "api": {"web"}},
			"dependency cycle: api -> web -> api",
		},
		{
			"long cycle named in order",
			map[string][]string{
				"web": {"api"}, "api": {"queue"}, "queue": {"worker"}, "worker": {"web"},
				"db": nil, "cache": {"db"},
			},
			"dependency cycle: api -> queue -> worker -> web -> api",
		},
		{
			"cycle reached through an acyclic prefix",
			map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"d"}, "d": {"c"}},
			"dependency cycle: c -> d -> c",
		},
		{
			"unknown dependency reported before a cycle",
			map[string][]string{"a": {"a"}, "b": {"x"}},
			`service "b" depends on undefined service "x"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 {
				g, err := New(tt.deps)
				if err == nil {
					t.Fatalf("New() = %v, want error %q", g.Order(), tt.want)
				}
				if got := err.Error(); got != tt.want {
					t.Fatalf("New() error = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestNew_CopiesInput(t *testing.T) {
	deps := map[string][]string{"a": {"b"}, "b": nil}
	g := mustNew(t, deps)
	deps["a"][0] = "zzz"
	deps["c"] = nil
	if got, want := g.Dependencies("a"), []string{"b"}; !slices.Equal(got, want) {
		t.Errorf("Dependencies(a) after mutating input = %q, want %q", got, want)
	}
	g.Order()[0] = "mutated"
	if got := g.Order()[0]; got != "b" {
		t.Errorf("Order()[0] after mutating a returned slice = %q, want %q", got, "b")
	}
}

func TestGraph_Dependencies(t *testing.T) {
	g := mustNew(t, stack)
	tests := []struct {
		name, node string
		want       []string
	}{
		{"sorted direct dependencies", "api", []string{"cache", "db", "migrate"}},
		{"no dependencies", "db", nil},
		{"unknown node", "nope", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := g.Dependencies(tt.node); !slices.Equal(got, tt.want) {
				t.Errorf("Dependencies(%q) = %q, want %q", tt.node, got, tt.want)
			}
		})
	}
}

func TestGraph_Dependents(t *testing.T) {
	g := mustNew(t, stack)
	tests := []struct {
		name, node         string
		direct, transitive []string
	}{
		{"leaf with many dependents", "db", []string{"api", "migrate", "worker"}, []string{"migrate", "api", "web", "worker"}},
		{"middle node", "api", []string{"web"}, []string{"web"}},
		{"transitive through a chain", "migrate", []string{"api"}, []string{"api", "web"}},
		{"top node has none", "web", nil, nil},
		{"unknown node", "nope", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := g.Dependents(tt.node); !slices.Equal(got, tt.direct) {
				t.Errorf("Dependents(%q) = %q, want %q", tt.node, got, tt.direct)
			}
			if got := g.TransitiveDependents(tt.node); !slices.Equal(got, tt.transitive) {
				t.Errorf("TransitiveDependents(%q) = %q, want %q", tt.node, got, tt.transitive)
			}
		})
	}
}

func TestGraph_Subgraph(t *testing.T) {
	g := mustNew(t, stack)
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"node without dependencies", []string{"db"}, []string{"db"}},
		{"all transitive dependencies in order", []string{"web"}, []string{"cache", "db", "migrate", "api", "web"}},
		{"several names merge", []string{"worker", "migrate"}, []string{"cache", "db", "migrate", "worker"}},
		{"duplicates and covered names", []string{"web", "api", "web", "db"}, []string{"cache", "db", "migrate", "api", "web"}},
		{"unknown names ignored", []string{"nope", "migrate"}, []string{"db", "migrate"}},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := g.Subgraph(tt.names); !slices.Equal(got, tt.want) {
				t.Errorf("Subgraph(%q) = %q, want %q", tt.names, got, tt.want)
			}
		})
	}
}
