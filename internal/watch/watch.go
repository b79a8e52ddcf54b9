package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("watcher closed")

// Options says what one Watch watches.
type Options struct {
	// Root is the absolute path to watch: a folder, watched recursively, or a
	// single file. It must exist when Add is called.
	Root string
	// Ignore lists patterns, relative to Root (to its folder, for a file
	// Root), in .dockerignore syntax ("**"
	// globs, "!" negation, a pattern also matches everything below a folder
	// it matches). They apply after DefaultIgnore and the IgnoreFiles, so a
	// negation here can re-include what those ignore.
	Ignore []string
	// Include, when not empty, keeps only the paths that match one of these
	// patterns (relative to Root, .dockerignore syntax, "!" excludes again).
	// "*.py" matches at the top level only: write "**/*.py".
	Include []string
	// IgnoreFiles names files whose patterns also apply, relative to the
	// file's own folder: typically <build context>/.dockerignore and
	// <Root>/.gitignore. A file named .gitignore is read with gitignore
	// syntax, any other with .dockerignore syntax. A relative name is taken
	// relative to Root; a file that does not exist is skipped. The files are
	// read once, by Add.
	IgnoreFiles []string
	// Quiet is the debounce window: a burst of changes becomes one Batch once
	// Quiet passes without a change. Zero means DefaultQuiet.
	Quiet time.Duration
	// MaxWait bounds the debounce: a Batch is sent MaxWait after its first
	// change even if changes keep coming. Zero means DefaultMaxWait.
	MaxWait time.Duration
	// BurstQuiet, when longer than Quiet, is the debounce window of a batch
	// that has grown past a few paths (a checkout, a formatter): a short
	// Quiet keeps an editor's save quick without cutting a burst that
	// hesitates into several batches. Zero means no separate window.
	BurstQuiet time.Duration
	// Clock times the debounce. Nil means RealClock.
	Clock Clock
}

// Batch is one debounced set of changes.
type Batch struct {
	// Paths are the changed paths: absolute, spelled under Options.Root as
	// given (even when Root is or goes through a symlink), sorted and
	// deduplicated. They include created, written, removed and renamed
	// files and folders, and the folders and files found inside a folder
	// that appeared. A path that was created and removed (or renamed away)
	// within the batch is left out: it was a temporary file.
	Paths []string
	// Overflow means changes were lost (the kernel's event queue overflowed,
	// or the batch passed 10,000 paths): treat it as "anything under Root
	// may have changed". Paths then holds what was seen, which may be
	// incomplete or empty.
	Overflow bool
}

// Watcher watches any number of roots with one fsnotify watcher (one inotify
// instance: they are limited per user). It is safe for concurrent use.
type Watcher struct {
	log      *slog.Logger
	fsw      *fsnotify.Watcher
	overflow chan struct{} // capacity 1: errs tells loop that events were lost
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // loop, errs and every Watch's batcher

	// mu guards closed, watches and refs, and the tree state (dirs, ignored,
	// anchored, removed) of every Watch. Lock order: Watcher.mu before
	// batcher.mu.
	mu      sync.Mutex
	closed  bool
	watches map[*Watch]struct{}
	refs    map[string]int // fsnotify path → how many Watches need it
}

// New starts a Watcher. A nil log discards messages.
func New(log *slog.Logger) (*Watcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		if errors.Is(err, syscall.EMFILE) {
			return nil, fmt.Errorf("start file watcher: %w; hint: raise fs.inotify.max_user_instances", err)
		}
		return nil, fmt.Errorf("start file watcher: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{
		log:      log,
		fsw:      fsw,
		overflow: make(chan struct{}, 1),
		ctx:      ctx,
		cancel:   cancel,
		watches:  make(map[*Watch]struct{}),
		refs:     make(map[string]int),
	}
	w.wg.Add(2)
	go func() { defer w.wg.Done(); w.loop() }()
	go func() { defer w.wg.Done(); w.errs() }()
	return w, nil
}

