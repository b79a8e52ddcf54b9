package health

import "github.com/berth-dev/berth/internal/clock"

// Clock is the source of time and timers for Run; tests inject a fake.
type Clock = clock.Clock

// Timer is a one-shot timer, as time.Timer.
type Timer = clock.Timer

// RealClock is the Clock of the wall clock and time.Timer.
type RealClock = clock.Real
