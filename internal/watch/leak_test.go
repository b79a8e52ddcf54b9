package watch

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain ends the package's tests with a goroutine-leak check.
// TODO(berthtest): move checkGoroutines to internal/berthtest once it exists.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(2 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkGoroutines waits up to timeout for every goroutine other than the
// caller and the runtime's own to end, and reports those that remain.
func checkGoroutines(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		leaked := leakedGoroutines()
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leaked %d goroutine(s):\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the calling goroutine
			continue
		}
		if strings.Contains(g, "os/signal.signal_recv") ||
			strings.Contains(g, "os/signal.loop") ||
			strings.Contains(g, "runtime.ensureSigM") ||
			strings.Contains(g, "testing.(*M).") ||
			strings.Contains(g, "runtime.goexit0") {
			continue
		}
		leaked = append(leaked, g)
	}
	return leaked
}