// Close stops the Watcher: it removes every Watch (closing their channels;
// batches still pending are dropped), releases the inotify instance and
// waits for its goroutines. It is idempotent.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()

	w.cancel()
	err := w.fsw.Close()
	w.wg.Wait()

	w.mu.Lock()
	for wt := range w.watches {
		wt.removed = true
	}
	clear(w.watches)
	clear(w.refs)
	w.mu.Unlock()
	if err != nil {
		return fmt.Errorf("close file watcher: %w", err)
	}
	return nil
}

// Watch is one root of a Watcher. Its methods are safe for concurrent use.
type Watch struct {
	w      *Watcher
	root   string // Options.Root, cleaned: the spelling of reported paths
	real   string // root with symlinks resolved: the spelling of fsnotify's paths
	isFile bool
	anchor string // parent folder of real, watched to see real itself come and go; "" if none
	ignore matcher
	incl   matcher // empty: everything is included
	b      *batcher
	cancel context.CancelFunc
	done   chan struct{} // closed when the batcher has returned (and closed b.out)

	// Guarded by w.mu:
	dirs        map[string]struct{} // folders of this Watch with an fsnotify watch
	ignored     map[string]struct{} // ignored folders met by walks, not descended into
	anchored    bool                // anchor holds a ref
	limitWarned bool                // the inotify limit was reported once
	removed     bool
}

// notExistError is the error of a Root that does not exist.
type notExistError struct{ path string }

func (e *notExistError) Error() string { return fmt.Sprintf("watch path %q does not exist", e.path) }
func (e *notExistError) Unwrap() error { return fs.ErrNotExist }

// Add starts watching opts.Root. Its error names the path only (for a
// missing Root: `watch path "/abs/src" does not exist`, matching
// fs.ErrNotExist); the caller adds the service and file:line.
//
// Add walks the tree at once, adding an inotify watch on every folder that
// is not ignored. It never descends into an ignored folder, unless a later
// negation names something inside it.
func (w *Watcher) Add(opts Options) (*Watch, error) {
	if !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("watch path %q is not absolute", opts.Root)
	}
	root := filepath.Clean(opts.Root)
	if _, err := os.Lstat(root); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &notExistError{opts.Root}
		}
		return nil, fmt.Errorf("watch path %q: %w", opts.Root, err)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) { // a dangling symlink
			return nil, &notExistError{opts.Root}
		}
		return nil, fmt.Errorf("watch path %q: %w", opts.Root, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("watch path %q: %w", opts.Root, err)
	}

	wt := &Watch{
		w:       w,
		root:    root,
		real:    real,
		isFile:  !fi.IsDir(),
		done:    make(chan struct{}),
		dirs:    make(map[string]struct{}),
		ignored: make(map[string]struct{}),
	}
	if parent := filepath.Dir(real); parent != real {
		wt.anchor = parent
	}
	base := real // patterns are relative to Root, or to a file Root's folder
	if wt.isFile {
		base = wt.anchor
	}
	if err := wt.ignore.add(base, DefaultIgnore, gitSyntax); err != nil {
		panic(err) // DefaultIgnore is a constant
	}
	for _, f := range opts.IgnoreFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(root, f)
		}
		if dir, err := filepath.EvalSymlinks(filepath.Dir(f)); err == nil {
			f = filepath.Join(dir, filepath.Base(f))
		}
		warnings, err := wt.ignore.addFile(f)
		if err != nil {
			return nil, fmt.Errorf("watch path %q: %w", opts.Root, err)
		}
		for _, msg := range warnings {
			w.log.Warn("ignore file: bad pattern skipped", keyPath, opts.Root, keyErr, msg)
		}
	}
	if err := wt.ignore.add(base, opts.Ignore, dockerSyntax); err != nil {
		return nil, fmt.Errorf("watch path %q: ignore %w", opts.Root, err)
	}
	if err := wt.incl.add(base, opts.Include, dockerSyntax); err != nil {
		return nil, fmt.Errorf("watch path %q: include %w", opts.Root, err)
	}

	quiet, maxWait := opts.Quiet, opts.MaxWait
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	clock := opts.Clock
	if clock == nil {
		clock = RealClock{}
	}
	wt.b = newBatcher(clock, quiet, maxWait)
	wt.b.deb.burstQuiet = opts.BurstQuiet

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	if err := wt.start(); err != nil {
		wt.releaseAll()
		return nil, fmt.Errorf("watch path %q: %w", opts.Root, err)
	}
	w.watches[wt] = struct{}{}
	ctx, cancel := context.WithCancel(w.ctx)
	wt.cancel = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(wt.done)
		wt.b.run(ctx)
	}()
	w.log.Debug("watching", keyPath, root, keyDirs, len(wt.dirs))
	return wt, nil
}

