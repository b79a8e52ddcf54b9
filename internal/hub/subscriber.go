package hub

import (
	"context"
	"sync"
	"sync/atomic"
)

// DefaultQueueSize is the queue size of NewSubscriber(0).
const DefaultQueueSize = 4096

// shrinkAbove is the queue capacity above which an emptied queue frees its
// buffer, so that a burst does not pin memory for the life of a connection.
const shrinkAbove = 256

// Subscriber is one client connection's queue of frames: the hub puts frames
// in (never waiting), the connection's writer takes them out with Next.
//
// The queue holds at most queueSize data frames. When a data frame arrives
// and the queue is full, the subscriber starts lagging: from then on every
// data frame is dropped (not queued) and counted per stream, until Next has
// drained the queue. Next then returns one OpMissed notice per stream that
// lost frames ({"op":"missed","stream":…,"from":…,"to":…,"count":…}), before
// any frame that arrives afterwards. Because dropping lasts until the queue
// is empty, the frames a stream lost are one run From…To, and each stream's
// frames still come out in sequence order: …, From-1, notice, To+1, …
//
// The owner (the connection) decides what a notice means for its client:
// forward it (the client may resume with since=From-1, or reload from
// elsewhere), or Close the subscriber and disconnect with a reason. Missed
// and Lagging help it decide.
//
// Control frames (the hub's notices, and the owner's replies queued with
// Send) do not count against queueSize and are never dropped.
//
// The owner takes frames either with Next, which waits, or with Poll,
// which does not, after OnReady has told it there is something to take (an
// owner that runs a writer only while frames are queued, instead of parking a
// goroutine per subscriber). Next and Poll must be called from one goroutine
// at a time; every other method is safe for concurrent use. The owner must
// call Close when done with it.
type Subscriber struct {
	size  int
	wake  chan struct{}          // a token when the queue goes from empty to not empty
	done  chan struct{}          // closed when err is set
	ready atomic.Pointer[func()] // OnReady's function

	mu sync.Mutex // guards the fields below; taken after any hub lock, never before
	q  ring[item]
	// ndata and nctl count the data and Send frames in q.
	ndata, nctl int
	lagging     bool
	missed      map[string]*missedRun // streams that lost frames while lagging
	missedOrder []string              // keys of missed, in order of their first loss
	dropped     uint64                // data frames dropped, ever
	err         error                 // why the subscriber ended; nil while open
	closed      bool                  // Close was called
	hooks       map[uint64]func()     // AfterClose functions
	hookID      uint64
}

// item is a queued frame. about is the data stream a notice concerns, so
// that Purge can remove it with the stream's frames; kind says how it
// counts against the bounds.
type item struct {
	f     Frame
	about string
	kind  itemKind
}

type itemKind uint8

const (
	kindData   itemKind = iota // a data frame: counted in ndata
	kindNotice                 // a hub notice: not counted
	kindSend                   // an owner's control frame: counted in nctl
)

// missedRun is the frames of one stream dropped while lagging.
type missedRun struct{ from, to, count uint64 }

