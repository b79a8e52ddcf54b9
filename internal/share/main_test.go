package share

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/internal/berthtest"
)

// holdLockEnv makes the test binary a helper process that takes a share
// lock ("STATEDIR SERVICE"), prints "locked", and releases it on SIGTERM:
// a real `berth share` for TestStop.
const holdLockEnv = "BERTH_SHARE_TEST_HOLD_LOCK"

// TestMain ends the package's tests with a goroutine-leak check.
func TestMain(m *testing.M) {
	if v := os.Getenv(holdLockEnv); v != "" {
		os.Exit(holdLock(v))
	}
	berthtest.Main(m)
}

func holdLock(arg string) int {
	dir, service, _ := strings.Cut(arg, " ")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pf, err := Lock(dir, service)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	<-ctx.Done()
	if err := pf.Release(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
