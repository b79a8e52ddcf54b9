package logs

import (
	"context"
	"io"
	"os"
	"sync"
	"time"
)

// Defaults for the zero fields of SubscribeOptions.
const (
	DefaultBuffer = 10000
	// maxQueueBytes bounds the text a live queue holds, besides its lines.
	maxQueueBytes = 16 << 20
	// batchLines and batchBytes bound a batch of history.
	batchLines = 4096
	batchBytes = 1 << 20
)

// SubscribeOptions says what a Subscription delivers.
type SubscribeOptions struct {
	// Tail is how many of the most recent lines to deliver as history:
	// 0 none, -1 all (all that rotation kept).
	Tail int
	// Since, when not zero, leaves out lines older than it.
	Since time.Time
	// After, when not zero, leaves out the lines up to this sequence
	// number: the history starts after it, and the files that hold only
	// older lines are not read (a client resuming a stream).
	After uint64
	// Follow delivers live lines after the history, until Close.
	Follow bool
	// Buffer bounds the live lines queued for a slow reader (default
	// DefaultBuffer; their text is also bounded, to 16 MiB); past it the
	// oldest are dropped and reported as missed.
	Buffer int
}

// Subscription delivers a service's lines in sequence order: first the
// history from disk (or from the in-memory tail when it holds all of it),
// then, when following, the live lines, with no gap and no duplicate between
// the two.
//
// A slow follower is never waited on: when its queue is full the oldest
// queued lines are dropped, and the next batch reports how many were skipped
// just before its first line (they are on disk). Lines missing from disk
// while history is read (rotated away meanwhile, or never written because of a
// disk error) are reported the same way.
//
// Next must not be called concurrently with itself; Close may be called at
// any time, from any goroutine.
type Subscription struct {
	l      *Log
	follow bool
	since  time.Time
	ready  chan struct{} // a token when lines are queued or the log ends
	done   chan struct{} // closed by Close

	// History state, owned by the goroutine calling Next.
	mem   []Line // history from the in-memory tail, not yet delivered
	hist  *history
	carry uint64 // missed lines not reported yet

	mu     sync.Mutex // guards the fields below
	closed bool
	file   *os.File // the history file being read, for Close to close
	eof    bool     // the Log was closed: no more live lines
	// q is a ring of live lines: n lines from start; bytes is their text size.
	q      []Line
	start  int
	n      int
	bytes  int
	max    int
	missed uint64 // lines dropped from q since the last batch
}

// history reads lines next…upto from the files.
type history struct {
	next, upto uint64
	started    bool
	ref        fileRef // the open file, or ref.f == nil
	rr         *recordReader
	gap        uint64 // lines missing before the next line delivered
	held       *Line  // a line read but left for the next batch
}

// Subscribe starts a subscription to the log's lines. It fails with ErrClosed
// after Close.
func (l *Log) Subscribe(opts SubscribeOptions) (*Subscription, error) {
	s := &Subscription{
		l:      l,
		follow: opts.Follow,
		since:  opts.Since,
		ready:  make(chan struct{}, 1),
		done:   make(chan struct{}),
		max:    opts.Buffer,
	}
	if s.max <= 0 {
		s.max = DefaultBuffer
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	upto := l.seq
	if opts.Tail != 0 && upto > opts.After {
		from := uint64(1)
		if opts.Tail > 0 && uint64(opts.Tail) < upto {
			from = upto - uint64(opts.Tail) + 1
		}
		from = max(from, opts.After+1)
		if !s.fromMemoryLocked(from) {
			if !s.since.IsZero() {
				// Skip the files whose lines all precede since: those before
				// the newest file that starts before it.
				for i, first := range l.firstSeq {
					if first != 0 && l.firstTime[i].Before(s.since) {
						from = max(from, first)
						break
					}
				}
			}
			l.writeLocked() // history is read from disk: every line up to upto must be there
			s.hist = &history{next: from, upto: upto}
		}
	}
	if opts.Follow {
		l.subs[s] = struct{}{}
	}
	return s, nil
}

// fromMemoryLocked takes the history from the in-memory tail if it holds all
// of it, and reports whether it did. l.mu must be held.
func (s *Subscription) fromMemoryLocked(from uint64) bool {
	l := s.l
	if l.ringLen == 0 {
		return false
	}
	oldest := (l.ringHead - l.ringLen + len(l.ring)) % len(l.ring)
	o := &l.ring[oldest]
	if from < o.seq && !(!s.since.IsZero() && o.time.Before(s.since)) {
		return false
	}
	total, n := 0, 0
	for i := 0; i < l.ringLen; i++ {
		t := &l.ring[(oldest+i)%len(l.ring)]
		if t.seq >= from && !t.time.Before(s.since) {
			total += len(t.text)
			n++
		}
	}
	slab := make([]byte, 0, total)
	s.mem = make([]Line, 0, n)
	for i := 0; i < l.ringLen; i++ {
		t := &l.ring[(oldest+i)%len(l.ring)]
		if t.seq >= from && !t.time.Before(s.since) {
			off := len(slab)
			slab = append(slab, t.text...)
			s.mem = append(s.mem, Line{Seq: t.seq, Time: t.time, Replica: t.replica, Stream: t.stream, Text: slab[off:len(slab):len(slab)]})
		}
	}
	return true
}

// push queues live lines, dropping the oldest queued ones past the bounds.
// Called with l.mu held; takes s.mu.
func (s *Subscription) push(lines []Line) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	for _, ln := range lines {
		for s.n > 0 && (s.n >= s.max || s.bytes+len(ln.Text) > maxQueueBytes) {
			s.bytes -= len(s.q[s.start].Text)
			s.q[s.start] = Line{}
			s.start = (s.start + 1) % len(s.q)
			s.n--
			s.missed++
		}
		if s.n == len(s.q) {
			s.grow()
		}
		s.q[(s.start+s.n)%len(s.q)] = ln
		s.n++
		s.bytes += len(ln.Text)
	}
	s.mu.Unlock()
	s.notify()
}

