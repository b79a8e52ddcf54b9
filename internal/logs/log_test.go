package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
)

// lineReader is an in-memory reader of n helper lines, from first.
func lineReader(first, n int) io.Reader {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		b.WriteString(helperLine(i))
		b.WriteByte('\n')
	}
	return &b
}

// TestCapture_Process captures a real process's stdout and stderr, 100,000
// lines, and accounts for every one: on disk, in order per stream, with
// sequence numbers 1…N and no gap.
func TestCapture_Process(t *testing.T) {
	const n = 100000
	l := openLog(t, Options{})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=both "+fmt.Sprint(n))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []struct {
		r io.Reader
		s Stream
	}{{stdout, Stdout}, {stderr, Stderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.Capture(1, p.s, p.r)
		}()
	}
	wg.Wait() // pipes drained before Wait closes them
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := l.LastSeq(); got != n {
		t.Fatalf("LastSeq = %d, want %d", got, n)
	}
	lines := readHistory(t, l)
	if len(lines) != n {
		t.Fatalf("read %d lines, want %d", len(lines), n)
	}
	checkSeq(t, lines, 1)
	next := map[Stream]int{Stdout: 1, Stderr: 2} // odd lines on stdout, even on stderr
	for _, ln := range lines {
		i := next[ln.Stream]
		if want := helperLine(i); string(ln.Text) != want {
			t.Fatalf("seq %d (%v): %q, want %q", ln.Seq, ln.Stream, ln.Text, want)
		}
		next[ln.Stream] = i + 2
	}
	if next[Stdout] != n+1 || next[Stderr] != n+2 {
		t.Fatalf("per-stream counts wrong: %v", next)
	}
}

