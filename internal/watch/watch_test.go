package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Real-filesystem tests. Each waits for batches with a deadline and asserts
// "no further batch" over 3× the quiet window. Bursts use a wider quiet
// window than the default and measure their own pauses (see gaps): on a
// loaded machine a single write can stall on the disk for longer than the
// window, and then the design rightly sends more than one batch.
const (
	testBurstQuiet = 400 * time.Millisecond
	longWait       = 10 * time.Second
)

// gaps measures the longest pause between the steps of a burst.
type gaps struct {
	last time.Time
	max  time.Duration
}

// mark records the end of one step.
func (g *gaps) mark() {
	now := time.Now()
	if !g.last.IsZero() {
		g.max = max(g.max, now.Sub(g.last))
	}
	g.last = now
}

// burstBatches collects batches until their paths add up to want, then
// checks that no batch follows. A burst whose steps were never more than
// half the quiet window apart must be exactly one batch; if the machine
// stalled longer than that, more than one is allowed (and logged), as long
// as together they hold exactly want.
func burstBatches(t *testing.T, wt *Watch, quiet time.Duration, g *gaps, want []string) {
	t.Helper()
	var batches []Batch
	seen := map[string]bool{}
	for len(seen) < len(want) {
		b := next(t, wt)
		if b.Overflow {
			t.Fatal("batch has Overflow")
		}
		batches = append(batches, b)
		for _, p := range b.Paths {
			seen[p] = true
		}
	}
	nothingMore(t, wt, quiet)
	var got []string
	for p := range seen {
		got = append(got, p)
	}
	slices.Sort(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paths:\n got %q\nwant %q", got, want)
	}
	if len(batches) > 1 {
		if g.max < quiet/2 {
			t.Errorf("%d batches, want 1 (longest pause in the burst: %v)", len(batches), g.max)
		} else {
			t.Logf("%d batches: the burst paused for %v, longer than half the %v window", len(batches), g.max, quiet)
		}
	}
}

// testLog returns a logger that writes warnings to the test log.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newWatcher(t *testing.T) *Watcher {
	t.Helper()
	w, err := New(testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w
}

func addWatch(t *testing.T, w *Watcher, opts Options) *Watch {
	t.Helper()
	wt, err := w.Add(opts)
	if err != nil {
		t.Fatalf("Add(%q): %v", opts.Root, err)
	}
	return wt
}

