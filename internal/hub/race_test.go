//go:build race

package hub

// raceEnabled is whether the tests run with -race, which adds allocations.
const raceEnabled = true
