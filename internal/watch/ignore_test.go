package watch

import (
	"os"
	"path/filepath"
	"testing"
)

const testBase = "/proj"

func mustMatcher(t *testing.T, defaults bool, syn syntax, patterns ...string) *matcher {
	t.Helper()
	m := &matcher{}
	if defaults {
		if err := m.add(testBase, DefaultIgnore, gitSyntax); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.add(testBase, patterns, syn); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatcher_Match(t *testing.T) {
	tests := []struct {
		name     string
		defaults bool
		syn      syntax
		patterns []string
		path     string // relative to testBase
		isDir    bool
		want     bool
	}{
		{name: "default node_modules at top", defaults: true, path: "node_modules/x.js", want: true},
		{name: "default node_modules nested", defaults: true, path: "web/node_modules/a/b.js", want: true},
		{name: "default .git index", defaults: true, path: ".git/index", want: true},
		{name: "default keeps a source file", defaults: true, path: "src/main.py", want: false},
		{name: "default keeps dist", defaults: true, path: "dist/app.js", want: false},
		{name: "default keeps .env.tmpl", defaults: true, path: ".env.tmpl", want: false},
		{name: "default keeps .gitignore", defaults: true, path: ".gitignore", want: false},
		{name: "vim test file", defaults: true, path: "src/4913", want: true},
		{name: "vim backup", defaults: true, path: "src/a.py~", want: true},
		{name: "vim swap", defaults: true, path: "src/.a.py.swp", want: true},
		{name: "vim swap swx", defaults: true, path: ".a.py.swx", want: true},
		{name: "jetbrains tmp", defaults: true, path: "src/a.py___jb_tmp___", want: true},
		{name: "jetbrains old", defaults: true, path: "src/a.py___jb_old___", want: true},
		{name: "emacs lock", defaults: true, path: "src/.#a.py", want: true},
		{name: "emacs autosave", defaults: true, path: "src/#a.py#", want: true},
		{name: "dot tmp", defaults: true, path: "src/.a.py.tmp", want: true},
		{name: "dot tmp suffix", defaults: true, path: "src/.a.py.tmp.1234", want: true},
		{name: "pycache", defaults: true, path: "app/__pycache__/m.cpython-312.pyc", want: true},
		{name: "venv", defaults: true, path: ".venv/lib/site.py", want: true},

		{name: "docker: anchored star", syn: dockerSyntax, patterns: []string{"*.log"}, path: "a.log", want: true},
		{name: "docker: star does not cross folders", syn: dockerSyntax, patterns: []string{"*.log"}, path: "sub/a.log", want: false},
		{name: "docker: double star", syn: dockerSyntax, patterns: []string{"**/*.log"}, path: "sub/deep/a.log", want: true},
		{name: "docker: double star at top", syn: dockerSyntax, patterns: []string{"**/*.log"}, path: "a.log", want: true},
		{name: "docker: folder matches below", syn: dockerSyntax, patterns: []string{"build"}, path: "build/x/y.o", want: true},
		{name: "docker: trailing slash dropped", syn: dockerSyntax, patterns: []string{"build/"}, path: "build", want: true},
		{name: "docker: leading slash", syn: dockerSyntax, patterns: []string{"/build"}, path: "build/y.o", want: true},
		{name: "docker: dot slash", syn: dockerSyntax, patterns: []string{"./build"}, path: "build/y.o", want: true},
		{name: "docker: negation", syn: dockerSyntax, patterns: []string{"*.log", "!keep.log"}, path: "keep.log", want: false},
		{name: "docker: negation other", syn: dockerSyntax, patterns: []string{"*.log", "!keep.log"}, path: "drop.log", want: true},
		{name: "docker: last rule wins", syn: dockerSyntax, patterns: []string{"!keep.log", "*.log"}, path: "keep.log", want: true},
		{name: "docker: re-include inside ignored folder", syn: dockerSyntax, patterns: []string{"vendor", "!vendor/ours/**"}, path: "vendor/ours/a.go", want: false},
		{name: "docker: rest of ignored folder", syn: dockerSyntax, patterns: []string{"vendor", "!vendor/ours/**"}, path: "vendor/theirs/a.go", want: true},
		{name: "docker: no comments in Ignore", syn: dockerSyntax, patterns: []string{"#x#"}, path: "#x#", want: true},
		{name: "docker: question mark", syn: dockerSyntax, patterns: []string{"a?.txt"}, path: "ab.txt", want: true},
		{name: "docker: class", syn: dockerSyntax, patterns: []string{"[ab].txt"}, path: "c.txt", want: false},
		{name: "docker: negate default", defaults: true, syn: dockerSyntax, patterns: []string{"!.idea"}, path: ".idea/workspace.xml", want: false},

		{name: "git: unanchored name at any depth", syn: gitSyntax, patterns: []string{"*.pyc"}, path: "a/b/c.pyc", want: true},
		{name: "git: anchored by leading slash", syn: gitSyntax, patterns: []string{"/build"}, path: "sub/build/x", want: false},
		{name: "git: anchored top", syn: gitSyntax, patterns: []string{"/build"}, path: "build/x", want: true},
		{name: "git: middle slash anchors", syn: gitSyntax, patterns: []string{"docs/gen"}, path: "x/docs/gen/a", want: false},
		{name: "git: dir only skips file", syn: gitSyntax, patterns: []string{"out/"}, path: "out", isDir: false, want: false},
		{name: "git: dir only matches dir", syn: gitSyntax, patterns: []string{"out/"}, path: "a/out", isDir: true, want: true},
		{name: "git: dir only matches below", syn: gitSyntax, patterns: []string{"out/"}, path: "a/out/x.js", want: true},
		{name: "git: escaped hash", syn: gitSyntax, patterns: []string{`\#x`}, path: "#x", want: true},
		{name: "git: escaped bang", syn: gitSyntax, patterns: []string{`\!x`}, path: "!x", want: true},
		{name: "git: trailing spaces", syn: gitSyntax, patterns: []string{"a.txt   "}, path: "a.txt", want: true},
		{name: "git: leading double star", syn: gitSyntax, patterns: []string{"**/foo"}, path: "x/y/foo", want: true},
		{name: "git: trailing double star", syn: gitSyntax, patterns: []string{"abc/**"}, path: "abc/x/y", want: true},
		{name: "git: middle double star", syn: gitSyntax, patterns: []string{"a/**/b"}, path: "a/x/y/b", want: true},
		{name: "git: middle double star zero", syn: gitSyntax, patterns: []string{"a/**/b"}, path: "a/b", want: true},
		{name: "git: negation", syn: gitSyntax, patterns: []string{"*.env", "!example.env"}, path: "cfg/example.env", want: false},

		{name: "outside base never matches", syn: dockerSyntax, patterns: []string{"**"}, path: "../other/x", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustMatcher(t, tt.defaults, tt.syn, tt.patterns...)
			p := filepath.Join(testBase, tt.path)
			if got := m.match(p, tt.isDir); got != tt.want {
				t.Errorf("match(%q) with %q = %v, want %v", tt.path, tt.patterns, got, tt.want)
			}
		})
	}
}

func TestMatcher_SkipDir(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string // after DefaultIgnore, docker syntax
		dir      string
		want     bool
	}{
		{name: "node_modules", dir: "node_modules", want: true},
		{name: "nested node_modules", dir: "web/node_modules", want: true},
		{name: "source folder", dir: "src", want: false},
		{name: "explicit re-include walks in", patterns: []string{"!node_modules/mylib/**"}, dir: "node_modules", want: false},
		{name: "explicit re-include skips siblings", patterns: []string{"!node_modules/mylib/**"}, dir: "node_modules/other", want: true},
		{name: "explicit re-include walks the named folder", patterns: []string{"!node_modules/mylib/**"}, dir: "node_modules/mylib", want: false},
		{name: "double-star negation does not walk in", patterns: []string{"!**/*.js"}, dir: "node_modules", want: true},
		{name: "git hooks re-included: .git walked", patterns: []string{"!.git/hooks/**"}, dir: ".git", want: false},
		{name: "git hooks re-included: hooks walked", patterns: []string{"!.git/hooks/**"}, dir: ".git/hooks", want: false},
		{name: "git hooks re-included: objects skipped", patterns: []string{"!.git/hooks/**"}, dir: ".git/objects", want: true},
		{name: "user pattern", patterns: []string{"tmp"}, dir: "tmp", want: true},
		{name: "re-included folder", patterns: []string{"!.idea"}, dir: ".idea", want: false},
		{name: "negation before the ignore does not count", patterns: []string{"!tmp/keep", "tmp"}, dir: "tmp", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustMatcher(t, true, dockerSyntax, tt.patterns...)
			if got := m.skipDir(filepath.Join(testBase, tt.dir)); got != tt.want {
				t.Errorf("skipDir(%q) with %q = %v, want %v", tt.dir, tt.patterns, got, tt.want)
			}
		})
	}
}

