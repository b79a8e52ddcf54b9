package engine

import (
	"context"
	"sync"
)

// broadcaster fans values out to subscribers without ever blocking the
// publisher: each subscriber has a bounded queue, and a subscriber whose
// queue is full loses values and is told how many on its next receive.
type broadcaster[T any] struct {
	size int

	mu     sync.Mutex // guards subs and closed
	subs   map[*subscription[T]]struct{}
	closed bool
}

type subscription[T any] struct {
	b      *broadcaster[T]
	ch     chan T
	mu     sync.Mutex // guards missed
	missed int
	done   chan struct{} // closed when the broadcaster closes
}

func newBroadcaster[T any](size int) *broadcaster[T] {
	return &broadcaster[T]{size: size, subs: map[*subscription[T]]struct{}{}}
}

// subscribe returns a subscription to values published from now on.
func (b *broadcaster[T]) subscribe() *subscription[T] {
	s := &subscription[T]{b: b, ch: make(chan T, b.size), done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(s.done)
		return s
	}
	b.subs[s] = struct{}{}
	return s
}

func (b *broadcaster[T]) publish(v T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.ch <- v:
		default:
			s.mu.Lock()
			s.missed++
			s.mu.Unlock()
		}
	}
}

// close ends every subscription: their next receives report closed after
// draining what is queued.
func (b *broadcaster[T]) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		close(s.done)
	}
	b.subs = nil
}

// next returns the next value, how many were missed before it, and false
// when the broadcaster closed or ctx ended.
func (s *subscription[T]) next(ctx context.Context) (v T, missed int, ok bool) {
	s.mu.Lock()
	missed, s.missed = s.missed, 0
	s.mu.Unlock()
	select {
	case v = <-s.ch:
		return v, missed, true
	default:
	}
	select {
	case v = <-s.ch:
		return v, missed, true
	case <-s.done:
		select {
		case v = <-s.ch:
			return v, missed, true
		default:
			return v, missed, false
		}
	case <-ctx.Done():
		return v, missed, false
	}
}

// cancel removes the subscription.
func (s *subscription[T]) cancel() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	delete(s.b.subs, s)
}
