package watch

import "github.com/berth-dev/berth/internal/berthtest"

// fakeClock is the shared fake clock: time moves only when a test calls Advance.
type fakeClock = berthtest.FakeClock

func newFakeClock() *fakeClock { return berthtest.NewFakeClock() }