// grow enlarges the ring, up to max. s.mu must be held.
func (s *Subscription) grow() {
	size := min(max(2*len(s.q), 64), s.max)
	q := make([]Line, size)
	k := copy(q, s.q[s.start:])
	copy(q[k:], s.q[:s.start])
	s.q, s.start = q, 0
}

func (s *Subscription) notify() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// end marks the end of the live lines. Called with l.mu held.
func (s *Subscription) end() {
	s.mu.Lock()
	s.eof = true
	s.mu.Unlock()
	s.notify()
}

// Next returns the next batch of lines, in sequence order, and how many lines
// were skipped just before the first of them (see Subscription). It blocks
// until there are lines, ctx ends (ctx.Err()), the subscription is closed
// (ErrClosed), or there will be no more lines (io.EOF: after the history
// when not following, after the live lines once the Log is closed). A batch
// may be empty when it only reports missed lines. The caller owns the
// returned slice; the lines' Text must not be modified.
func (s *Subscription) Next(ctx context.Context) (lines []Line, missed uint64, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil, 0, ErrClosed
		}
		if len(s.mem) > 0 {
			n := min(len(s.mem), batchLines)
			lines, s.mem = s.mem[:n:n], s.mem[n:]
			m := s.carry
			s.carry = 0
			return lines, m, nil
		}
		if s.hist != nil {
			lines, m, done, err := s.readHistory()
			if err != nil {
				if s.isClosed() {
					return nil, 0, ErrClosed
				}
				return nil, 0, err
			}
			if done {
				s.hist = nil
			}
			m += s.carry
			s.carry = 0
			if len(lines) > 0 {
				return lines, m, nil
			}
			s.carry = m
			continue
		}
		if !s.follow {
			if s.carry > 0 {
				m := s.carry
				s.carry = 0
				return nil, m, nil
			}
			return nil, 0, io.EOF
		}
		s.mu.Lock()
		if s.n > 0 || s.missed > 0 {
			lines = make([]Line, s.n)
			k := copy(lines, s.q[s.start:min(s.start+s.n, len(s.q))])
			copy(lines[k:], s.q[:s.n-k])
			clear(s.q[s.start : s.start+k]) // release the texts
			clear(s.q[:s.n-k])
			s.start, s.n, s.bytes = 0, 0, 0
			m := s.missed + s.carry
			s.missed, s.carry = 0, 0
			s.mu.Unlock()
			if !s.since.IsZero() {
				lines = s.filterSince(lines)
			}
			if len(lines) == 0 && m == 0 {
				continue
			}
			return lines, m, nil
		}
		eof := s.eof
		s.mu.Unlock()
		if eof {
			return nil, 0, io.EOF
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-s.done:
		case <-s.ready:
		}
	}
}

func (s *Subscription) filterSince(lines []Line) []Line {
	out := lines[:0]
	for _, ln := range lines {
		if !ln.Time.Before(s.since) {
			out = append(out, ln)
		}
	}
	return out
}

