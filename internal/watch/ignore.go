package watch

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultIgnore lists the patterns every Watch ignores, before anything from
// Options or ignore files. They use gitignore's rule that a pattern without a
// slash matches a name at any depth, so ".git" ignores <Root>/a/b/.git too.
//
// Version-control data, installed dependencies and virtualenvs: they are
// large, change when tools (not the user) run, and a service restart on every
// `npm install` or `git fetch` is never wanted. Tool caches that a running
// service writes itself (__pycache__, .pytest_cache, …) would otherwise turn
// every restart into the cause of the next one. Editor temporary and backup
// files are the by-products of one save; the save itself is reported under
// the real file name.
//
// Deliberately not here: dist, build, target, .next, out — build outputs that
// some users watch on purpose (a "sync" of dist/ into a server). Projects that
// do not want them list them in .gitignore, which a Watch applies when it is
// named in Options.IgnoreFiles. ".*.tmp*" is not here either, because it
// would also match a real file such as ".env.tmpl"; temporary files written
// and renamed away within one batch are dropped anyway (see Batch).
//
// A negation in Options.Ignore or an ignore file can re-include a default
// (for example "!.idea"), subject to the rule on ignored directories in the
// package documentation.
var DefaultIgnore = []string{
	// version control
	".git", ".hg", ".svn",
	// dependencies and environments
	"node_modules", ".venv", "venv",
	// caches written by the tools a service runs
	"__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox",
	// IDE state and OS litter
	".idea", ".DS_Store",
	// vim: write test file, backups, swap files
	"4913", "*~", "*.swp", "*.swx", ".*.swo", ".*.swn",
	// JetBrains safe write
	"*___jb_old___", "*___jb_tmp___",
	// emacs lock and auto-save files
	".#*", "#*#",
	// kate swap files
	".*.kate-swp",
	// go build's umask probe
	"*-go-tmp-umask",
	// dot-named temporary files of atomic writers
	".*.tmp", ".*.tmp.*",
}

// syntax selects how a pattern is read.
type syntax int

const (
	// dockerSyntax is .dockerignore's (and compose's `ignore:`): every pattern
	// is anchored at its base directory, a trailing slash is dropped, and a
	// pattern also matches everything below a directory it matches.
	dockerSyntax syntax = iota
	// gitSyntax is .gitignore's: a pattern without an inner slash matches at
	// any depth, a trailing slash matches directories only.
	gitSyntax
)

// rule is one compiled pattern.
type rule struct {
	base    string   // absolute directory the pattern is relative to
	segs    []string // pattern split on '/'; a "**" segment matches zero or more names
	negate  bool     // "!pattern": re-include what earlier rules ignored
	dirOnly bool     // "pattern/" in gitignore syntax: directories only
}

// matcher decides whether paths are ignored (or, used for Options.Include,
// selected): the last rule that matches a path or one of its parent
// directories decides, as in .dockerignore.
type matcher struct {
	rules []rule
}

// compileRule parses one pattern; ok is false for a blank one. Comments are
// the caller's business: only ignore files have them.
func compileRule(base, line string, syn syntax) (r rule, ok bool, err error) {
	r = rule{base: base}
	if syn == gitSyntax {
		// Trailing spaces are ignored unless escaped with a backslash.
		for strings.HasSuffix(line, " ") && !strings.HasSuffix(line, `\ `) {
			line = line[:len(line)-1]
		}
	} else {
		line = strings.TrimSpace(line)
	}
	if line == "" {
		return r, false, nil
	}
	if strings.HasPrefix(line, "!") {
		r.negate = true
		line = line[1:]
	} else if strings.HasPrefix(line, `\!`) || strings.HasPrefix(line, `\#`) {
		line = line[1:]
	}

	anchored := true
	switch syn {
	case gitSyntax:
		if strings.HasSuffix(line, "/") {
			r.dirOnly = true
			line = strings.TrimRight(line, "/")
		}
		// A slash at the beginning or in the middle anchors the pattern;
		// otherwise it matches at any depth.
		anchored = strings.Contains(line, "/")
		line = strings.TrimPrefix(line, "/")
	case dockerSyntax:
		line = filepath.ToSlash(filepath.Clean(line))
		line = strings.TrimPrefix(line, "/")
	}
	if line == "" || line == "." {
		return r, false, nil
	}
	for _, s := range strings.Split(line, "/") {
		if s == "" {
			continue
		}
		if s != "**" && strings.Contains(s, "**") {
			// "**" inside a name matches like "*": it cannot cross a slash here.
			for strings.Contains(s, "**") {
				s = strings.ReplaceAll(s, "**", "*")
			}
		}
		if _, err := path.Match(s, ""); err != nil {
			return r, false, fmt.Errorf("pattern %q: %w", line, err)
		}
		r.segs = append(r.segs, s)
	}
	if !anchored {
		r.segs = append([]string{"**"}, r.segs...)
	}
	return r, true, nil
}

