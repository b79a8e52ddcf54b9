package hub

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/berth-dev/berth/internal/berthtest"
	"testing"
	"time"
)

// TestMain ends the package's tests with a goroutine-leak check.
func TestMain(m *testing.M) { berthtest.Main(m) }

// newHub returns a Memory hub closed at the end of the test.
func newHub(t testing.TB, opts Options) *Memory {
	t.Helper()
	m := NewMemory(opts)
	t.Cleanup(func() { m.Close() })
	return m
}

// newSub returns a subscriber closed at the end of the test.
func newSub(t testing.TB, size int) *Subscriber {
	t.Helper()
	s := NewSubscriber(size)
	t.Cleanup(s.Close)
	return s
}

// subscribe subscribes s to streams, failing the test on error.
func subscribe(t testing.TB, m Hub, s *Subscriber, streams []string, since map[string]uint64) {
	t.Helper()
	if err := m.Subscribe(s, streams, since); err != nil {
		t.Fatalf("subscribe %v: %v", streams, err)
	}
}

// publish publishes payload {"n":n} to stream and checks its seq.
func publish(t testing.TB, m Hub, stream string, n int) uint64 {
	t.Helper()
	seq, err := m.Publish(stream, payload{N: n})
	if err != nil {
		t.Fatalf("publish to %s: %v", stream, err)
	}
	return seq
}

type payload struct {
	N int `json:"n"`
}

// next returns the next frame of s, failing the test if none comes soon.
func next(t testing.TB, s *Subscriber) Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	return f
}

// expectNone fails the test if s has a frame ready.
func expectNone(t testing.TB, s *Subscriber) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if f, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("next: got %s, %v; want nothing", f.Data, err)
	}
}

// nextData returns the next frame of s, which must be a data frame of stream
// with sequence seq.
func nextData(t testing.TB, s *Subscriber, stream string, seq uint64) Frame {
	t.Helper()
	f := next(t, s)
	if f.Stream != stream || f.Seq != seq {
		t.Fatalf("got frame %s (stream %q seq %d); want %s seq %d", f.Data, f.Stream, f.Seq, stream, seq)
	}
	return f
}

// nextNotice returns the next frame of s, which must be a notice.
func nextNotice(t testing.TB, s *Subscriber) Notice {
	t.Helper()
	f := next(t, s)
	n, ok := ParseNotice(f)
	if !ok {
		t.Fatalf("got frame %s; want a notice", f.Data)
	}
	return n
}

// decode decodes a data frame's envelope.
func decode(t testing.TB, f Frame) (stream string, seq uint64, p payload) {
	t.Helper()
	var env struct {
		Stream  string  `json:"stream"`
		Seq     uint64  `json:"seq"`
		Payload payload `json:"payload"`
	}
	if err := json.Unmarshal(f.Data, &env); err != nil {
		t.Fatalf("frame %s: %v", f.Data, err)
	}
	return env.Stream, env.Seq, env.Payload
}