// NewSubscriber returns a subscriber whose queue holds up to queueSize data
// frames (DefaultQueueSize if queueSize ≤ 0). Its memory grows with what is
// actually queued, not with queueSize.
func NewSubscriber(queueSize int) *Subscriber {
	if queueSize <= 0 {
		queueSize = DefaultQueueSize
	}
	return &Subscriber{
		size: queueSize,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

// Next returns the next frame: a data frame, a notice or a frame queued
// with Send, in the order they were queued, and pending OpMissed notices
// once the queue is drained. It blocks until there is one, ctx ends
// (ctx.Err()), the owner closes the subscriber (ErrClosed, at once), Send
// overflows (ErrOverflow, at once), or the hub ends it (ErrHubClosed or the
// hub's error, once the queue is drained).
func (s *Subscriber) Next(ctx context.Context) (Frame, error) {
	for {
		f, ok, err := s.Poll()
		if ok || err != nil {
			return f, err
		}
		select {
		case <-s.wake:
		case <-s.done:
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}

// Poll is Next without the wait: it returns the next frame and true, or
// false when there is none yet, or the error Next would return.
func (s *Subscriber) Poll() (Frame, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Frame{}, false, ErrClosed
	}
	if s.q.len() == 0 && s.lagging {
		s.flushMissedLocked()
	}
	if s.q.len() > 0 {
		return s.popLocked(), true, nil
	}
	return Frame{}, false, s.err
}

// Ready reports whether Poll would return a frame or an error.
func (s *Subscriber) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.err != nil || s.q.len() > 0 || (s.lagging && len(s.missed) > 0)
}

// OnReady arranges for f to be called each time the subscriber becomes
// ready after Poll found nothing: a frame is queued into the empty queue,
// missed notices are due, or the subscriber ends (except by Close, which its
// owner calls). A frame queued behind others does not call f: the owner is
// expected to Poll until Poll finds nothing, then check Ready once more (a
// frame queued between the two called f, which may have found the owner
// still polling). f runs on the producer's goroutine with no lock of s held
// but possibly a hub's lock: it must return quickly and not call into the
// hub. Call OnReady before the subscriber is subscribed to anything.
func (s *Subscriber) OnReady(f func()) { s.ready.Store(&f) }

// popLocked takes the first queued item. The queue must not be empty; s.mu
// must be held.
func (s *Subscriber) popLocked() Frame {
	it := s.q.pop()
	switch it.kind {
	case kindData:
		s.ndata--
	case kindSend:
		s.nctl--
	}
	if s.q.len() == 0 && len(s.q.buf) > shrinkAbove {
		s.q.reset()
	}
	return it.f
}

// flushMissedLocked ends lagging: it queues one OpMissed notice per stream
// that lost frames. s.mu must be held.
func (s *Subscriber) flushMissedLocked() {
	for _, name := range s.missedOrder {
		r := s.missed[name]
		n := Notice{Op: OpMissed, Stream: name, From: r.from, To: r.to, Count: r.count}
		s.q.push(item{f: n.Frame(), about: name, kind: kindNotice})
	}
	s.lagging, s.missed, s.missedOrder = false, nil, nil
}

// Close ends the subscriber: a blocked Next returns ErrClosed, queued frames
// are discarded, and the functions registered with AfterClose run (hubs
// forget the subscriber). Close is idempotent.
func (s *Subscriber) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.endLocked(ErrClosed)
	s.q.reset()
	s.ndata, s.nctl = 0, 0
	s.lagging, s.missed, s.missedOrder = false, nil, nil
	hooks := s.hooks
	s.hooks = nil
	s.mu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// Done returns a channel that is closed when the subscriber ends: closed by
// its owner, or ended by its hub or by an overflow. Frames may still be
// queued then (see Next).
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// Missed returns how many data frames the subscriber has missed because its
// queue was full, since it was created.
func (s *Subscriber) Missed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Lagging reports whether the subscriber is dropping data frames until its
// queue is drained.
func (s *Subscriber) Lagging() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lagging
}

// Send queues a control frame from the subscriber's owner (a reply to its
// client), in order with the frames the hub delivers. Control frames do not
// count against the queue size, but at most queueSize of them may wait: past
// that the client is not reading at all, and Send ends the subscriber with
// ErrOverflow. Send returns the subscriber's error once it has ended.
func (s *Subscriber) Send(f Frame) error {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if s.nctl >= s.size {
		s.endLocked(ErrOverflow)
		s.q.reset()
		s.ndata, s.nctl = 0, 0
		s.lagging, s.missed, s.missedOrder = false, nil, nil
		s.mu.Unlock()
		s.signal()
		return ErrOverflow
	}
	s.nctl++
	wasEmpty := s.pushLocked(item{f: f, kind: kindSend})
	s.mu.Unlock()
	if wasEmpty {
		s.signal()
	}
	return nil
}

// The methods below are the producer side, for Hub implementations.

// Deliver queues data frame f (f.Seq ≥ 1) and reports whether it did. It
// never blocks. It does not queue f when the subscriber has ended, or when
// the queue is full or the subscriber is lagging; then f is counted as
// missed. A hub must deliver each stream's frames in sequence order.
func (s *Subscriber) Deliver(f Frame) bool {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return false
	}
	if s.lagging || s.ndata >= s.size {
		s.lagging = true
		s.dropped++
		r := s.missed[f.Stream]
		if r == nil {
			if s.missed == nil {
				s.missed = make(map[string]*missedRun)
			}
			r = &missedRun{from: f.Seq}
			s.missed[f.Stream] = r
			s.missedOrder = append(s.missedOrder, f.Stream)
		}
		r.to = f.Seq
		r.count++
		s.mu.Unlock()
		return false
	}
	s.ndata++
	wasEmpty := s.pushLocked(item{f: f, kind: kindData})
	s.mu.Unlock()
	if wasEmpty {
		s.signal()
	}
	return true
}

