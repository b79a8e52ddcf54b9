// Package watch turns file-system changes under a set of roots into
// debounced batches of paths, for compose's `develop.watch`.
//
// It owns one fsnotify watcher (one inotify instance, of the 128 a user may
// have) per Watcher, shared by every root added to it, and the ignore rules,
// the recursive walk and the debounce. It knows paths, not services: it must
// not import other internal packages, start processes, or decide what a
// change means (restart, rebuild, sync); internal/engine does.
//
// # Walking
//
// fsnotify is not recursive: Add walks Root and watches every folder that is
// not ignored. An ignored folder is never descended into, so a node_modules of
// 20,000 files costs no watch at all (Watch.Stats lists such folders). The
// one exception: a negation after the pattern that ignored the folder, and
// which names a path inside it without a "**" before it, makes the walk go
// in (".git" then "!.git/hooks/**" watches .git, .git/hooks and below;
// "!**/*.js" does not walk into node_modules). Symlinks are not followed: a
// symlink's own change is reported, not its target's.
//
// When a folder appears, it is watched and walked at once, and everything
// already in it is reported: `mkdir -p a/b && touch a/b/f` can produce a
// single CREATE a, and the batch still holds a, a/b and a/b/f. When a watched
// folder is removed or renamed away its watches (and those below it) are
// released; a rename within Root is a removal plus a creation.
//
// # Ignore rules
//
// A path is ignored by the last rule that matches it or one of its parent
// folders, and a "!" rule re-includes, as in .dockerignore. Rules apply in
// this order: DefaultIgnore, then Options.IgnoreFiles in the order given,
// then Options.Ignore. Options.Ignore, Options.Include and .dockerignore
// files use .dockerignore syntax (anchored at their folder; "**" for any
// depth); a .gitignore file uses a subset of gitignore syntax (comments,
// blank lines, "!", "/"-anchoring, a pattern without a slash matching at any
// depth, "dir/" for folders only, "**"). Unlike git, a "!" can re-include a
// file inside an ignored folder, under the rule above. Ignore files are read
// once, by Add: editing them takes effect for Watches added afterwards.
//
// # Batches
//
// Changes are coalesced by path. A batch is sent Options.Quiet after the last
// change, or Options.MaxWait after its first change if changes keep coming,
// whichever is sooner: a burst whose changes are less than Quiet apart and
// which lasts less than MaxWait is exactly one batch. One editor save is one
// batch holding the saved file only: temporary names (see DefaultIgnore) are
// ignored, and any path created and then removed or renamed away within the
// batch is left out. Because inotify reports a rename over an existing file
// as a creation, a file saved atomically and then deleted within one batch
// is left out too.
//
// When the kernel's queue overflows (fsnotify.ErrEventOverflow; the limit is
// fs.inotify.max_queued_events), every Watch rescans its tree, re-watching
// what appeared or was replaced, and its next batch has Overflow set.
//
// # Root
//
// Each Watch also watches the folder that contains Root (the anchor), to see
// Root itself: a Root folder that is removed and created again (or renamed
// away and back) is walked again and everything in it is reported. A file
// Root is seen only through that folder, so an editor's atomic save of it is
// one ordinary change. If the folder containing Root is removed as well,
// Root coming back is not seen: add the Watch again. Root is resolved
// through symlinks once, by Add; reported paths keep the spelling of
// Options.Root.
//
// # Goroutines and locks
//
// A Watcher runs two goroutines: loop, which receives fsnotify's events and
// applies them to every Watch, and errs, which drains fsnotify's errors
// without taking a lock (fsnotify may block sending an error while holding
// its own lock, which loop needs to add a watch). Each Watch runs one
// batcher goroutine, which owns the debounce timer and sends on Watch.C.
// Watcher.Close cancels them all and waits for them; Watch.Remove cancels
// and waits for its own. The goroutine that sends on a Watch's channel closes
// it when it returns. loop never waits on a consumer of Watch.C.
//
// Watcher.mu guards the Watcher's state and the tree state of every Watch;
// batcher.mu guards one debouncer. Lock order: Watcher.mu, then batcher.mu.
package watch
