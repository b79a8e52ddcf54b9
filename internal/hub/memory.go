package hub

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// DefaultTailSize is the number of frames a stream retains when
// Options.TailSize is zero.
const DefaultTailSize = 1024

// Options configures a Memory hub.
type Options struct {
	// TailSize is how many of its latest frames each stream retains for
	// subscribers that resume with since (default DefaultTailSize).
	TailSize int
	// QueueSize is the queue size of the subscribers Memory.NewSubscriber
	// makes (default DefaultQueueSize). Subscribers made with the package's
	// NewSubscriber have the size given there.
	QueueSize int
}

// Memory is a Hub in one process's memory.
//
// Streams are created when first published to or subscribed to. A stream
// that has never been published to is forgotten when its last subscriber
// leaves; one with frames keeps its numbering and tail until Close.
type Memory struct {
	tailSize  int
	queueSize int

	// streams maps a name to its *stream. Publish and Last read it without
	// a lock, so that publishing never waits for a Subscribe of another
	// stream; it is written only with mu held.
	streams sync.Map
	closed  atomic.Bool // set once, with mu held

	mu      sync.Mutex // guards members, and serializes changes to streams; taken before stream.mu
	members map[*Subscriber]*membership
}

var _ Hub = (*Memory)(nil)

// membership is what a Memory knows of one subscriber.
type membership struct {
	stop    func() bool // unregisters the subscriber's AfterClose hook
	streams map[string]*stream
}

// stream is one stream of a Memory: its numbering, retained tail and
// subscribers.
type stream struct {
	name     string
	prefix   []byte // the encoded frame up to the seq number
	tailSize int    // frames the tail keeps; 0 for a live-only stream (see liveOnly)

	mu   sync.Mutex // guards the fields below; taken after Memory.mu, before Subscriber.mu
	seq  uint64     // the last frame's sequence number
	tail ring[Frame]
	subs []*Subscriber       // in no particular order
	idx  map[*Subscriber]int // index in subs
	dead bool                // removed from Memory.streams: publish to the new one
}