// Notify queues notice n (an OpGap notice, typically) in order with the data
// frames delivered so far. Notices are never dropped; one that arrives after
// the subscriber ended is discarded.
func (s *Subscriber) Notify(n Notice) {
	f := n.Frame()
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	wasEmpty := s.pushLocked(item{f: f, about: n.Stream, kind: kindNotice})
	s.mu.Unlock()
	if wasEmpty {
		s.signal()
	}
}

// Purge discards the queued frames and notices of streams, and forgets what
// the subscriber missed of them. A hub calls it when it stops delivering a
// stream to s (Unsubscribe) or restarts it (Subscribe with since).
func (s *Subscriber) Purge(streams ...string) {
	if len(streams) == 0 {
		return
	}
	set := make(map[string]struct{}, len(streams))
	for _, name := range streams {
		set[name] = struct{}{}
	}
	s.mu.Lock()
	s.q.filter(func(it item) bool {
		name := it.f.Stream
		if it.kind == kindNotice {
			name = it.about
		}
		if _, ok := set[name]; !ok {
			return true
		}
		if it.kind == kindData {
			s.ndata--
		}
		return false
	})
	for name := range set {
		if _, ok := s.missed[name]; !ok {
			continue
		}
		delete(s.missed, name)
		for i, n := range s.missedOrder {
			if n == name {
				s.missedOrder = append(s.missedOrder[:i], s.missedOrder[i+1:]...)
				break
			}
		}
	}
	due := false
	if s.lagging && s.q.len() == 0 {
		if len(s.missed) == 0 {
			s.lagging = false
		} else {
			due = true // a waiting Next has notices to flush
		}
	}
	s.mu.Unlock()
	if due {
		s.signal()
	}
}

// AfterClose arranges for f to run, on the goroutine calling Close, when the
// owner closes s. It returns ok false, and does not register f, if s is
// already closed. Calling stop unregisters f; it reports whether f was still
// registered. f runs with no lock of s held.
func (s *Subscriber) AfterClose(f func()) (stop func() bool, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	if s.hooks == nil {
		s.hooks = make(map[uint64]func())
	}
	s.hookID++
	id := s.hookID
	s.hooks[id] = f
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.hooks[id]
		delete(s.hooks, id)
		return ok
	}, true
}

// End ends the subscriber on behalf of its hub: nothing more is queued,
// Next returns what is queued and then err. End does not run the AfterClose
// functions (the owner's Close does). It is a no-op if s has already ended.
func (s *Subscriber) End(err error) {
	s.mu.Lock()
	ended := s.err == nil
	s.endLocked(err)
	s.mu.Unlock()
	if ended {
		s.signal()
	}
}

// endLocked records why s ended and wakes Next. s.mu must be held.
func (s *Subscriber) endLocked(err error) {
	if s.err == nil {
		s.err = err
		close(s.done)
	}
}

// pushLocked queues it and reports whether the queue was empty before.
// s.mu must be held.
func (s *Subscriber) pushLocked(it item) (wasEmpty bool) {
	wasEmpty = s.q.len() == 0
	s.q.push(it)
	return wasEmpty
}

// signal wakes a Next waiting for a frame, and calls OnReady's function.
// No lock of s may be held.
func (s *Subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if f := s.ready.Load(); f != nil {
		(*f)()
	}
}
