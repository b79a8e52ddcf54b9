package berthtest

import (
	"github.com/berth-dev/berth/internal/clock"
	"slices"
	"sync"
	"testing"
	"time"
)

// FakeClock is a clock.Clock whose time moves only when the test calls
// Advance.
type FakeClock struct {
	mu      sync.Mutex // guards now, timers, changed
	now     time.Time
	timers  []*fakeTimer  // pending: neither fired nor stopped
	changed chan struct{} // closed and replaced whenever timers changes
}

var _ clock.Clock = (*FakeClock)(nil)

// NewFakeClock returns a FakeClock at 2025-01-01 00:00 UTC.
func NewFakeClock() *FakeClock {
	return &FakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), changed: make(chan struct{})}
}

type fakeTimer struct {
	clock *FakeClock
	c     chan time.Time
	at    time.Time
	d     time.Duration
}

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *FakeClock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, c: make(chan time.Time, 1), at: c.now.Add(d), d: d}
	if d <= 0 {
		t.c <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	c.notifyLocked()
	return true
}

// notifyLocked wakes waitTimer; c.mu must be held.
func (c *FakeClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock forward by d and fires every timer that is due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			keep = append(keep, t)
			continue
		}
		t.c <- c.now
	}
	clear(c.timers[len(keep):])
	c.timers = keep
	c.notifyLocked()
}

// WaitTimer waits until a timer of duration d is pending, and fails the test
// if there is none within a few seconds.
func (c *FakeClock) WaitTimer(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		found := slices.ContainsFunc(c.timers, func(ft *fakeTimer) bool { return ft.d == d })
		var durations []time.Duration
		for _, ft := range c.timers {
			durations = append(durations, ft.d)
		}
		changed := c.changed
		c.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no %v timer pending; pending: %v", d, durations)
		}
	}
}
