//go:build race

package proxy

// raceEnabled reports whether the tests run with the race detector.
const raceEnabled = true