func TestMatcher_MayInclude(t *testing.T) {
	tests := []struct {
		patterns []string
		dir      string
		want     bool
	}{
		{patterns: []string{"src"}, dir: "src", want: true},
		{patterns: []string{"src"}, dir: "src/a/b", want: true},
		{patterns: []string{"src"}, dir: "docs", want: false},
		{patterns: []string{"src/api/*.py"}, dir: "src", want: true},
		{patterns: []string{"src/api/*.py"}, dir: "src/web", want: false},
		{patterns: []string{"**/*.py"}, dir: "any/where", want: true},
		{patterns: []string{"*.py"}, dir: "sub", want: false},
	}
	for _, tt := range tests {
		m := mustMatcher(t, false, dockerSyntax, tt.patterns...)
		if got := m.mayInclude(filepath.Join(testBase, tt.dir)); got != tt.want {
			t.Errorf("mayInclude(%q) with %q = %v, want %v", tt.dir, tt.patterns, got, tt.want)
		}
	}
}

func TestMatcher_BadPattern(t *testing.T) {
	m := &matcher{}
	if err := m.add(testBase, []string{"[a-"}, dockerSyntax); err == nil {
		t.Fatal("add of \"[a-\": no error")
	}
}

func TestMatcher_AddFile(t *testing.T) {
	dir := t.TempDir()
	gi := filepath.Join(dir, ".gitignore")
	if err := os.WriteFile(gi, []byte("# build output\r\n*.o\r\n\r\nbad[\n/dist/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &matcher{}
	warnings, err := m.addFile(gi)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 {
		t.Errorf("warnings = %q, want one for line 4", warnings)
	}
	for _, tt := range []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"a/b.o", false, true},
		{"dist", true, true},
		{"sub/dist", true, false},
		{"main.c", false, false},
	} {
		if got := m.match(filepath.Join(dir, tt.rel), tt.isDir); got != tt.want {
			t.Errorf("match(%q) = %v, want %v", tt.rel, got, tt.want)
		}
	}
	if w, err := m.addFile(filepath.Join(dir, "missing")); err != nil || w != nil {
		t.Errorf("addFile(missing) = %v, %v; want nothing", w, err)
	}
}
