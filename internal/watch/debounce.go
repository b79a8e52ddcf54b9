package watch

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Default debounce windows; see Options.
const (
	DefaultQuiet   = 100 * time.Millisecond
	DefaultMaxWait = 2 * time.Second
)

// maxBatchPaths bounds the paths one batch collects. Past it, the batch
// stops collecting and is flagged Overflow: a caller handed that many paths
// would do a full sync or restart anyway, and memory stays bounded while an
// `npm install` into a watched folder runs.
const maxBatchPaths = 10000

// change is what happened to a path, as far as batching cares.
type change int

const (
	changed     change = iota // written, or its attributes changed
	created                   // created, or moved in
	removed                   // removed, or moved away
	removedTree               // a folder removed or moved away, with all below it
)

// pathState is what one batch knows of a path.
type pathState struct {
	created bool // the first change of the batch created it
	gone    bool // the last change of the batch removed it
}

// transient reports whether the path appeared and disappeared within the
// batch: a temporary file, nothing to report.
func (s pathState) transient() bool { return s.created && s.gone }

// debouncer is the pure batching logic of a Watch: it collects changes and
// says when the batch is due. It is not safe for concurrent use; batcher
// guards it.
type debouncer struct {
	quiet      time.Duration
	burstQuiet time.Duration // 0: no separate window for bursts
	maxWait    time.Duration
	paths      map[string]pathState
	overflow   bool
	pending    bool      // something was collected since the last take
	first      time.Time // time of the first change of the pending batch
	last       time.Time // time of the latest change of the pending batch
}

func newDebouncer(quiet, maxWait time.Duration) debouncer {
	return debouncer{quiet: quiet, maxWait: maxWait, paths: make(map[string]pathState)}
}

func (d *debouncer) touch(now time.Time) {
	if !d.pending {
		d.pending = true
		d.first = now
	}
	d.last = now
}

// add records a change of path p at now. A write or attribute change does
// not end a removal: the name exists again only through a creation.
func (d *debouncer) add(now time.Time, p string, c change) {
	d.touch(now)
	st, seen := d.paths[p]
	if !seen {
		if len(d.paths) >= maxBatchPaths {
			d.overflow = true
			return
		}
		st.created = c == created
	}
	switch c {
	case created:
		st.gone = false
	case removed, removedTree:
		st.gone = true
	}
	d.paths[p] = st
	if c == removedTree {
		// What the batch saw below the folder went with it; no event says so.
		prefix := p + string(filepath.Separator)
		for q, st := range d.paths {
			if strings.HasPrefix(q, prefix) {
				st.gone = true
				d.paths[q] = st
			}
		}
	}
}

// setOverflow records, at now, that changes were lost.
func (d *debouncer) setOverflow(now time.Time) {
	d.touch(now)
	d.overflow = true
}

// burstPaths is the size past which a batch is a burst (see Options.BurstQuiet).
const burstPaths = 4

// deadline returns when the pending batch is due: Quiet after its latest
// change (burstQuiet once it is a burst), but no later than MaxWait after
// its first. ok is false when nothing is pending.
func (d *debouncer) deadline() (t time.Time, ok bool) {
	if !d.pending {
		return time.Time{}, false
	}
	quiet := d.quiet
	if len(d.paths) > burstPaths && quiet < d.burstQuiet {
		quiet = d.burstQuiet
	}
	t = d.last.Add(quiet)
	if m := d.first.Add(d.maxWait); m.Before(t) {
		t = m
	}
	return t, true
}

// take returns the pending batch and starts a new one. ok is false when the
// batch holds nothing to report (only transient paths).
func (d *debouncer) take() (b Batch, ok bool) {
	for p, st := range d.paths {
		if !st.transient() {
			b.Paths = append(b.Paths, p)
		}
	}
	slices.Sort(b.Paths)
	b.Overflow = d.overflow
	clear(d.paths)
	d.overflow, d.pending = false, false
	return b, len(b.Paths) > 0 || b.Overflow
}

// batcher runs the debounce of one Watch: the event loop adds changes, and
// run turns them into Batches on out.
type batcher struct {
	clock Clock
	kick  chan struct{} // capacity 1: "something was added"; never blocks the adder
	out   chan Batch    // unbuffered; closed by run when it returns

	mu  sync.Mutex // guards deb
	deb debouncer
}

func newBatcher(clock Clock, quiet, maxWait time.Duration) *batcher {
	return &batcher{
		clock: clock,
		kick:  make(chan struct{}, 1),
		out:   make(chan Batch),
		deb:   newDebouncer(quiet, maxWait),
	}
}

// add records a change of p. It never blocks on the consumer of out.
func (b *batcher) add(p string, c change) {
	b.mu.Lock()
	b.deb.add(b.clock.Now(), p, c)
	b.mu.Unlock()
	b.poke()
}

// addTree records that the folder p, and everything below it, was removed.
func (b *batcher) addTree(p string) { b.add(p, removedTree) }

// overflow records that changes were lost.
func (b *batcher) overflow() {
	b.mu.Lock()
	b.deb.setOverflow(b.clock.Now())
	b.mu.Unlock()
	b.poke()
}

func (b *batcher) poke() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// run sends each batch on out when it is due, until ctx is done; then it
// closes out. Changes still pending then are dropped. A batch that nobody
// receives blocks run (changes keep being collected into the next batch, up
// to maxBatchPaths) but never the adder.
func (b *batcher) run(ctx context.Context) {
	defer close(b.out)
	var (
		timer  Timer
		timerC <-chan time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// arm starts the timer for the pending batch's deadline, if there is a
	// batch and no timer yet. The timer is not moved on every change: when it
	// fires early (the batch grew since), it is re-armed for the rest.
	arm := func() {
		if timer != nil {
			return
		}
		b.mu.Lock()
		dl, ok := b.deb.deadline()
		b.mu.Unlock()
		if !ok {
			return
		}
		timer = b.clock.NewTimer(max(dl.Sub(b.clock.Now()), 0))
		timerC = timer.C()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
			arm()
		case <-timerC:
			timer, timerC = nil, nil
			b.mu.Lock()
			dl, pending := b.deb.deadline()
			var (
				batch Batch
				due   bool
			)
			if pending && !b.clock.Now().Before(dl) {
				batch, due = b.deb.take()
			}
			b.mu.Unlock()
			if due {
				select {
				case b.out <- batch:
				case <-ctx.Done():
					return
				}
			}
			arm()
		}
	}
}