// TestRotation checks that rotation keeps at most MaxFiles rotated files of
// at most MaxFileSize, and that history reads across them without a gap.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	const maxSize = 4096
	l := openLog(t, Options{Dir: dir, MaxFileSize: maxSize, MaxFiles: 3, TailLines: -1})
	const n = 5000
	if err := l.Capture(1, Stdout, lineReader(1, n)); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > maxSize || fi.Size() == 0 {
			t.Errorf("%s: %d bytes, want 1…%d", e.Name(), fi.Size(), maxSize)
		}
	}
	if want := "[svc.log svc.log.1 svc.log.2 svc.log.3]"; fmt.Sprint(names) != want {
		t.Fatalf("files %v, want %s", names, want)
	}
	oldest, _, err := firstRecord(filepath.Join(dir, "svc.log.3"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("tail across files", func(t *testing.T) {
		s, err := l.Subscribe(SubscribeOptions{Tail: 150}) // ~50 lines a file
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		lines, missed := readAll(t, s, 0)
		if len(lines) != 150 || missed != 0 {
			t.Fatalf("got %d lines, missed %d; want 150, 0", len(lines), missed)
		}
		checkSeq(t, lines, n-149)
		for _, ln := range lines {
			if want := helperLine(int(ln.Seq)); string(ln.Text) != want {
				t.Fatalf("seq %d: %q, want %q", ln.Seq, ln.Text, want)
			}
		}
	})
	t.Run("all kept", func(t *testing.T) {
		lines := readHistory(t, l)
		if len(lines) == 0 || lines[0].Seq != oldest {
			t.Fatalf("history starts at %v, want the first line of svc.log.3, %d", lines[:min(1, len(lines))], oldest)
		}
		checkSeq(t, lines, oldest)
		if last := lines[len(lines)-1].Seq; last != n {
			t.Fatalf("history ends at %d, want %d", last, n)
		}
	})
	t.Run("tail larger than what is kept", func(t *testing.T) {
		s, err := l.Subscribe(SubscribeOptions{Tail: n})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		lines, missed := readAll(t, s, 0)
		if missed != 0 || len(lines) == 0 || lines[0].Seq != oldest {
			t.Fatalf("missed %d, %d lines; want 0 missed, from %d", missed, len(lines), oldest)
		}
		checkSeq(t, lines, oldest)
	})
}

// TestSubscribe_RotationDuringHistory rotates files while a subscriber reads
// history: the file it reads survives its rename and deletion, the next ones
// are found by sequence number, and lines deleted before it reached them are
// reported as missed, never silently skipped.
func TestSubscribe_RotationDuringHistory(t *testing.T) {
	const maxSize = 256 << 10 // ~3,500 lines a file; a history batch is 4,096 lines
	tests := []struct {
		name       string
		more       int  // lines captured after the first batch
		wantMissed bool // whether lines must be reported missed
	}{
		{"the open file rotated away: nothing lost", 6000, false},
		{"every file rotated away: the gap is reported", 20000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, Options{MaxFileSize: maxSize, MaxFiles: 2, TailLines: -1})
			if err := l.Capture(1, Stdout, lineReader(1, 12000)); err != nil {
				t.Fatal(err)
			}
			s, err := l.Subscribe(SubscribeOptions{Tail: -1, Follow: true, Buffer: 100000})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			upto := l.LastSeq()
			first, missed, err := s.Next(context.Background()) // the oldest file is open now
			if err != nil || missed != 0 || len(first) == 0 {
				t.Fatalf("first batch: %d lines, missed %d, %v", len(first), missed, err)
			}
			last := upto + uint64(tt.more)
			if err := l.Capture(1, Stdout, lineReader(int(upto)+1, tt.more)); err != nil {
				t.Fatal(err)
			}
			rest, missed := readAll(t, s, last)
			all := append(first, rest...)
			if got := uint64(len(all)) + missed; got != last-all[0].Seq+1 {
				t.Fatalf("%d lines + %d missed = %d, want %d…%d", len(all), missed, got, all[0].Seq, last)
			}
			if all[len(all)-1].Seq != last {
				t.Fatalf("last line %d, want %d", all[len(all)-1].Seq, last)
			}
			for i, ln := range all {
				if i > 0 && ln.Seq <= all[i-1].Seq {
					t.Fatalf("seq %d after %d", ln.Seq, all[i-1].Seq)
				}
				if string(ln.Text) != helperLine(int(ln.Seq)) {
					t.Fatalf("seq %d: %q", ln.Seq, ln.Text)
				}
			}
			if (missed > 0) != tt.wantMissed {
				t.Fatalf("missed %d, want missed > 0: %v", missed, tt.wantMissed)
			}
		})
	}
}

