package berthtest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs a package's tests and then fails the run if a goroutine is left
// over (after a grace period of up to 5 s). Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { berthtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := CheckGoroutines(5 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// CheckGoroutines waits up to timeout for every goroutine other than the
// caller and the runtime's and testing's own to end, and reports those that
// remain with their stacks.
func CheckGoroutines(timeout time.Duration) error {
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

// ignored are goroutines that belong to the runtime or the test framework.
var ignored = []string{
	"os/signal.signal_recv",
	"os/signal.loop",
	"runtime.ensureSigM",
	"testing.(*M).",
	"runtime.goexit0",
}

func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the calling goroutine
			continue
		}
		keep := true
		for _, s := range ignored {
			if strings.Contains(g, s) {
				keep = false
				break
			}
		}
		if keep {
			leaked = append(leaked, g)
		}
	}
	return leaked
}