// C returns the channel of batches. It is closed, by the Watch's own
// goroutine, once Remove or Watcher.Close has been called; batches pending
// then are dropped. A batch nobody receives holds back the next ones (their
// changes are merged) but never the Watcher.
func (wt *Watch) C() <-chan Batch { return wt.b.out }

// Remove stops the Watch, releases its inotify watches and waits until C is
// closed. It is idempotent, and may be called after Watcher.Close.
func (wt *Watch) Remove() {
	w := wt.w
	w.mu.Lock()
	if !wt.removed {
		wt.removed = true
		delete(w.watches, wt)
		if !w.closed {
			wt.releaseAll()
		}
	}
	w.mu.Unlock()
	wt.cancel()
	<-wt.done
}

// Stats returns how many folders the Watch has an inotify watch on, and the
// ignored folders it did not descend into, relative to Root, slash-separated
// and sorted (for a log line such as "watching 312 folders (ignored
// node_modules, .venv)"). Folders left out because no Include pattern can
// match inside them are not listed. A file Root has no folders of its own.
func (wt *Watch) Stats() (dirs int, ignoredDirs []string) {
	wt.w.mu.Lock()
	defer wt.w.mu.Unlock()
	for p := range wt.ignored {
		if rel, err := filepath.Rel(wt.real, p); err == nil {
			ignoredDirs = append(ignoredDirs, filepath.ToSlash(rel))
		}
	}
	slices.Sort(ignoredDirs)
	return len(wt.dirs), ignoredDirs
}

// loop owns the fsnotify event stream: it routes each event to the Watches,
// and rescans them when events were lost.
func (w *Watcher) loop() {
	for {
		select {
		case <-w.ctx.Done():
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		case <-w.overflow:
			w.rescan()
		}
	}
}

// errs drains fsnotify's error channel. It is its own goroutine, holding no
// lock, because fsnotify can block on sending an error while it holds its
// own lock: loop, calling fsnotify's Add under that lock, must never be the
// only reader.
func (w *Watcher) errs() {
	for err := range w.fsw.Errors {
		if errors.Is(err, fsnotify.ErrEventOverflow) {
			select {
			case w.overflow <- struct{}{}:
			default:
			}
			continue
		}
		w.log.Warn("file watcher error", keyErr, err)
	}
}

// handle routes one event to every Watch.
func (w *Watcher) handle(ev fsnotify.Event) {
	ev.Name = filepath.Clean(ev.Name) // "//src" for an entry of a watch on "/"
	var (
		statDone bool
		isDir    bool
	)
	// createdDir reports, once per event, whether a created path is a folder.
	createdDir := func() bool {
		if !statDone {
			statDone = true
			fi, err := os.Lstat(ev.Name)
			isDir = err == nil && fi.IsDir()
		}
		return isDir
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	for wt := range w.watches {
		wt.handle(ev, createdDir)
	}
}

// rescan refreshes every Watch after lost events, and flags their next batch.
func (w *Watcher) rescan() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.log.Warn("file events lost; rescanning")
	for wt := range w.watches {
		wt.rescan()
		wt.b.overflow()
	}
}