// TestSubscribe_FollowNoGap subscribes, at different moments and with
// different tails, while a capture runs, and checks that each subscriber
// sees history then live lines with no gap and no duplicate at the switch.
func TestSubscribe_FollowNoGap(t *testing.T) {
	for _, tailLines := range []int{-1, 1000} { // history from disk; from memory when it can
		t.Run(fmt.Sprintf("tail lines %d", tailLines), func(t *testing.T) {
			const n = 50000
			want := make([]string, n+1)
			for i := range want {
				want[i] = helperLine(i)
			}
			l := openLog(t, Options{TailLines: tailLines})
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			captured := make(chan error, 1)
			go func() { captured <- l.Capture(1, Stdout, pr) }()
			type result struct {
				tail   int
				lines  []Line
				missed uint64
				from   uint64 // LastSeq when it subscribed
			}
			results := make(chan result, 64)
			var wg sync.WaitGroup
			subscribe := func(tail int) {
				s, err := l.Subscribe(SubscribeOptions{Tail: tail, Follow: true, Buffer: 2 * n})
				if err != nil {
					t.Error(err)
					return
				}
				from := l.LastSeq() // at least the bound the subscription took
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer s.Close()
					lines, missed, err := collect(s, n)
					if err != nil {
						t.Errorf("tail %d: %v", tail, err)
					}
					results <- result{tail, lines, missed, from}
				}()
			}
			subscribe(-1)
			var chunk bytes.Buffer
			for i := 1; i <= n; i++ {
				chunk.WriteString(want[i])
				chunk.WriteByte('\n')
				if i%50 == 0 || i == n { // many small writes, as a chatty process does
					if _, err := pw.Write(chunk.Bytes()); err != nil {
						t.Fatal(err)
					}
					chunk.Reset()
				}
				if i%5000 == 0 && i < n { // lines must come after the last subscription
					for _, tail := range []int{-1, 0, 10} {
						subscribe(tail)
					}
				}
			}
			pw.Close()
			if err := <-captured; err != nil {
				t.Fatal(err)
			}
			pr.Close()
			wg.Wait()
			close(results)
			count := 0
			for r := range results {
				count++
				if r.missed != 0 {
					t.Errorf("tail %d: missed %d", r.tail, r.missed)
				}
				if len(r.lines) == 0 {
					t.Errorf("tail %d: no lines", r.tail)
					continue
				}
				first := r.lines[0].Seq
				switch {
				case r.tail == -1 && first != 1:
					t.Errorf("tail -1: first line %d, want 1", first)
				case r.tail >= 0 && first > r.from+1:
					t.Errorf("tail %d: first line %d, after the %d lines there were when it subscribed", r.tail, first, r.from)
				}
				checkSeq(t, r.lines, first)
				if last := r.lines[len(r.lines)-1].Seq; last != n {
					t.Errorf("tail %d: last line %d, want %d", r.tail, last, n)
				}
				for _, ln := range r.lines {
					if string(ln.Text) != want[ln.Seq] {
						t.Fatalf("tail %d: seq %d: %q", r.tail, ln.Seq, ln.Text)
					}
				}
			}
			if count != 28 {
				t.Errorf("%d subscribers finished, want 28", count)
			}
		})
	}
}