// NewMemory returns an empty in-memory hub.
func NewMemory(opts Options) *Memory {
	if opts.TailSize <= 0 {
		opts.TailSize = DefaultTailSize
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	return &Memory{
		tailSize:  opts.TailSize,
		queueSize: opts.QueueSize,
		members:   make(map[*Subscriber]*membership),
	}
}

// NewSubscriber returns a subscriber with the hub's QueueSize.
func (m *Memory) NewSubscriber() *Subscriber { return NewSubscriber(m.queueSize) }

// Publish implements Hub.
func (m *Memory) Publish(name string, payload any) (uint64, error) {
	if err := ValidStream(name); err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	st, err := m.stream(name, true)
	if err != nil {
		return 0, err
	}
	if st.tailSize == 0 {
		// A live-only stream: with nobody subscribed, the frame would go
		// nowhere. It is numbered, not encoded.
		st.mu.Lock()
		if len(st.subs) == 0 && !st.dead {
			st.seq++
			seq := st.seq
			st.mu.Unlock()
			return seq, nil
		}
		st.mu.Unlock()
	}
	p, enc, err := encodePayload(payload)
	if err != nil {
		return 0, fmt.Errorf("publish to %q: encode payload: %w", name, err)
	}
	defer enc.release()
	for {
		st.mu.Lock()
		if st.dead { // forgotten since we looked it up, or the hub closed
			st.mu.Unlock()
			if st, err = m.stream(name, true); err != nil {
				return 0, err
			}
			continue
		}
		st.seq++
		f := Frame{Stream: name, Seq: st.seq}
		f.Data = appendFrame(make([]byte, 0, frameLen(st.prefix, p)), st.prefix, f.Seq, p)
		if st.tailSize > 0 {
			if st.tail.len() == st.tailSize {
				st.tail.pop()
			}
			st.tail.push(f)
		}
		for _, s := range st.subs {
			s.Deliver(f)
		}
		st.mu.Unlock()
		return f.Seq, nil
	}
}

// stream returns stream name, creating it if create is set (or nil).
func (m *Memory) stream(name string, create bool) (*stream, error) {
	if m.closed.Load() {
		return nil, ErrHubClosed
	}
	if st, ok := m.streams.Load(name); ok || !create {
		st, _ := st.(*stream)
		return st, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return nil, ErrHubClosed
	}
	return m.streamLocked(name), nil
}

// streamLocked returns stream name, creating it. m.mu must be held.
func (m *Memory) streamLocked(name string) *stream {
	if st, ok := m.streams.Load(name); ok {
		return st.(*stream)
	}
	st := &stream{name: name, prefix: framePrefix(name), tailSize: m.tailSize, idx: make(map[*Subscriber]int)}
	if liveOnly(name) {
		st.tailSize = 0
	}
	m.streams.Store(name, st)
	return st
}

// Subscribe implements Hub.
func (m *Memory) Subscribe(sub *Subscriber, streams []string, since map[string]uint64) error {
	for _, name := range streams {
		if err := ValidStream(name); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	for name := range since {
		if !contains(streams, name) {
			return fmt.Errorf("subscribe: since names %q, which is not one of the streams", name)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrHubClosed
	}
	mem := m.members[sub]
	if mem == nil {
		stop, ok := sub.AfterClose(func() { m.Unsubscribe(sub, nil) })
		if !ok {
			return ErrClosed
		}
		mem = &membership{stop: stop, streams: make(map[string]*stream)}
		m.members[sub] = mem
	}
	for _, name := range streams {
		st := m.streamLocked(name)
		after, resume := since[name]
		st.mu.Lock()
		st.attach(sub, after, resume)
		st.mu.Unlock()
		mem.streams[name] = st
	}
	return nil
}

// attach subscribes s to st, replaying the tail after since when resume is
// set. st.mu must be held: the replay and the registration happen under it,
// so that no frame published meanwhile is missed or delivered twice.
func (st *stream) attach(s *Subscriber, since uint64, resume bool) {
	_, already := st.idx[s]
	if !already {
		st.idx[s] = len(st.subs)
		st.subs = append(st.subs, s)
	}
	if !resume {
		return
	}
	if already {
		s.Purge(st.name)
	}
	last, n := st.seq, uint64(st.tail.len())
	var first uint64
	if n > 0 {
		first = last - n + 1
	}
	switch {
	case since == last:
	case since > last || since+1 < first || n == 0:
		s.Notify(Notice{Op: OpGap, Stream: st.name, Since: since, First: first, Last: last})
	default:
		for i := since + 1 - first; i < n; i++ {
			s.Deliver(st.tail.at(int(i)))
		}
	}
}

// detach unsubscribes s from st and discards its queued frames of st.
// st.mu must be held.
func (st *stream) detach(s *Subscriber) {
	i, ok := st.idx[s]
	if !ok {
		return
	}
	last := len(st.subs) - 1
	if i != last {
		st.subs[i] = st.subs[last]
		st.idx[st.subs[i]] = i
	}
	st.subs[last] = nil
	st.subs = st.subs[:last]
	delete(st.idx, s)
	s.Purge(st.name)
}

// Unsubscribe implements Hub.
func (m *Memory) Unsubscribe(sub *Subscriber, streams []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mem := m.members[sub]
	if mem == nil {
		return
	}
	if streams == nil {
		streams = make([]string, 0, len(mem.streams))
		for name := range mem.streams {
			streams = append(streams, name)
		}
	}
	for _, name := range streams {
		st := mem.streams[name]
		if st == nil {
			continue
		}
		delete(mem.streams, name)
		st.mu.Lock()
		st.detach(sub)
		if len(st.subs) == 0 && st.seq == 0 && !st.dead {
			st.dead = true
			m.streams.Delete(name)
		}
		st.mu.Unlock()
	}
	if len(mem.streams) == 0 {
		mem.stop()
		delete(m.members, sub)
	}
}

// Last implements Hub.
func (m *Memory) Last(name string) uint64 {
	st, err := m.stream(name, false)
	if err != nil || st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.seq
}

// Close implements Hub.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return nil
	}
	m.closed.Store(true)
	m.streams.Range(func(name, v any) bool {
		st := v.(*stream)
		st.mu.Lock()
		st.dead = true
		st.subs, st.idx = nil, nil
		st.tail.reset()
		st.mu.Unlock()
		m.streams.Delete(name)
		return true
	})
	for sub, mem := range m.members {
		mem.stop()
		sub.End(ErrHubClosed)
	}
	m.members = nil
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