func (s *Subscription) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close ends the subscription: a blocked Next returns ErrClosed, and so do
// later calls. Close is idempotent.
func (s *Subscription) Close() {
	s.l.mu.Lock()
	delete(s.l.subs, s)
	s.l.mu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	clear(s.q)
	s.q, s.n, s.bytes = nil, 0, 0
	f := s.file
	s.file = nil
	s.mu.Unlock()
	close(s.done)
	if f != nil {
		f.Close() // a Next reading it fails, sees closed, returns ErrClosed
	}
}

// setFile makes ref the history file being read, closing the previous one;
// it fails with ErrClosed once Close has run.
func (s *Subscription) setFile(ref fileRef) error {
	old := s.hist.ref
	s.mu.Lock()
	closed := s.closed
	if closed {
		s.hist.ref, s.file = fileRef{}, nil
	} else {
		s.hist.ref, s.file = ref, ref.f
	}
	s.mu.Unlock()
	if old.f != nil {
		old.f.Close() // after Close, a second Close: harmless
	}
	if closed {
		if ref.f != nil {
			ref.f.Close()
		}
		return ErrClosed
	}
	return nil
}

// readHistory reads the next batch of history from disk. missed counts lines
// missing just before the first one; done is set when the history is over.
func (s *Subscription) readHistory() (lines []Line, missed uint64, done bool, err error) {
	h := s.hist
	var slab []byte
	var offs []int
	// add appends a line to the batch, unless lines are missing before it and
	// the batch is not empty: missed must precede the batch's first line.
	add := func(ln Line, text []byte) bool {
		if h.gap > 0 && len(lines) > 0 {
			return false
		}
		missed += h.gap
		h.gap = 0
		if offs == nil {
			offs = make([]int, 1, 64)
			slab = make([]byte, 0, 64<<10)
		}
		slab = append(slab, text...)
		offs = append(offs, len(slab))
		lines = append(lines, ln)
		return true
	}
	if h.held != nil {
		add(*h.held, h.held.Text)
		h.held = nil
	}
	for len(lines) < batchLines && len(slab) < batchBytes {
		if h.next > h.upto {
			if err := s.setFile(fileRef{}); err != nil {
				return nil, 0, false, err
			}
			if h.gap > 0 && len(lines) > 0 {
				break // report the trailing gap on its own, next time
			}
			missed += h.gap
			h.gap = 0
			done = true
			break
		}
		if h.ref.f == nil {
			ref, ok, err := s.l.locate(h.next, h.ref.first)
			if err != nil {
				return nil, 0, false, err
			}
			if !ok {
				// Nothing left on disk up to upto.
				if h.started {
					h.gap += h.upto - h.next + 1
				}
				h.next = h.upto + 1
				continue
			}
			if ref.first > h.next {
				// Lines next…first-1 are gone; those past upto are live lines.
				skip := min(ref.first, h.upto+1)
				if h.started {
					h.gap += skip - h.next
				}
				h.next = skip
				if h.next > h.upto {
					ref.f.Close()
					continue
				}
			}
			if err := s.setFile(ref); err != nil {
				return nil, 0, false, err
			}
			if h.rr == nil {
				h.rr = newRecordReader(ref.f)
			} else {
				h.rr.br.Reset(ref.f)
			}
			h.started = true
		}
		rec, err := h.rr.next()
		if err == io.EOF {
			// The rest is in a newer file: drop this one, keeping its first
			// sequence number so that locate looks past it.
			first := h.ref.first
			if err := s.setFile(fileRef{}); err != nil {
				return nil, 0, false, err
			}
			h.ref.first = first
			continue
		}
		if err != nil {
			return nil, 0, false, err
		}
		seq, _, ok := parseSeq(rec)
		if !ok || seq < h.next {
			continue
		}
		if seq > h.upto {
			h.next = h.upto + 1
			continue
		}
		r, ok := parseRecord(rec)
		if !ok {
			continue
		}
		t, ok := h.rr.time(r.ts)
		if !ok {
			continue
		}
		h.gap += seq - h.next
		h.next = seq + 1
		if t.Before(s.since) {
			continue
		}
		ln := Line{Seq: seq, Time: t, Replica: r.replica, Stream: r.stream}
		if !add(ln, r.text) {
			ln.Text = append([]byte{}, r.text...)
			h.held = &ln
			break
		}
	}
	for i := range lines {
		lines[i].Text = slab[offs[i]:offs[i+1]:offs[i+1]]
	}
	return lines, missed, done, nil
}