// handle applies one event to wt. w.mu must be held.
func (wt *Watch) handle(ev fsnotify.Event, createdDir func() bool) {
	p := ev.Name
	gone := ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
	if wt.isFile {
		if p != wt.real {
			return
		}
		switch {
		case ev.Has(fsnotify.Create):
			wt.b.add(wt.root, created)
		case gone:
			wt.b.add(wt.root, removed)
		default:
			wt.b.add(wt.root, changed)
		}
		return
	}
	if p == wt.real {
		// Root itself, seen from the anchor (or its own watch).
		switch {
		case ev.Has(fsnotify.Create):
			if createdDir() {
				_ = wt.walkAdd(p, true) // logged by walkAdd
			}
		case gone:
			wt.dropTree(p)
			wt.b.addTree(wt.root)
		}
		return
	}
	// Only events from this Watch's own folders: the anchor reports siblings
	// of Root, and other Watches' folders may be ones this Watch ignores.
	if _, ok := wt.dirs[filepath.Dir(p)]; !ok {
		return
	}
	_, known := wt.dirs[p]
	_, ignoredDir := wt.ignored[p] // a folder too, for "dir/" patterns
	switch {
	case ev.Has(fsnotify.Create):
		if createdDir() {
			_ = wt.walkAdd(p, true) // logged by walkAdd
			return
		}
		wt.report(p, false, created)
	case gone:
		if known {
			wt.dropTree(p)
			wt.report(p, true, removedTree)
			return
		}
		wt.forgetIgnored(p)
		wt.report(p, ignoredDir, removed)
	default:
		wt.report(p, known || ignoredDir, changed)
	}
}

// report adds p to the batch unless it is ignored or not included.
func (wt *Watch) report(p string, isDir bool, c change) {
	if wt.ignore.match(p, isDir) {
		return
	}
	if len(wt.incl.rules) > 0 && !wt.incl.match(p, isDir) {
		return
	}
	if c == removedTree {
		wt.b.addTree(wt.root + p[len(wt.real):])
		return
	}
	wt.b.add(wt.root+p[len(wt.real):], c)
}

// walkAdd watches the folder dir and every folder below it that is not
// ignored. With synth, it also reports dir and everything found in it as
// created: files created in a new folder before its watch was added have no
// event of their own. w.mu must be held. The error is that of the first
// folder that could not be watched for lack of resources (see isLimit);
// other folders that cannot be read or watched are skipped.
func (wt *Watch) walkAdd(dir string, synth bool) error {
	var limitErr error
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// Gone since it was listed, or unreadable: skip it.
			wt.w.log.Debug("walk", keyPath, p, keyErr, err)
			if d != nil && d.IsDir() && p != dir {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			if synth {
				wt.report(p, false, created)
			}
			return nil
		}
		if p != wt.real {
			if wt.ignore.skipDir(p) {
				wt.ignored[p] = struct{}{}
				return filepath.SkipDir
			}
			if len(wt.incl.rules) > 0 && !wt.incl.mayInclude(p) {
				return filepath.SkipDir
			}
		}
		// Watch first, then list (WalkDir reads the folder after this
		// returns): what is created in between is both listed and reported,
		// and batches deduplicate.
		if err := wt.addDir(p); err != nil {
			if isLimit(err) {
				limitErr = fmt.Errorf("watch folder %q: %w; hint: ignore large folders, or raise fs.inotify.max_user_watches", p, err)
				return filepath.SkipAll
			}
			wt.w.log.Debug("watch folder", keyPath, p, keyErr, err)
			return filepath.SkipDir
		}
		if synth {
			wt.report(p, true, created)
		}
		return nil
	})
	if err != nil {
		wt.w.log.Debug("walk", keyPath, dir, keyErr, err)
	}
	if limitErr != nil && synth {
		// Once per Watch: at the limit, every new folder would repeat it.
		if !wt.limitWarned {
			wt.limitWarned = true
			wt.w.log.Warn("folder not watched", keyPath, wt.root, keyErr, limitErr)
		} else {
			wt.w.log.Debug("folder not watched", keyPath, wt.root, keyErr, limitErr)
		}
	}
	return limitErr
}

// isLimit reports whether err says the inotify limits are reached.
func isLimit(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENOMEM)
}