// tree creates files (with content) and folders (names ending in "/") under root.
func tree(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(root, n)
		if strings.HasSuffix(n, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// bigTree creates many empty files under root. They are hard links to one
// file: a new inode costs a journal write each (about a millisecond on a
// loaded CI disk), a link is a directory entry only, and to a watcher both
// are just names in a folder.
func bigTree(t *testing.T, root string, names []string) {
	t.Helper()
	blob := filepath.Join(t.TempDir(), "blob")
	must(t, os.WriteFile(blob, nil, 0o644))
	made := map[string]bool{}
	for _, n := range names {
		p := filepath.Join(root, n)
		if d := filepath.Dir(p); !made[d] {
			must(t, os.MkdirAll(d, 0o755))
			made[d] = true
		}
		must(t, os.Link(blob, p))
	}
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func abs(root string, rels ...string) []string {
	var out []string
	for _, r := range rels {
		out = append(out, filepath.Join(root, r))
	}
	slices.Sort(out)
	return out
}

// next waits for the next batch.
func next(t *testing.T, wt *Watch) Batch {
	t.Helper()
	select {
	case b, ok := <-wt.C():
		if !ok {
			t.Fatal("channel closed, want a batch")
		}
		return b
	case <-time.After(longWait):
		t.Fatalf("no batch within %v", longWait)
		return Batch{}
	}
}

// nothingMore fails if a batch comes within 3× quiet.
func nothingMore(t *testing.T, wt *Watch, quiet time.Duration) {
	t.Helper()
	select {
	case b, ok := <-wt.C():
		if ok {
			t.Fatalf("unexpected batch: %q (overflow %v)", b.Paths, b.Overflow)
		}
		t.Fatal("channel closed")
	case <-time.After(3 * quiet):
	}
}

func wantPaths(t *testing.T, b Batch, want []string) {
	t.Helper()
	if b.Overflow {
		t.Errorf("batch has Overflow")
	}
	if !reflect.DeepEqual(b.Paths, want) {
		t.Errorf("paths:\n got %q\nwant %q", b.Paths, want)
	}
}

func TestWatch_SingleWrite(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tree(t, root, "app.py", "src/models.py")
	wt := addWatch(t, newWatcher(t), Options{Root: root})

	write(t, filepath.Join(root, "src/models.py"), "changed")
	wantPaths(t, next(t, wt), abs(root, "src/models.py"))
	nothingMore(t, wt, DefaultQuiet)

	if dirs, ignored := wt.Stats(); dirs != 2 || ignored != nil {
		t.Errorf("Stats() = %d, %q; want 2, none", dirs, ignored)
	}
}

func TestWatch_AtomicSave(t *testing.T) {
	t.Parallel()
	for _, tmp := range []string{
		"main.go.4c1f9a",  // an arbitrary temporary name (write-file-atomic style)
		".main.go.tmp",    // a default-ignored one
		"main.go.tmp.123", // and one that is neither
	} {
		t.Run(tmp, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			tree(t, root, "main.go")
			wt := addWatch(t, newWatcher(t), Options{Root: root})

			p := filepath.Join(root, tmp)
			write(t, p, "package main // v2")
			if err := os.Rename(p, filepath.Join(root, "main.go")); err != nil {
				t.Fatal(err)
			}
			wantPaths(t, next(t, wt), abs(root, "main.go"))
			nothingMore(t, wt, DefaultQuiet)
		})
	}
}

func TestWatch_VimSave(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tree(t, root, "views.py")
	wt := addWatch(t, newWatcher(t), Options{Root: root})

	// The sequence vim (backupcopy=auto, writebackup) performs on :w.
	p := filepath.Join(root, "views.py")
	swp := filepath.Join(root, ".views.py.swp")
	write(t, swp, "swap")
	probe := filepath.Join(root, "4913")
	write(t, probe, "")
	must(t, os.Remove(probe))
	must(t, os.Rename(p, p+"~"))
	write(t, p, "new content")
	must(t, os.Chmod(p, 0o644))
	must(t, os.Remove(p+"~"))
	write(t, swp, "swap 2")

	wantPaths(t, next(t, wt), abs(root, "views.py"))
	nothingMore(t, wt, DefaultQuiet)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWatch_BurstIsOneBatch(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tree(t, root, "a.js", "b.js", "c.js")
	wt := addWatch(t, newWatcher(t), Options{Root: root, Quiet: testBurstQuiet, MaxWait: longWait})

	names := []string{"a.js", "b.js", "c.js"}
	var g gaps
	for i := range 500 {
		write(t, filepath.Join(root, names[i%3]), fmt.Sprint(i))
		g.mark()
	}
	burstBatches(t, wt, testBurstQuiet, &g, abs(root, names...))
}

// TestWatch_Checkout changes 1,000 files across folders as `git checkout`
// of another branch would: rewrites, deletions, new folders with files, and
// .git itself. The design guarantees one batch because no two changes are
// Quiet apart and the whole lasts less than MaxWait.
func TestWatch_Checkout(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var before, want []string
	for d := range 10 {
		for f := range 50 {
			before = append(before, fmt.Sprintf("pkg%d/file%02d.go", d, f))
		}
	}
	bigTree(t, root, before)
	tree(t, root, ".git/HEAD", ".git/index")
	wt := addWatch(t, newWatcher(t), Options{Root: root, Quiet: testBurstQuiet, MaxWait: longWait})

	var g gaps
	for i, name := range before { // 400 rewritten, 100 deleted
		p := filepath.Join(root, name)
		if i%5 == 4 {
			must(t, os.Remove(p))
		} else {
			write(t, p, "branch b")
		}
		g.mark()
		want = append(want, name)
	}
	for d := range 10 { // 500 created in 10 new nested folders
		dir := fmt.Sprintf("new%d/sub", d)
		must(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
		g.mark()
		want = append(want, fmt.Sprintf("new%d", d), dir)
		for f := range 50 {
			name := fmt.Sprintf("%s/file%02d.go", dir, f)
			write(t, filepath.Join(root, name), "new")
			g.mark()
			want = append(want, name)
		}
	}
	write(t, filepath.Join(root, ".git/index"), "updated")
	write(t, filepath.Join(root, ".git/HEAD"), "ref: refs/heads/b")
	g.mark()

	if len(want) != 1020 {
		t.Fatalf("test bug: %d paths", len(want))
	}
	burstBatches(t, wt, testBurstQuiet, &g, abs(root, want...))
}

func TestWatch_IgnoredPathsProduceNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tree(t, root,
		"main.go", "debug.log", "keep.log", "secret/key.pem", "tmp/a", "tmp/important",
		".git/index", "node_modules/x.js", "web/node_modules/y.js", "__pycache__/m.pyc",
		".dockerignore", ".gitignore", "build/out.o", "gen/schema.go", "out/bundle.js",
	)
	write(t, filepath.Join(root, ".dockerignore"), "# comment\n*.log\n!keep.log\nsecret/\n")
	write(t, filepath.Join(root, ".gitignore"), "*.o\nout/\n")
	wt := addWatch(t, newWatcher(t), Options{
		Root:        root,
		IgnoreFiles: []string{".dockerignore", filepath.Join(root, ".gitignore"), "missing/.dockerignore"},
		Ignore:      []string{"tmp/**", "!tmp/important", "gen"},
	})

	for _, name := range []string{
		"debug.log", "secret/key.pem", "tmp/a", ".git/index", "node_modules/x.js",
		"web/node_modules/y.js", "__pycache__/m.pyc", "build/out.o", "gen/schema.go",
		"new.log", ".git/objects/ab/cdef", "node_modules/pkg/index.js",
		"newpkg/node_modules/dep/index.js", "newpkg/.venv/bin/python", "newpkg/app.pyc",
	} {
		tree(t, root, name)
	}
	must(t, os.RemoveAll(filepath.Join(root, "out"))) // a "dir/" pattern: the removal is ignored too
	// The paths that do count, last: if the ignored ones were reported, they
	// would be in this same batch.
	write(t, filepath.Join(root, "keep.log"), "kept")
	write(t, filepath.Join(root, "tmp/important"), "kept")
	write(t, filepath.Join(root, "main.go"), "changed")

	wantPaths(t, next(t, wt), abs(root, "keep.log", "main.go", "newpkg", "tmp/important"))
	nothingMore(t, wt, DefaultQuiet)
	_, ignored := wt.Stats()
	want := []string{".git", "__pycache__", "gen", "newpkg/.venv", "newpkg/node_modules", "node_modules", "secret", "web/node_modules"}
	if !reflect.DeepEqual(ignored, want) {
		t.Errorf("ignored folders %q, want %q", ignored, want)
	}
}

func TestWatch_NodeModulesCostsNoWatch(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var names []string
	for p := range 100 {
		for f := range 50 {
			names = append(names, fmt.Sprintf("node_modules/pkg%02d/lib/f%02d.js", p, f))
		}
	}
	names = append(names, "src/app.js", "src/components/button.js", ".venv/lib/site.py")
	bigTree(t, root, names)
	w := newWatcher(t)
	wt := addWatch(t, w, Options{Root: root})

	dirs, ignored := wt.Stats()
	if dirs != 3 { // root, src, src/components
		t.Errorf("watching %d folders, want 3", dirs)
	}
	if want := []string{".venv", "node_modules"}; !reflect.DeepEqual(ignored, want) {
		t.Errorf("ignored %q, want %q", ignored, want)
	}
	// The inotify watches themselves: the three folders and the anchor.
	got := w.fsw.WatchList()
	slices.Sort(got)
	if want := append([]string{filepath.Dir(root)}, abs(root, ".", "src", "src/components")...); !reflect.DeepEqual(got, want) {
		t.Errorf("inotify watches:\n got %q\nwant %q", got, want)
	}

	write(t, filepath.Join(root, "node_modules/pkg00/lib/f00.js"), "changed")
	write(t, filepath.Join(root, "src/app.js"), "changed")
	wantPaths(t, next(t, wt), abs(root, "src/app.js"))
}

func TestWatch_NewNestedFolders(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	wt := addWatch(t, newWatcher(t), Options{Root: root})

	// mkdir -p a/b/c && touch a/b/c/f: usually a single CREATE a.
	must(t, os.MkdirAll(filepath.Join(root, "a/b/c"), 0o755))
	write(t, filepath.Join(root, "a/b/c/f"), "")
	wantPaths(t, next(t, wt), abs(root, "a", "a/b", "a/b/c", "a/b/c/f"))
	if dirs, _ := wt.Stats(); dirs != 4 {
		t.Errorf("watching %d folders, want 4", dirs)
	}

	// The new folders are watched: a later change deep inside is seen.
	write(t, filepath.Join(root, "a/b/c/g"), "")
	wantPaths(t, next(t, wt), abs(root, "a/b/c/g"))
	nothingMore(t, wt, DefaultQuiet)
}

func TestWatch_RenamedFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tree(t, root, "old/sub/f.txt")
	wt := addWatch(t, newWatcher(t), Options{Root: root})

	must(t, os.Rename(filepath.Join(root, "old"), filepath.Join(root, "new")))
	wantPaths(t, next(t, wt), abs(root, "new", "new/sub", "new/sub/f.txt", "old"))

	// Changes in the moved tree are reported under the new name only
	// (inotify keeps the old watch on the moved inode, under the old name).
	write(t, filepath.Join(root, "new/sub/f.txt"), "changed")
	wantPaths(t, next(t, wt), abs(root, "new/sub/f.txt"))
	if dirs, _ := wt.Stats(); dirs != 3 {
		t.Errorf("watching %d folders, want 3", dirs)
	}
	nothingMore(t, wt, DefaultQuiet)
}

func TestWatch_Include(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tree(t, root, "app.py", "README.md", "pkg/mod.py", "pkg/data.json", "docs/")
	wt := addWatch(t, newWatcher(t), Options{Root: root, Include: []string{"**/*.py", "!pkg/skip.py"}})

	for _, n := range []string{"README.md", "pkg/data.json", "pkg/skip.py", "docs/x.md", "app.py", "pkg/mod.py", "new/deep/x.py"} {
		tree(t, root, n)
	}
	wantPaths(t, next(t, wt), abs(root, "app.py", "new/deep/x.py", "pkg/mod.py"))
	nothingMore(t, wt, DefaultQuiet)

	// Include prunes the walk too: folders that cannot hold an included
	// path are not watched.
	w2 := newWatcher(t)
	wt2 := addWatch(t, w2, Options{Root: root, Include: []string{"pkg"}})
	if dirs, _ := wt2.Stats(); dirs != 2 { // root and pkg
		t.Errorf("Include pkg: watching %d folders, want 2", dirs)
	}
}

func TestAdd_Errors(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w := newWatcher(t)

	missing := filepath.Join(root, "src")
	_, err := w.Add(Options{Root: missing})
	if want := fmt.Sprintf("watch path %q does not exist", missing); err == nil || err.Error() != want {
		t.Errorf("Add(missing) error = %v, want %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Add(missing) error %v is not fs.ErrNotExist", err)
	}

	dangling := filepath.Join(root, "link")
	must(t, os.Symlink(missing, dangling))
	if _, err := w.Add(Options{Root: dangling}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Add(dangling symlink) error = %v, want not exist", err)
	}

	if _, err := w.Add(Options{Root: "./src"}); err == nil || err.Error() != `watch path "./src" is not absolute` {
		t.Errorf("Add(relative) error = %v", err)
	}
	if _, err := w.Add(Options{Root: root, Ignore: []string{"[a-"}}); err == nil || !strings.Contains(err.Error(), `ignore pattern "[a-"`) {
		t.Errorf("Add(bad pattern) error = %v", err)
	}

	must(t, w.Close())
	if _, err := w.Add(Options{Root: root}); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close error = %v, want ErrClosed", err)
	}
}

func TestWatch_RootRemovedAndRecreated(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	root := filepath.Join(parent, "src")
	tree(t, root, "a.py", "pkg/b.py")
	tree(t, parent, "sibling.txt")
	wt := addWatch(t, newWatcher(t), Options{Root: root})

	must(t, os.RemoveAll(root))
	b := next(t, wt)
	if !slices.Contains(b.Paths, root) {
		t.Errorf("removal batch %q lacks the root", b.Paths)
	}
	if dirs, _ := wt.Stats(); dirs != 0 {
		t.Errorf("watching %d folders after removal, want 0", dirs)
	}

	write(t, filepath.Join(parent, "sibling.txt"), "not ours")
	tree(t, root, "a.py", "pkg/c.py")
	wantPaths(t, next(t, wt), append([]string{root}, abs(root, "a.py", "pkg", "pkg/c.py")...))

	write(t, filepath.Join(root, "pkg/c.py"), "changed")
	wantPaths(t, next(t, wt), abs(root, "pkg/c.py"))
	nothingMore(t, wt, DefaultQuiet)
}

func TestWatch_FileRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree(t, dir, "compose.yaml", "other.yaml")
	file := filepath.Join(dir, "compose.yaml")
	wt := addWatch(t, newWatcher(t), Options{Root: file})

	write(t, filepath.Join(dir, "other.yaml"), "not watched")
	write(t, file+".tmp1", "services: {}")
	must(t, os.Rename(file+".tmp1", file))
	wantPaths(t, next(t, wt), []string{file})

	// The watch survives the replacement.
	write(t, file, "services: {web: {}}")
	wantPaths(t, next(t, wt), []string{file})
	nothingMore(t, wt, DefaultQuiet)
}

