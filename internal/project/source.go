package project

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/tree"
	"go.yaml.in/yaml/v4"
)

// sourceSet holds the parsed YAML of the compose files of a load, to find
// the file and line where a key path is written. It is read-only once the
// load is done.
type sourceSet struct {
	files []*sourceFile
}

// sourceFile is one compose file's YAML tree (root is nil when it did not
// parse; parseErr then says why).
type sourceFile struct {
	path     string
	root     *yaml.Node
	parseErr error
}

func newSourceSet() *sourceSet { return &sourceSet{} }

// add parses path (once); files that cannot be read are skipped.
func (s *sourceSet) add(path string) {
	if s == nil || path == "" || path == "-" {
		return
	}
	for _, f := range s.files {
		if f.path == path {
			return
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	f := &sourceFile{path: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		f.parseErr = err
	} else if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		f.root = doc.Content[0]
	}
	s.files = append(s.files, f)
}

// locate returns the file and line of the deepest prefix of keys written in
// any file, preferring later files (overrides) on a tie, and how many keys
// matched. Numeric keys index sequences.
func (s *sourceSet) locate(keys ...string) (file string, line, depth int) {
	if s == nil {
		return "", 0, 0
	}
	for i := len(s.files) - 1; i >= 0; i-- {
		f := s.files[i]
		if f.root == nil {
			continue
		}
		n, d := walk(f.root, keys)
		if n != nil && d > depth {
			file, line, depth = f.path, n.Line, d
		}
		if depth == len(keys) {
			break
		}
	}
	return file, line, depth
}

// walk follows keys from n and returns the deepest node reached (the key
// node for a mapping entry) and how many keys it matched.
func walk(n *yaml.Node, keys []string) (*yaml.Node, int) {
	var last *yaml.Node
	depth := 0
	cur := n
	for _, k := range keys {
		for cur != nil && cur.Kind == yaml.AliasNode {
			cur = cur.Alias
		}
		if cur == nil {
			break
		}
		var next, at *yaml.Node
		switch cur.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == k {
					at, next = cur.Content[i], cur.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			if idx, err := strconv.Atoi(k); err == nil && idx >= 0 && idx < len(cur.Content) {
				at, next = cur.Content[idx], cur.Content[idx]
				break
			}
			// A list of names (depends_on, profiles...): match the item.
			for _, item := range cur.Content {
				if item.Kind == yaml.ScalarNode && item.Value == k {
					at, next = item, item
					break
				}
			}
		}
		if at == nil {
			break
		}
		last, cur = at, next
		depth++
	}
	return last, depth
}

// scalars returns the scalar items of the list at keys, from the last file
// that has it.
func (s *sourceSet) scalars(keys ...string) []string {
	if s == nil {
		return nil
	}
	for i := len(s.files) - 1; i >= 0; i-- {
		f := s.files[i]
		if f.root == nil {
			continue
		}
		n, d := walk(f.root, keys)
		if n == nil || d != len(keys) {
			continue
		}
		// walk returns the key node; its value follows it in the parent.
		_, val := valueOf(f.root, keys)
		if val == nil {
			continue
		}
		var out []string
		switch val.Kind {
		case yaml.SequenceNode:
			for _, it := range val.Content {
				if it.Kind == yaml.ScalarNode {
					out = append(out, it.Value)
				}
			}
		case yaml.ScalarNode:
			out = append(out, val.Value)
		}
		return out
	}
	return nil
}

// valueOf returns the key node and value node at keys (mappings only).
func valueOf(n *yaml.Node, keys []string) (*yaml.Node, *yaml.Node) {
	cur := n
	var key *yaml.Node
	for _, k := range keys {
		if cur == nil || cur.Kind != yaml.MappingNode {
			return nil, nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == k {
				key, next = cur.Content[i], cur.Content[i+1]
			}
		}
		if next == nil {
			return nil, nil
		}
		cur = next
	}
	return key, cur
}

// place formats "file:line" (file relative to the project folder when
// possible) for the key path, or "" when it is not written anywhere.
func (s *sourceSet) place(keys ...string) (string, int) {
	file, line, depth := s.locate(keys...)
	if depth == 0 {
		if s != nil && len(s.files) > 0 {
			return s.files[0].path, 0
		}
		return "", 0
	}
	return file, line
}

// warning builds a Warning for the key path.
func (s *sourceSet) warning(msg string, keys ...string) Warning {
	file, line := s.place(keys...)
	return Warning{File: file, Line: line, Key: strings.Join(keys, "."), Message: msg}
}

// errorAt builds an error "file:line: key.path: msg" for the key path.
func (s *sourceSet) errorAt(msg string, keys ...string) error {
	return &LoadError{File: s.fileOf(keys...), Line: s.lineOf(keys...), Key: strings.Join(keys, "."), Message: msg}
}

func (s *sourceSet) fileOf(keys ...string) string { f, _ := s.place(keys...); return f }
func (s *sourceSet) lineOf(keys ...string) int    { _, l := s.place(keys...); return l }

// LoadError is a problem in the compose files, with its place when known.
type LoadError struct {
	File    string
	Line    int
	Key     string
	Message string
	// Err is compose-go's original error, when there is one.
	Err error
}

func (e *LoadError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(displayPath(e.File))
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

func (e *LoadError) Unwrap() error { return e.Err }

// displayPath shortens an absolute path to one relative to the working
// directory when it is below it.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(p) {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

var (
	reValidating   = regexp.MustCompile(`^validating (.+?): (.*)$`)
	reAdditional   = regexp.MustCompile(`^([^ ]+) additional propert(?:y|ies) '([^']+)' not allowed$`)
	reAdditional2  = regexp.MustCompile(`^([^ ]*) ?additional properties (.+) not allowed$`)
	reKeyFirst     = regexp.MustCompile(`^([A-Za-z0-9_.\-]+) (.*)$`)
	reInterpolate  = regexp.MustCompile(`^error while interpolating ([^:]+): (.*)$`)
	reDependsOn    = regexp.MustCompile(`service "([^"]+)" depends on undefined service "?([^":]+)"?`)
	reCycle        = regexp.MustCompile(`dependency cycle detected: (.*)$`)
	reNoImage      = regexp.MustCompile(`^service "([^"]+)" has neither an image nor a build context specified`)
	reYAMLLine     = regexp.MustCompile(`line (\d+)`)
	reServiceQuote = regexp.MustCompile(`service "?([A-Za-z0-9_.\-]+)"?`)
)

// explain rewrites compose-go's error so that it names the file, the line
// and the key, where they can be found. The original error stays wrapped.
func (s *sourceSet) explain(err error) error {
	if err == nil {
		return nil
	}
	// A YAML syntax error: our own parse knows the file and line.
	for _, f := range s.files {
		if f.parseErr != nil {
			line, msg := yamlErrorPlace(f.parseErr)
			return &LoadError{File: f.path, Line: line, Message: "invalid YAML: " + msg, Err: err}
		}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		var errs []error
		for _, e := range j.Unwrap() {
			ex := s.explain(e)
			if je, ok := ex.(*joinedError); ok {
				errs = append(errs, je.errs...)
			} else {
				errs = append(errs, ex)
			}
		}
		return &joinedError{errs: errs, orig: err}
	}
	return s.explainOne(err)
}

// joinedError keeps several explained errors, one per line, and the original.
type joinedError struct {
	errs []error
	orig error
}

func (e *joinedError) Error() string {
	lines := make([]string, len(e.errs))
	for i, err := range e.errs {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

func (e *joinedError) Unwrap() []error { return append(append([]error{}, e.errs...), e.orig) }

func (s *sourceSet) explainOne(err error) error {
	msg := err.Error()
	if m := reValidating.FindStringSubmatch(msg); m != nil {
		file, rest := m[1], m[2]
		if a := reAdditional.FindStringSubmatch(rest); a != nil {
			keys := append(splitKey(a[1]), a[2])
			return s.located(file, keys, unknownKeyMessage(keys), err)
		}
		if a := reAdditional2.FindStringSubmatch(rest); a != nil {
			keys := splitKey(a[1])
			return s.located(file, keys, "additional properties "+a[2]+" not allowed", err)
		}
		if a := reKeyFirst.FindStringSubmatch(rest); a != nil {
			keys := splitKey(a[1])
			if a[2] == "false schema" && len(keys) > 0 {
				return s.located(file, keys, unknownKeyMessage(keys), err)
			}
			return s.located(file, keys, a[2], err)
		}
		return s.located(file, nil, rest, err)
	}
	if m := reInterpolate.FindStringSubmatch(msg); m != nil {
		return s.located("", splitKey(m[1]), m[2], err)
	}
	if m := reDependsOn.FindStringSubmatch(msg); m != nil {
		keys := []string{"services", m[1], "depends_on", m[2]}
		le := s.located("", keys, msg, err).(*LoadError)
		if profiles := s.scalars("services", m[2], "profiles"); len(profiles) > 0 {
			le.Message += fmt.Sprintf("\nhint: %q is only enabled with --profile %s; enable it, or set `required: false` on the dependency",
				m[2], strings.Join(profiles, " or --profile "))
		}
		return le
	}
	if m := reCycle.FindStringSubmatch(msg); m != nil {
		first := strings.TrimSpace(strings.Split(m[1], "->")[0])
		return s.located("", []string{"services", first, "depends_on"}, msg, err)
	}
	if m := reNoImage.FindStringSubmatch(msg); m != nil {
		le := s.located("", []string{"services", m[1]}, msg, err).(*LoadError)
		le.Message += "\nhint: docker compose needs `image:` or `build:` on every service; berth runs `command:` natively either way, so any image name will do"
		return le
	}
	if m := reServiceQuote.FindStringSubmatch(msg); m != nil && strings.Contains(msg, "service") {
		if file, line, d := s.locate("services", m[1]); d == 2 {
			return &LoadError{File: file, Line: line, Key: "services." + m[1], Message: msg, Err: err}
		}
	}
	return fmt.Errorf("load project: %w", err)
}

var reLogKey = regexp.MustCompile(`^([a-z_]+(?:\.[A-Za-z0-9_\-]+)+): (.*)$`)

// locateLog gives a compose-go log warning a file, line and key when its
// message starts with a key path ("configs.x: external.name is deprecated").
func (s *sourceSet) locateLog(w Warning) Warning {
	if w.Line > 0 {
		return w
	}
	if m := reLogKey.FindStringSubmatch(w.Message); m != nil {
		keys := splitKey(m[1])
		if file, line, d := s.locate(keys...); d > 0 {
			return Warning{File: file, Line: line, Key: m[1], Message: m[2]}
		}
		w.Key, w.Message = m[1], m[2]
	}
	if w.Key == "version" {
		for _, f := range s.files {
			if f.path == w.File && f.root != nil {
				if n, d := walk(f.root, []string{"version"}); d == 1 {
					w.Line = n.Line
				}
			}
		}
	}
	return w
}

// located builds a LoadError for keys, found in file when given.
func (s *sourceSet) located(file string, keys []string, msg string, err error) error {
	le := &LoadError{File: file, Key: strings.Join(keys, "."), Message: msg, Err: err}
	if len(keys) == 0 {
		return le
	}
	if file != "" {
		for _, f := range s.files {
			if f.path == file && f.root != nil {
				if n, d := walk(f.root, keys); n != nil && d > 0 {
					le.Line = n.Line
				}
				return le
			}
		}
	}
	if f, line, d := s.locate(keys...); d > 0 {
		le.File, le.Line = f, line
	}
	return le
}

// splitKey splits compose-go's dotted key paths ("services.web.ports.0").
func splitKey(k string) []string {
	k = strings.TrimSpace(k)
	if k == "" || k == "(root)" {
		return nil
	}
	return strings.Split(k, ".")
}

// unknownKeyMessage says a key is not in the compose specification, and
// suggests the closest key the specification allows at that place.
func unknownKeyMessage(keys []string) string {
	last := keys[len(keys)-1]
	msg := fmt.Sprintf("unknown key %q (not in the compose specification)", last)
	if best := closestKey(keys); best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	if strings.HasPrefix(last, "x_") || strings.HasPrefix(last, "berth") {
		msg += "; extension keys start with \"x-\""
	}
	return msg
}

// closestKey finds the specification key at the same place as keys whose
// name is nearest to the last key (edit distance at most 2).
func closestKey(keys []string) string {
	parent := keys[:len(keys)-1]
	last := keys[len(keys)-1]
	best, bestD := "", 3
	for _, p := range schema.AttributePaths() {
		parts := p.Parts()
		if len(parts) != len(keys) {
			continue
		}
		ok := true
		for i, part := range parts[:len(parts)-1] {
			if part != tree.PathMatchAll && part != parent[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		cand := parts[len(parts)-1]
		if d := editDistance(cand, last); d < bestD {
			best, bestD = cand, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// yamlErrorPlace returns the line of a go-yaml syntax error and its
// message without the position. go-yaml v4's parser errors count lines
// from 0 while its scanner errors count from 1, so the marks are read from
// the error value itself and the parser's are shifted.
func yamlErrorPlace(err error) (int, string) {
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return 0, strings.TrimPrefix(err.Error(), "yaml: ")
	}
	field := func(name string) reflect.Value { return v.FieldByName(name) }
	msgV, markV := field("Message"), field("Mark")
	if !msgV.IsValid() || !markV.IsValid() || msgV.Kind() != reflect.String {
		return 0, strings.TrimPrefix(err.Error(), "yaml: ")
	}
	shift := 0
	if strings.HasSuffix(v.Type().Name(), "ParserError") {
		shift = 1
	}
	lineOf := func(mark reflect.Value) int {
		if l := mark.FieldByName("Line"); l.IsValid() && l.CanInt() && l.Int() >= 0 {
			return int(l.Int()) + shift
		}
		return 0
	}
	msg := msgV.String()
	line := lineOf(markV)
	if cm, cmark := field("ContextMessage"), field("ContextMark"); cm.IsValid() && cm.String() != "" && cmark.IsValid() {
		// "did not find expected ']'" is found at the end; the place to fix
		// is where the context (the flow sequence, the mapping) began.
		line = lineOf(cmark)
		msg = fmt.Sprintf("%s (%s that starts here)", msg, strings.TrimPrefix(cm.String(), "while parsing "))
	}
	return line, msg
}
