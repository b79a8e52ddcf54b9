package health

import (
	"testing"

	"github.com/berth-dev/berth/internal/berthtest"
)

// TestMain ends the package's tests with a goroutine-leak check.
func TestMain(m *testing.M) { berthtest.Main(m) }