func TestWatch_SymlinkedRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree(t, dir, "real/app.py")
	link := filepath.Join(dir, "link")
	must(t, os.Symlink(filepath.Join(dir, "real"), link))
	w := newWatcher(t)
	viaLink := addWatch(t, w, Options{Root: link})
	direct := addWatch(t, w, Options{Root: filepath.Join(dir, "real")})

	write(t, filepath.Join(dir, "real/app.py"), "changed")
	wantPaths(t, next(t, viaLink), []string{filepath.Join(link, "app.py")})
	wantPaths(t, next(t, direct), []string{filepath.Join(dir, "real/app.py")})
}

func TestWatcher_SharedRoots(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tree(t, root, "api/main.py", "web/index.js")
	w := newWatcher(t)
	all := addWatch(t, w, Options{Root: root})
	api := addWatch(t, w, Options{Root: filepath.Join(root, "api")})
	again := addWatch(t, w, Options{Root: filepath.Join(root, "api")})

	write(t, filepath.Join(root, "api/main.py"), "v2")
	for _, wt := range []*Watch{all, api, again} {
		wantPaths(t, next(t, wt), abs(root, "api/main.py"))
	}

	// Removing two of them keeps the shared inotify watches of the third.
	api.Remove()
	again.Remove()
	api.Remove() // idempotent
	if _, ok := <-api.C(); ok {
		t.Error("C not closed after Remove")
	}
	write(t, filepath.Join(root, "api/main.py"), "v3")
	wantPaths(t, next(t, all), abs(root, "api/main.py"))

	all.Remove()
	if got := w.fsw.WatchList(); len(got) != 0 {
		t.Errorf("inotify watches left after removing every Watch: %q", got)
	}
}