// add appends the patterns, relative to base, in the given syntax.
func (m *matcher) add(base string, patterns []string, syn syntax) error {
	for _, p := range patterns {
		r, ok, err := compileRule(base, p, syn)
		if err != nil {
			return err
		}
		if ok {
			m.rules = append(m.rules, r)
		}
	}
	return nil
}

// addFile appends the patterns of an ignore file, relative to the file's
// directory: gitignore syntax for a file named .gitignore, .dockerignore
// syntax for any other. A missing file adds nothing. Lines that do not parse
// are skipped and returned as warnings.
func (m *matcher) addFile(file string) (warnings []string, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read ignore file: %w", err)
	}
	syn := dockerSyntax
	if filepath.Base(file) == ".gitignore" {
		syn = gitSyntax
	}
	base := filepath.Dir(file)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") && (syn == dockerSyntax || strings.HasPrefix(line, "#")) {
			continue // a comment
		}
		r, ok, err := compileRule(base, line, syn)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%s:%d: %v", file, n, err))
			continue
		}
		if ok {
			m.rules = append(m.rules, r)
		}
	}
	return warnings, nil
}

// relSegs returns p relative to base, split on '/', or ok false if p is not
// below (or equal to) base.
func relSegs(base, p string) (segs []string, ok bool) {
	if p == base {
		return nil, true
	}
	prefix := base
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(p, prefix) {
		return nil, false
	}
	return strings.Split(filepath.ToSlash(p[len(prefix):]), "/"), true
}

// matches reports whether r matches p (absolute) or one of p's parent
// directories below r.base.
func (r *rule) matches(p string, isDir bool) bool {
	segs, ok := relSegs(r.base, p)
	return ok && r.matchesSegs(segs, isDir)
}

// matchesSegs is matches for p already split relative to r.base.
func (r *rule) matchesSegs(segs []string, isDir bool) bool {
	if len(segs) == 0 {
		return false
	}
	if matchSegs(r.segs, segs) && (!r.dirOnly || isDir) {
		return true
	}
	for k := len(segs) - 1; k >= 1; k-- {
		if matchSegs(r.segs, segs[:k]) {
			return true
		}
	}
	return false
}

// mayMatchBelow reports whether r could match a path strictly below the
// directory dir. With strict, a "**" met before the pattern has named every
// component of dir counts as no: "!**/*.js" does not make a Watch walk into
// node_modules, while "!node_modules/mylib/**" does.
func (r *rule) mayMatchBelow(dir string, strict bool) bool {
	segs, ok := relSegs(r.base, dir)
	if !ok {
		// dir is above base: the rule applies below dir if base is inside it.
		_, inside := relSegs(dir, r.base)
		return inside
	}
	pat := r.segs
	for len(segs) > 0 {
		if len(pat) == 0 {
			return false
		}
		if pat[0] == "**" {
			return !strict
		}
		if !matchName(pat[0], segs[0]) {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(pat) > 0
}

// matchSegs matches a path, split into names, against a pattern, split into
// segments where "**" matches zero or more names.
func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := range name {
				if matchSegs(pat, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 || !matchName(pat[0], name[0]) {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// matchName matches one name against one glob segment (*, ?, [class], \x).
func matchName(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return ok && err == nil
}

// match reports whether the last rule that matches p (or a parent of p) is
// a positive one.
func (m *matcher) match(p string, isDir bool) bool {
	var sp splitter
	matched := false
	for i := range m.rules {
		r := &m.rules[i]
		if r.negate == matched {
			if segs, ok := sp.split(r.base, p); ok && r.matchesSegs(segs, isDir) {
				matched = !r.negate
			}
		}
	}
	return matched
}

// splitter caches relSegs for the last base: rules nearly all share one.
type splitter struct {
	base string
	segs []string
	ok   bool
	done bool
}

func (s *splitter) split(base, p string) ([]string, bool) {
	if !s.done || s.base != base {
		s.base, s.done = base, true
		s.segs, s.ok = relSegs(base, p)
	}
	return s.segs, s.ok
}

// skipDir reports whether a walk can leave out the directory dir entirely:
// it is matched, and no later negation could re-include anything below it.
func (m *matcher) skipDir(dir string) bool {
	var sp splitter
	last := -1
	for i := range m.rules {
		r := &m.rules[i]
		if segs, ok := sp.split(r.base, dir); ok && r.matchesSegs(segs, true) {
			last = i
		}
	}
	if last < 0 || m.rules[last].negate {
		return false
	}
	for _, r := range m.rules[last+1:] {
		if r.negate && r.mayMatchBelow(dir, true) {
			return false
		}
	}
	return true
}

// mayInclude reports whether the directory dir, or anything below it, could
// be matched by a positive rule: a walk with Include patterns leaves out the
// folders that cannot hold an included path.
func (m *matcher) mayInclude(dir string) bool {
	for i := range m.rules {
		r := &m.rules[i]
		if !r.negate && (r.matches(dir, true) || r.mayMatchBelow(dir, false)) {
			return true
		}
	}
	return false
}
