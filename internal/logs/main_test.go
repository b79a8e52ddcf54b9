package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
)

// helperEnv makes the test binary a helper process that prints lines (see
// runHelper) instead of running the tests.
const helperEnv = "BERTH_LOGS_HELPER"

// TestMain runs the helper process when asked to, and ends the package's
// tests with a goroutine-leak check.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	berthtest.Main(m)
}

// runHelper prints "lines N": N numbered lines to stdout; "both N": N numbered
// lines, alternately to stdout and stderr.
func runHelper(mode string) int {
	verb, arg, _ := strings.Cut(mode, " ")
	n, err := strconv.Atoi(arg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad helper mode", mode)
		return 2
	}
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	errw := bufio.NewWriterSize(os.Stderr, 64<<10)
	defer out.Flush()
	defer errw.Flush()
	for i := 1; i <= n; i++ {
		w := out
		if verb == "both" && i%2 == 0 {
			w = errw
		}
		fmt.Fprintf(w, "%s\n", helperLine(i))
	}
	return 0
}

// helperLine is the text of line i of the helper and of the test readers.
func helperLine(i int) string {
	return fmt.Sprintf("line %07d %s", i, strings.Repeat("x", i%50))
}

// openLog opens a log of service "svc" in a temporary directory and closes it
// at the end of the test.
func openLog(t testing.TB, opts Options) *Log {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	l, err := Open("svc", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return l
}

// readAll reads a subscription to its end (not following) or until it has
// delivered line until (following), and returns the lines and the missed count.
func readAll(t testing.TB, s *Subscription, until uint64) ([]Line, uint64) {
	t.Helper()
	lines, missed, err := collect(s, until)
	if err != nil {
		t.Fatal(err)
	}
	return lines, missed
}

// collect is readAll for goroutines other than the test's.
func collect(s *Subscription, until uint64) ([]Line, uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	all := make([]Line, 0, min(until, 1<<20))
	var missed uint64
	for {
		lines, m, err := s.Next(ctx)
		all = append(all, lines...)
		missed += m
		if errors.Is(err, io.EOF) {
			return all, missed, nil
		}
		if err != nil {
			return all, missed, fmt.Errorf("next: %w (after %d lines, missed %d)", err, len(all), missed)
		}
		if until > 0 && len(all) > 0 && all[len(all)-1].Seq >= until {
			return all, missed, nil
		}
	}
}

// readHistory returns every line of l that is on disk or in memory (Tail -1).
func readHistory(t testing.TB, l *Log) []Line {
	t.Helper()
	s, err := l.Subscribe(SubscribeOptions{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lines, missed := readAll(t, s, 0)
	if missed != 0 {
		t.Fatalf("history: missed %d", missed)
	}
	return lines
}

// checkSeq fails unless lines have the sequence numbers first, first+1, …
func checkSeq(t testing.TB, lines []Line, first uint64) {
	t.Helper()
	for i, ln := range lines {
		if want := first + uint64(i); ln.Seq != want {
			t.Fatalf("line %d: seq %d, want %d (gap or duplicate)", i, ln.Seq, want)
		}
	}
}