func TestWatcher_CloseWithPendingBatch(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w, err := New(testLog(t))
	must(t, err)
	wt := addWatch(t, w, Options{Root: root, Quiet: time.Hour})
	write(t, filepath.Join(root, "f"), "pending")
	// Let the event reach the batch: Stats cannot see it, so wait for the
	// debouncer to hold it.
	deadline := time.Now().Add(longWait)
	for {
		wt.b.mu.Lock()
		pending := wt.b.deb.pending
		wt.b.mu.Unlock()
		if pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("change never reached the batch")
		}
		time.Sleep(time.Millisecond)
	}

	closed := make(chan error)
	go func() { closed <- w.Close() }()
	select {
	case err := <-closed:
		must(t, err)
	case <-time.After(longWait):
		t.Fatal("Close did not return")
	}
	if b, ok := <-wt.C(); ok {
		t.Errorf("got %+v after Close, want a closed channel", b)
	}
	must(t, w.Close()) // idempotent
	wt.Remove()        // after Close: no-op
}

// TestWatch_Overflow stalls the event loop (by holding its lock) while far
// more events than fs.inotify.max_queued_events happen, so the kernel's queue
// overflows for real.
func TestWatch_Overflow(t *testing.T) {
	t.Parallel()
	limit := 16384
	if data, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		fmt.Sscan(string(data), &limit)
	}
	if limit > 100000 {
		t.Skipf("max_queued_events is %d: too many events to overflow quickly", limit)
	}
	root := t.TempDir()
	tree(t, root, "a", "b")
	w := newWatcher(t)
	wt := addWatch(t, w, Options{Root: root, Quiet: testBurstQuiet})

	var once sync.Once
	w.mu.Lock()
	unlock := func() { once.Do(w.mu.Unlock) }
	defer unlock()
	fa, err := os.OpenFile(filepath.Join(root, "a"), os.O_WRONLY, 0)
	must(t, err)
	defer fa.Close()
	fb, err := os.OpenFile(filepath.Join(root, "b"), os.O_WRONLY, 0)
	must(t, err)
	defer fb.Close()
	// Alternate files: the kernel merges identical consecutive events.
	for range limit + 8192 {
		_, err := fa.Write([]byte{'x'})
		must(t, err)
		_, err = fb.Write([]byte{'x'})
		must(t, err)
	}
	// A folder created while events are being lost: the rescan must find it.
	tree(t, root, "late/sub/")
	unlock()

	deadline := time.After(longWait)
	for overflow := false; !overflow; {
		select {
		case b := <-wt.C():
			overflow = b.Overflow
		case <-deadline:
			t.Fatal("no batch with Overflow")
		}
	}
	// Drain what the rescan and the tail of the queue may still send.
	for {
		select {
		case <-wt.C():
			continue
		case <-time.After(3 * testBurstQuiet):
		}
		break
	}
	write(t, filepath.Join(root, "late/sub/f"), "seen")
	wantPaths(t, next(t, wt), abs(root, "late/sub/f"))
}