// start adds the anchor and walks Root. w.mu must be held.
func (wt *Watch) start() error {
	if wt.anchor != "" {
		switch err := wt.w.ref(wt.anchor); {
		case err == nil:
			wt.anchored = true
		case isLimit(err):
			return fmt.Errorf("watch folder %q: %w; hint: raise fs.inotify.max_user_watches", wt.anchor, err)
		case wt.isFile:
			// A file Root is seen through its folder only.
			return fmt.Errorf("watch folder %q: %w", wt.anchor, err)
		default:
			// A folder Root only loses the ability to come back after it is
			// removed.
			wt.w.log.Debug("watch folder", keyPath, wt.anchor, keyErr, err)
		}
	}
	if wt.isFile {
		return nil
	}
	return wt.walkAdd(wt.real, false)
}

// rescan brings wt's folders in line with the disk after lost events: it
// watches every folder that should be (again: a folder removed and recreated
// has a new inode) and releases those that are gone. w.mu must be held.
func (wt *Watch) rescan() {
	if wt.anchor != "" {
		if wt.anchored {
			_ = wt.w.fsw.Add(wt.anchor)
		} else if wt.w.ref(wt.anchor) == nil {
			wt.anchored = true
		}
	}
	if wt.isFile {
		return
	}
	old := wt.dirs
	wt.dirs = make(map[string]struct{}, len(old))
	clear(wt.ignored)
	if fi, err := os.Stat(wt.real); err == nil && fi.IsDir() {
		if err := wt.walkAdd(wt.real, false); err != nil {
			wt.w.log.Warn("rescan", keyPath, wt.root, keyErr, err)
		}
	}
	for p := range old {
		if _, ok := wt.dirs[p]; ok {
			wt.w.unrefKeep(p) // walkAdd counted it again
		} else {
			wt.w.unref(p)
		}
	}
}

// addDir watches the folder p for wt. It always asks fsnotify, even for a
// folder already watched: that refreshes a watch whose folder was replaced.
// w.mu must be held.
func (wt *Watch) addDir(p string) error {
	if _, ok := wt.dirs[p]; ok {
		return wt.w.fsw.Add(p)
	}
	if err := wt.w.ref(p); err != nil {
		return err
	}
	wt.dirs[p] = struct{}{}
	return nil
}

// dropTree releases the folder p and every folder below it. w.mu must be held.
func (wt *Watch) dropTree(p string) {
	prefix := p + string(filepath.Separator)
	for d := range wt.dirs {
		if d == p || strings.HasPrefix(d, prefix) {
			delete(wt.dirs, d)
			wt.w.unref(d)
		}
	}
	wt.forgetIgnored(p)
}

// forgetIgnored drops the ignored folders at or below p from the Stats.
// w.mu must be held.
func (wt *Watch) forgetIgnored(p string) {
	prefix := p + string(filepath.Separator)
	for d := range wt.ignored {
		if d == p || strings.HasPrefix(d, prefix) {
			delete(wt.ignored, d)
		}
	}
}

// releaseAll releases every watch wt holds. w.mu must be held.
func (wt *Watch) releaseAll() {
	for d := range wt.dirs {
		wt.w.unref(d)
	}
	clear(wt.dirs)
	clear(wt.ignored)
	if wt.anchored {
		wt.w.unref(wt.anchor)
		wt.anchored = false
	}
}

// ref counts one more user of the fsnotify watch on p, adding (or
// refreshing) it. w.mu must be held.
func (w *Watcher) ref(p string) error {
	if err := w.fsw.Add(p); err != nil {
		return err
	}
	w.refs[p]++
	return nil
}

// unref counts one user less of the fsnotify watch on p, and removes the
// watch when nobody needs it. Errors are expected (the kernel drops the
// watch of a removed folder by itself) and ignored. w.mu must be held.
func (w *Watcher) unref(p string) {
	n := w.refs[p] - 1
	if n > 0 {
		w.refs[p] = n
		return
	}
	delete(w.refs, p)
	if err := w.fsw.Remove(p); err != nil {
		w.log.Debug("unwatch folder", keyPath, p, keyErr, err)
	}
}

// unrefKeep counts one user less of p without removing the watch: the
// caller knows another reference remains. w.mu must be held.
func (w *Watcher) unrefKeep(p string) {
	if w.refs[p] > 1 {
		w.refs[p]--
	}
}