// TestSubscribe_Stalled checks that a subscriber that never reads does not
// slow the capture, does not starve a fast one, and is told what it missed.
func TestSubscribe_Stalled(t *testing.T) {
	const n = 100000
	l := openLog(t, Options{})
	stalled, err := l.Subscribe(SubscribeOptions{Follow: true, Buffer: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fast, err := l.Subscribe(SubscribeOptions{Follow: true, Buffer: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	got := make(chan []Line, 1)
	missed := make(chan uint64, 1)
	go func() {
		lines, m, err := collect(fast, n)
		if err != nil {
			t.Error(err)
		}
		got <- lines
		missed <- m
	}()
	start := time.Now()
	if err := l.Capture(1, Stdout, lineReader(1, n)); err != nil {
		t.Fatal(err)
	}
	t.Logf("captured %d lines in %s with a stalled subscriber", n, time.Since(start))

	lines := <-got
	if m := <-missed; m != 0 || len(lines) != n {
		t.Fatalf("fast subscriber: %d lines, missed %d; want %d, 0", len(lines), m, n)
	}
	checkSeq(t, lines, 1)

	// The stalled one kept the newest 1000 and reports the rest as missed,
	// just before them.
	slow, m, err := stalled.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m != n-1000 || len(slow) != 1000 {
		t.Fatalf("stalled subscriber: %d lines, missed %d; want 1000, %d", len(slow), m, n-1000)
	}
	checkSeq(t, slow, n-999)
}

// TestOpen_Reopen checks that sequence numbers continue across Close and
// Open, and that a record torn by a crash is cut off.
func TestOpen_Reopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, TailLines: -1}
	l, err := Open("svc", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Capture(1, Stdout, lineReader(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Capture(1, Stdout, lineReader(1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Capture after Close: %v, want ErrClosed", err)
	}
	if _, err := l.Subscribe(SubscribeOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}

	// A crash in the middle of writing record 11.
	path := filepath.Join(dir, "svc.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("11 2026-01-02T03:04:05.0000"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	l, err = Open("svc", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.LastSeq(); got != 10 {
		t.Fatalf("LastSeq after reopen = %d, want 10", got)
	}
	if err := l.Capture(1, Stdout, lineReader(11, 5)); err != nil {
		t.Fatal(err)
	}
	lines := readHistory(t, l)
	checkSeq(t, lines, 1)
	if len(lines) != 15 {
		t.Fatalf("%d lines, want 15", len(lines))
	}
	for _, ln := range lines {
		if string(ln.Text) != helperLine(int(ln.Seq)) {
			t.Fatalf("seq %d: %q", ln.Seq, ln.Text)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// After a rotation left the current file empty, the last line is found
	// in the newest rotated file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, opts)
	if got := l.LastSeq(); got != 15 {
		t.Fatalf("LastSeq from svc.log.1 = %d, want 15", got)
	}
	l.Append(1, Stdout, []byte("sixteen"))
	lines = readHistory(t, l)
	checkSeq(t, lines, 1)
	if len(lines) != 16 || string(lines[15].Text) != "sixteen" {
		t.Fatalf("%d lines, last %q; want 16, sixteen", len(lines), lines[len(lines)-1].Text)
	}
}

// TestCapture_FlushesPromptly checks that a line reaches the disk without
// waiting for EOF or more output: after a short read, and after a read that
// filled the buffer and then blocks.
func TestCapture_FlushesPromptly(t *testing.T) {
	t.Run("short read", func(t *testing.T) {
		dir := t.TempDir()
		l := openLog(t, Options{Dir: dir})
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- l.Capture(1, Stdout, pr) }()
		if _, err := pw.WriteString("hello\n"); err != nil {
			t.Fatal(err)
		}
		berthtest.Eventually(t, 2*time.Second, "the line on disk", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "svc.log"))
			return bytes.HasSuffix(b, []byte(" 1 o hello\n"))
		})
		pw.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		pr.Close()
	})
	t.Run("full read then silence", func(t *testing.T) {
		dir := t.TempDir()
		l := openLog(t, Options{Dir: dir})
		r := &fullReader{release: make(chan struct{})}
		done := make(chan error, 1)
		go func() { done <- l.Capture(1, Stdout, r) }()
		berthtest.Eventually(t, 2*time.Second, "the lines on disk", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "svc.log"))
			return bytes.Count(b, []byte("\n")) == int(l.LastSeq()) && l.LastSeq() > 0
		})
		close(r.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// fullReader fills the first buffer it is given with lines, then blocks until
// released, then returns EOF.
type fullReader struct {
	release chan struct{}
	done    bool
}

func (r *fullReader) Read(p []byte) (int, error) {
	if r.done {
		<-r.release
		return 0, io.EOF
	}
	r.done = true
	for i := range p {
		p[i] = 'x'
		if i%100 == 99 {
			p[i] = '\n'
		}
	}
	p[len(p)-1] = '\n'
	return len(p), nil
}

// TestSubscribe_Since checks that Since leaves out older lines, from memory
// and from disk.
func TestSubscribe_Since(t *testing.T) {
	for _, tailLines := range []int{-1, 1000} {
		t.Run(fmt.Sprintf("tail lines %d", tailLines), func(t *testing.T) {
			l := openLog(t, Options{TailLines: tailLines})
			l.Append(1, Stdout, []byte("old 1"))
			l.Append(1, Stdout, []byte("old 2"))
			time.Sleep(2 * time.Millisecond) // the clock must move on between the two groups
			since := time.Now()
			l.Append(1, Stdout, []byte("new 3"))
			s, err := l.Subscribe(SubscribeOptions{Tail: -1, Since: since})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			lines, _ := readAll(t, s, 0)
			if len(lines) != 1 || string(lines[0].Text) != "new 3" || lines[0].Seq != 3 {
				t.Fatalf("got %v, want only line 3", lines)
			}
			if lines[0].Time.Before(since) {
				t.Fatalf("line time %v before since %v", lines[0].Time, since)
			}
		})
	}
}

// TestSubscribe_After checks that a subscriber resuming after a sequence
// number gets exactly the lines after it, from memory or from several files.
func TestSubscribe_After(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"from memory past 4000, else from disk", Options{TailLines: 1000}},
		{"from several files", Options{MaxFileSize: 64 << 10, MaxFiles: 20, TailLines: -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, tt.opts)
			if err := l.Capture(1, Stdout, lineReader(1, 5000)); err != nil {
				t.Fatal(err)
			}
			for _, after := range []uint64{0, 1, 4321, 4999, 5000, 6000} {
				s, err := l.Subscribe(SubscribeOptions{Tail: -1, After: after})
				if err != nil {
					t.Fatal(err)
				}
				lines, missed := readAll(t, s, 0)
				s.Close()
				want := 5000 - min(after, 5000)
				if uint64(len(lines)) != want || missed != 0 {
					t.Fatalf("after %d: %d lines (missed %d), want %d", after, len(lines), missed, want)
				}
				if want > 0 && lines[0].Seq != after+1 {
					t.Fatalf("after %d: first line %d", after, lines[0].Seq)
				}
			}
		})
	}
}

// TestSubscribe_Ends checks how Next ends: io.EOF once the history is read,
// io.EOF after the queued lines once the Log is closed, ErrClosed after Close,
// ctx.Err() when ctx ends.
func TestSubscribe_Ends(t *testing.T) {
	l, err := Open("svc", Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	l.Append(1, Stdout, []byte("a"))
	hist, err := l.Subscribe(SubscribeOptions{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	if lines, missed := readAll(t, hist, 0); len(lines) != 1 || missed != 0 {
		t.Fatalf("history: %v, missed %d", lines, missed)
	}
	hist.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	follow, err := l.Subscribe(SubscribeOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := follow.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with an ended ctx: %v", err)
	}

	closed, err := l.Subscribe(SubscribeOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	nextErr := make(chan error, 1)
	go func() {
		_, _, err := closed.Next(context.Background())
		nextErr <- err
	}()
	closed.Close()
	if err := <-nextErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next during Close: %v, want ErrClosed", err)
	}
	closed.Close()

	l.Append(1, Stdout, []byte("b"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines, missed := readAll(t, follow, 0) // fails unless it ends with io.EOF
	if len(lines) != 1 || string(lines[0].Text) != "b" || missed != 0 {
		t.Fatalf("after Log.Close: %v, missed %d; want line b then EOF", lines, missed)
	}
	follow.Close()
}

// TestRecord_RoundTrip checks that any bytes but '\n' survive the disk
// exactly, with their metadata.
func TestRecord_RoundTrip(t *testing.T) {
	dir := t.TempDir()
	l, err := Open("svc", Options{Dir: dir, TailLines: -1})
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for b := 0; b < 256; b++ {
		if b != '\n' {
			all = append(all, byte(b))
		}
	}
	texts := [][]byte{all, []byte("\r"), []byte(" lead and trail "), {}, []byte("\xff\xfe\xfd"), []byte(strings.Repeat("é", 10))}
	for i, text := range texts {
		stream := Stdout
		if i%2 == 1 {
			stream = Stderr
		}
		l.Append(i+1, stream, text)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, Options{Dir: dir})
	lines := readHistory(t, l)
	if len(lines) != len(texts) {
		t.Fatalf("%d lines, want %d", len(lines), len(texts))
	}
	for i, ln := range lines {
		stream := Stdout
		if i%2 == 1 {
			stream = Stderr
		}
		if !bytes.Equal(ln.Text, texts[i]) || ln.Replica != i+1 || ln.Stream != stream || ln.Time.IsZero() {
			t.Errorf("line %d: %d %v %q, want %d %v %q", i, ln.Replica, ln.Stream, ln.Text, i+1, stream, texts[i])
		}
	}
}

func TestOpen_InvalidService(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "a\\b", "a\x00"} {
		if _, err := Open(name, Options{Dir: t.TempDir()}); err == nil {
			t.Errorf("Open(%q) succeeded", name)
		}
	}
}
