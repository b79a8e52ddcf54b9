package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
)

func TestMemory_FrameFormat(t *testing.T) {
	m := newHub(t, Options{})
	a, b := newSub(t, 0), newSub(t, 0)
	subscribe(t, m, a, []string{"service/web/logs"}, nil)
	subscribe(t, m, b, []string{"service/web/logs"}, nil)

	seq, err := m.Publish("service/web/logs", map[string]any{"line": "hello <world>", "n": 1})
	if err != nil || seq != 1 {
		t.Fatalf("publish: %d, %v; want 1, nil", seq, err)
	}
	fa, fb := next(t, a), next(t, b)
	want := `{"stream":"service/web/logs","seq":1,"payload":{"line":"hello \u003cworld\u003e","n":1}}`
	if got := string(fa.Data); got != want {
		t.Errorf("data:\n got %s\nwant %s", got, want)
	}
	if fa.Stream != "service/web/logs" || fa.Seq != 1 {
		t.Errorf("frame: stream %q seq %d", fa.Stream, fa.Seq)
	}
	// Encoded once: both subscribers and the tail share one buffer.
	if &fa.Data[0] != &fb.Data[0] {
		t.Error("subscribers got separately encoded frames")
	}
	c := newSub(t, 0)
	subscribe(t, m, c, []string{"service/web/logs"}, map[string]uint64{"service/web/logs": 0})
	if fc := nextData(t, c, "service/web/logs", 1); &fc.Data[0] != &fa.Data[0] {
		t.Error("the replay re-encoded the frame")
	}
	// A json.RawMessage goes into the frame as it is.
	if _, err := m.Publish("service/web/logs", json.RawMessage(`{"pre": "encoded"}`)); err != nil {
		t.Fatal(err)
	}
	if got, want := string(next(t, a).Data), `{"stream":"service/web/logs","seq":2,"payload":{"pre": "encoded"}}`; got != want {
		t.Errorf("raw payload:\n got %s\nwant %s", got, want)
	}
	next(t, b)
	if got := m.Last("service/web/logs"); got != 2 {
		t.Errorf("Last = %d, want 2", got)
	}
	if got := m.Last("events"); got != 0 {
		t.Errorf("Last of a stream never published = %d, want 0", got)
	}
}

func TestMemory_Publish(t *testing.T) {
	m := newHub(t, Options{})
	t.Run("rejects a bad stream name", func(t *testing.T) {
		for _, name := range []string{"", "control", "service/web", "job/", "logs/web", "service/a b/logs"} {
			if _, err := m.Publish(name, 1); !errors.Is(err, ErrBadStream) {
				t.Errorf("publish to %q: %v, want ErrBadStream", name, err)
			}
		}
	})
	t.Run("a payload that does not encode uses no seq", func(t *testing.T) {
		if _, err := m.Publish("events", func() {}); err == nil {
			t.Fatal("publish of a func: no error")
		}
		if seq := publish(t, m, "events", 1); seq != 1 {
			t.Fatalf("seq after a failed publish = %d, want 1", seq)
		}
	})
}

func TestMemory_Group(t *testing.T) {
	const n = 2000
	m := newHub(t, Options{})
	subs := []*Subscriber{newSub(t, 0), newSub(t, 0), newSub(t, 0)}
	for _, s := range subs {
		subscribe(t, m, s, []string{"job/42"}, nil)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(subs))
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- readSeqs(s, "job/42", 1, n)
		}()
	}
	for i := 1; i <= n; i++ {
		publish(t, m, "job/42", i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// readSeqs reads data frames of stream from s and checks that they are
// from, from+1, …, to and carry payload {"n": seq}.
func readSeqs(s *Subscriber, stream string, from, to uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for want := from; want <= to; want++ {
		f, err := s.Next(ctx)
		if err != nil {
			return fmt.Errorf("next (want seq %d): %w", want, err)
		}
		if f.Stream != stream || f.Seq != want {
			return fmt.Errorf("got %s; want %s seq %d", f.Data, stream, want)
		}
		if w := fmt.Sprintf(`{"stream":%q,"seq":%d,"payload":{"n":%d}}`, stream, want, want); string(f.Data) != w {
			return fmt.Errorf("got %s; want %s", f.Data, w)
		}
	}
	return nil
}

func TestMemory_InterleavedStreams(t *testing.T) {
	const n = 3000
	streams := []string{"events", "service/web/logs", "job/7"}
	m := newHub(t, Options{})
	s := newSub(t, len(streams)*n)
	subscribe(t, m, s, streams, nil)

	var wg sync.WaitGroup
	for _, name := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				if _, err := m.Publish(name, payload{N: i}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	last := map[string]uint64{}
	switches := 0
	prev := ""
	for range len(streams) * n {
		f := next(t, s)
		stream, seq, p := decode(t, f)
		if stream != f.Stream || seq != f.Seq || p.N != int(seq) {
			t.Fatalf("frame %s does not match Stream %q Seq %d", f.Data, f.Stream, f.Seq)
		}
		if seq != last[stream]+1 {
			t.Fatalf("stream %s: seq %d after %d", stream, seq, last[stream])
		}
		last[stream] = seq
		if stream != prev {
			switches++
			prev = stream
		}
	}
	for _, name := range streams {
		if last[name] != n {
			t.Errorf("stream %s: last seq %d, want %d", name, last[name], n)
		}
	}
	expectNone(t, s)
	t.Logf("%d switches between streams", switches)
}

func TestMemory_Resume(t *testing.T) {
	t.Run("delivers exactly the frames after since, then live ones", func(t *testing.T) {
		m := newHub(t, Options{TailSize: 100})
		for i := 1; i <= 60; i++ {
			publish(t, m, "job/1", i)
		}
		s := newSub(t, 0)
		subscribe(t, m, s, []string{"job/1", "events"}, map[string]uint64{"job/1": 40})
		publish(t, m, "job/1", 61)
		if err := readSeqs(s, "job/1", 41, 61); err != nil {
			t.Fatal(err)
		}
		expectNone(t, s)
	})
	t.Run("since equal to last replays nothing", func(t *testing.T) {
		m := newHub(t, Options{TailSize: 100})
		for i := 1; i <= 10; i++ {
			publish(t, m, "job/1", i)
		}
		s := newSub(t, 0)
		subscribe(t, m, s, []string{"job/1"}, map[string]uint64{"job/1": 10})
		expectNone(t, s)
		publish(t, m, "job/1", 11)
		nextData(t, s, "job/1", 11)
	})
	t.Run("since 0 replays the whole tail when it reaches seq 1", func(t *testing.T) {
		m := newHub(t, Options{TailSize: 10})
		for i := 1; i <= 10; i++ {
			publish(t, m, "job/1", i)
		}
		s := newSub(t, 0)
		subscribe(t, m, s, []string{"job/1"}, map[string]uint64{"job/1": 0})
		if err := readSeqs(s, "job/1", 1, 10); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("while publishing concurrently", func(t *testing.T) {
		// Publishers write 4 streams while 64 subscribers join at random
		// points, each resuming from a random seq it has "seen" (or not
		// resuming). Every subscriber must get each stream's frames after
		// its starting point exactly once and in order, up to a final frame
		// published once all have joined: the tail replay and the live
		// frames meet without a gap or a duplicate.
		const (
			perStream = 4000
			nsubs     = 64
		)
		streams := []string{"events", "notifications", "service/db/status", "job/9"}
		m := newHub(t, Options{TailSize: perStream + 1}) // the tail always holds since+1
		var pubs, joined, subs sync.WaitGroup
		var overlapped atomic.Int64
		for _, name := range streams {
			pubs.Add(1)
			go func() {
				defer pubs.Done()
				for i := 1; i <= perStream; i++ {
					if _, err := m.Publish(name, payload{N: i}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		for i := range nsubs {
			joined.Add(1)
			subs.Add(1)
			go func() {
				defer subs.Done()
				live, err := resumeAndCheck(m, streams, perStream+1, uint64(i), joined.Done)
				if err != nil {
					t.Errorf("subscriber %d: %v", i, err)
				}
				if live {
					overlapped.Add(1)
				}
			}()
		}
		pubs.Wait()
		joined.Wait()
		for _, name := range streams {
			publish(t, m, name, perStream+1)
		}
		subs.Wait()
		t.Logf("%d of %d subscribers joined while a publisher was running", overlapped.Load(), nsubs)
	})
}

// resumeAndCheck subscribes to streams with a random since for each (or
// none), calls joined, then checks that it gets every later frame of each
// stream exactly once, in order, up to seq final. It reports whether a
// stream it resumed was still being published to when it joined.
func resumeAndCheck(m *Memory, streams []string, final, seed uint64, joined func()) (live bool, err error) {
	rnd := rand.New(rand.NewPCG(seed, 1))
	// Jitter, not a wait: subscribers join at random points of the publishing.
	time.Sleep(time.Duration(rnd.IntN(3000)) * time.Microsecond)
	s := NewSubscriber(len(streams) * int(final))
	defer s.Close()
	since := map[string]uint64{}
	for _, name := range streams {
		if rnd.IntN(4) > 0 {
			since[name] = uint64(rnd.IntN(int(m.Last(name)) + 1))
		}
	}
	err = m.Subscribe(s, streams, since)
	for name := range since {
		live = live || m.Last(name) < final-1
	}
	joined()
	if err != nil {
		return live, err
	}
	// A stream subscribed without since starts at the first frame published
	// after registration, which the test cannot know: the first frame
	// received fixes it, and the rest must follow without a gap.
	got := map[string]uint64{}
	for name, v := range since {
		got[name] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for done := 0; done < len(streams); {
		f, err := s.Next(ctx)
		if err != nil {
			return live, fmt.Errorf("next after %v: %w", got, err)
		}
		if f.Stream == StreamControl {
			return live, fmt.Errorf("unexpected notice %s", f.Data)
		}
		prev, seen := got[f.Stream]
		if seen && f.Seq != prev+1 {
			return live, fmt.Errorf("stream %s: seq %d after %d (since %v)", f.Stream, f.Seq, prev, since)
		}
		got[f.Stream] = f.Seq
		if f.Seq == final {
			done++
		}
	}
	if n := s.Missed(); n != 0 {
		return live, fmt.Errorf("missed %d frames", n)
	}
	return live, nil
}

func TestMemory_Gap(t *testing.T) {
	m := newHub(t, Options{TailSize: 10})
	for i := 1; i <= 25; i++ { // the tail keeps 16…25
		publish(t, m, "job/3", i)
	}
	tests := []struct {
		name  string
		since uint64
		want  *Notice // nil: a replay of since+1…25
	}{
		{"since older than the tail", 5, &Notice{Op: OpGap, Stream: "job/3", Since: 5, First: 16, Last: 25}},
		{"since one short of the tail", 14, &Notice{Op: OpGap, Stream: "job/3", Since: 14, First: 16, Last: 25}},
		{"since just before the tail", 15, nil},
		{"since beyond the last seq", 30, &Notice{Op: OpGap, Stream: "job/3", Since: 30, First: 16, Last: 25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSub(t, 0)
			subscribe(t, m, s, []string{"job/3"}, map[string]uint64{"job/3": tt.since})
			if tt.want != nil {
				if got := nextNotice(t, s); got != *tt.want {
					t.Fatalf("notice %+v, want %+v", got, *tt.want)
				}
			} else if err := readSeqs(s, "job/3", tt.since+1, 25); err != nil {
				t.Fatal(err)
			}
			expectNone(t, s)
			m.Unsubscribe(s, nil)
		})
	}
	t.Run("live frames follow the notice", func(t *testing.T) {
		s := newSub(t, 0)
		subscribe(t, m, s, []string{"job/3"}, map[string]uint64{"job/3": 1})
		publish(t, m, "job/3", 26)
		if n := nextNotice(t, s); n.Op != OpGap || n.Last != 25 {
			t.Fatalf("notice %+v", n)
		}
		nextData(t, s, "job/3", 26)
	})
	t.Run("since on a stream with no frames", func(t *testing.T) {
		s := newSub(t, 0)
		subscribe(t, m, s, []string{"job/new"}, map[string]uint64{"job/new": 7})
		want := Notice{Op: OpGap, Stream: "job/new", Since: 7, First: 0, Last: 0}
		if got := nextNotice(t, s); got != want {
			t.Fatalf("notice %+v, want %+v", got, want)
		}
		publish(t, m, "job/new", 1)
		nextData(t, s, "job/new", 1)
	})
	t.Run("wire format", func(t *testing.T) {
		s := newSub(t, 0)
		subscribe(t, m, s, []string{"job/3"}, map[string]uint64{"job/3": 2})
		want := `{"stream":"control","payload":{"op":"gap","stream":"job/3","since":2,"first":17,"last":26}}`
		if f := next(t, s); string(f.Data) != want || f.Stream != StreamControl || f.Seq != 0 {
			t.Fatalf("notice frame %q (stream %q seq %d)\nwant %s", f.Data, f.Stream, f.Seq, want)
		}
	})
}

func TestMemory_SlowSubscriber(t *testing.T) {
	const (
		n        = 100_000
		slowSize = 1000
	)
	m := newHub(t, Options{})
	slow := newSub(t, slowSize)
	fast := newSub(t, n) // big enough to hold everything, whatever the scheduling
	subscribe(t, m, slow, []string{"service/web/logs"}, nil)
	subscribe(t, m, fast, []string{"service/web/logs"}, nil)

	fastErr := make(chan error, 1)
	go func() { fastErr <- readSeqs(fast, "service/web/logs", 1, n) }()

	published := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if _, err := m.Publish("service/web/logs", payload{N: i}); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	// The slow subscriber never reads while the publisher runs. If Publish
	// blocked on it, the publisher would never finish.
	select {
	case err := <-published:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the publisher is blocked by a subscriber that does not read")
	}
	if err := <-fastErr; err != nil {
		t.Fatalf("fast subscriber: %v", err)
	}
	if fast.Missed() != 0 {
		t.Errorf("fast subscriber missed %d", fast.Missed())
	}
	if !slow.Lagging() || slow.Missed() != n-slowSize {
		t.Errorf("slow subscriber: lagging %v, missed %d; want true, %d", slow.Lagging(), slow.Missed(), n-slowSize)
	}

	// Now the slow one reads: what fitted in its queue, then the notice.
	if err := readSeqs(slow, "service/web/logs", 1, slowSize); err != nil {
		t.Fatal(err)
	}
	f := next(t, slow)
	want := fmt.Sprintf(`{"stream":"control","payload":{"op":"missed","stream":"service/web/logs","from":%d,"to":%d,"count":%d}}`,
		slowSize+1, n, n-slowSize)
	if string(f.Data) != want {
		t.Fatalf("notice %s\nwant %s", f.Data, want)
	}
	expectNone(t, slow)
	if slow.Lagging() {
		t.Error("still lagging after the notice")
	}
	// It is back in the live stream.
	publish(t, m, "service/web/logs", n+1)
	nextData(t, slow, "service/web/logs", n+1)
}

func TestMemory_Missed(t *testing.T) {
	t.Run("notices come per stream, in order of first loss, after the queue", func(t *testing.T) {
		m := newHub(t, Options{})
		s := newSub(t, 2)
		subscribe(t, m, s, []string{"job/a", "job/b"}, nil)
		publish(t, m, "job/a", 1) // queued
		publish(t, m, "job/b", 1) // queued: full
		publish(t, m, "job/b", 2) // dropped: lagging from here
		publish(t, m, "job/a", 2)
		publish(t, m, "job/b", 3)
		publish(t, m, "job/a", 3)

		nextData(t, s, "job/a", 1)
		publish(t, m, "job/a", 4) // the queue has room, but still lagging: dropped
		nextData(t, s, "job/b", 1)
		if got, want := nextNotice(t, s), (Notice{Op: OpMissed, Stream: "job/b", From: 2, To: 3, Count: 2}); got != want {
			t.Errorf("notice %+v, want %+v", got, want)
		}
		if got, want := nextNotice(t, s), (Notice{Op: OpMissed, Stream: "job/a", From: 2, To: 4, Count: 3}); got != want {
			t.Errorf("notice %+v, want %+v", got, want)
		}
		publish(t, m, "job/a", 5)
		nextData(t, s, "job/a", 5)
		if s.Missed() != 5 {
			t.Errorf("Missed = %d, want 5", s.Missed())
		}
	})
	t.Run("resuming with since=from-1 gets the missed frames", func(t *testing.T) {
		m := newHub(t, Options{})
		s := newSub(t, 3)
		subscribe(t, m, s, []string{"job/a"}, nil)
		for i := 1; i <= 10; i++ {
			publish(t, m, "job/a", i)
		}
		if err := readSeqs(s, "job/a", 1, 3); err != nil {
			t.Fatal(err)
		}
		n := nextNotice(t, s)
		if n.From != 4 || n.To != 10 {
			t.Fatalf("notice %+v", n)
		}
		publish(t, m, "job/a", 11)
		// The client resumes; frame 11, still queued, is not delivered twice.
		subscribe(t, m, s, []string{"job/a"}, map[string]uint64{"job/a": n.From - 1})
		if err := readSeqs(s, "job/a", 4, 6); err != nil { // the queue holds 3
			t.Fatal(err)
		}
		n = nextNotice(t, s)
		if n.From != 7 || n.To != 11 {
			t.Fatalf("notice %+v", n)
		}
		subscribe(t, m, s, []string{"job/a"}, map[string]uint64{"job/a": n.From - 1})
		if err := readSeqs(s, "job/a", 7, 9); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a replay bigger than the queue is reported as missed", func(t *testing.T) {
		m := newHub(t, Options{})
		for i := 1; i <= 10; i++ {
			publish(t, m, "job/a", i)
		}
		s := newSub(t, 4)
		subscribe(t, m, s, []string{"job/a"}, map[string]uint64{"job/a": 0})
		if err := readSeqs(s, "job/a", 1, 4); err != nil {
			t.Fatal(err)
		}
		if got, want := nextNotice(t, s), (Notice{Op: OpMissed, Stream: "job/a", From: 5, To: 10, Count: 6}); got != want {
			t.Errorf("notice %+v, want %+v", got, want)
		}
	})
}

func TestMemory_Unsubscribe(t *testing.T) {
	m := newHub(t, Options{})
	s := newSub(t, 0)
	subscribe(t, m, s, []string{"job/a", "job/b"}, nil)
	publish(t, m, "job/a", 1)
	publish(t, m, "job/b", 1)
	m.Unsubscribe(s, []string{"job/a", "job/unknown"})
	publish(t, m, "job/a", 2)
	publish(t, m, "job/b", 2)
	// job/a's queued frame went with it.
	nextData(t, s, "job/b", 1)
	nextData(t, s, "job/b", 2)
	expectNone(t, s)

	m.Unsubscribe(s, nil)
	publish(t, m, "job/b", 3)
	expectNone(t, s)
	if got := hubState(m); got != "streams=2 members=0" {
		t.Errorf("hub state %s", got)
	}

	t.Run("a stream never published to is forgotten", func(t *testing.T) {
		s := newSub(t, 0)
		subscribe(t, m, s, []string{"job/ghost"}, nil)
		m.Unsubscribe(s, []string{"job/ghost"})
		if got := hubState(m); got != "streams=2 members=0" {
			t.Errorf("hub state %s", got)
		}
	})
	t.Run("its missed notice goes too", func(t *testing.T) {
		s := newSub(t, 1)
		subscribe(t, m, s, []string{"job/a", "job/b"}, nil)
		publish(t, m, "job/b", 4)
		publish(t, m, "job/a", 3) // dropped
		m.Unsubscribe(s, []string{"job/a"})
		nextData(t, s, "job/b", 4)
		expectNone(t, s)
	})
}

// hubState summarises what m holds.
func hubState(m *Memory) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	m.streams.Range(func(any, any) bool { n++; return true })
	return fmt.Sprintf("streams=%d members=%d", n, len(m.members))
}

func TestMemory_SubscribeErrors(t *testing.T) {
	m := newHub(t, Options{})
	s := newSub(t, 0)
	if err := m.Subscribe(s, []string{"events", "nope"}, nil); !errors.Is(err, ErrBadStream) {
		t.Errorf("bad name: %v, want ErrBadStream", err)
	}
	if err := m.Subscribe(s, []string{"events"}, map[string]uint64{"job/1": 1}); err == nil {
		t.Error("since of a stream not subscribed: no error")
	}
	if got := hubState(m); got != "streams=0 members=0" {
		t.Errorf("failed subscribes left %s", got)
	}
	s.Close()
	if err := m.Subscribe(s, []string{"events"}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("closed subscriber: %v, want ErrClosed", err)
	}
}

func TestSubscriber_Close(t *testing.T) {
	m := newHub(t, Options{})
	s := NewSubscriber(0)
	subscribe(t, m, s, []string{"events", "job/1"}, nil)
	publish(t, m, "events", 1)

	errc := make(chan error, 1)
	go func() {
		_, err := s.Next(context.Background()) // gets events 1
		if err == nil {
			_, err = s.Next(context.Background()) // blocks until Close
		}
		errc <- err
	}()
	waitBlockedInNext(t)
	s.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v, want ErrClosed", err)
	}
	// The hub forgot it.
	if got := hubState(m); got != "streams=1 members=0" {
		t.Errorf("hub state after Close: %s", got)
	}
	publish(t, m, "events", 2)
	s.Close() // idempotent
	if err := s.Send(Frame{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed")
	}
}

func TestSubscriber_NextContext(t *testing.T) {
	s := newSub(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.Next(ctx)
		errc <- err
	}()
	waitBlockedInNext(t)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next: %v, want context.Canceled", err)
	}
}

func TestSubscriber_Send(t *testing.T) {
	m := newHub(t, Options{})
	s := newSub(t, 2)
	subscribe(t, m, s, []string{"events"}, nil)
	reply, err := Reply{Op: OpSubscribed, ID: []byte(`7`), Streams: []string{"events"}}.Frame()
	if err != nil {
		t.Fatal(err)
	}
	publish(t, m, "events", 1)
	if err := s.Send(reply); err != nil {
		t.Fatal(err)
	}
	publish(t, m, "events", 2)
	publish(t, m, "events", 3) // dropped: 2 data frames queued; the reply does not count
	nextData(t, s, "events", 1)
	if f := next(t, s); string(f.Data) != `{"stream":"control","payload":{"op":"subscribed","id":7,"streams":["events"]}}` {
		t.Fatalf("reply %s", f.Data)
	}
	nextData(t, s, "events", 2)
	if n := nextNotice(t, s); n.Op != OpMissed || n.From != 3 {
		t.Fatalf("notice %+v", n)
	}

	t.Run("overflow ends the subscriber", func(t *testing.T) {
		s := newSub(t, 2)
		for range 2 {
			if err := s.Send(reply); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Send(reply); !errors.Is(err, ErrOverflow) {
			t.Fatalf("third Send: %v, want ErrOverflow", err)
		}
		if _, err := s.Next(context.Background()); !errors.Is(err, ErrOverflow) {
			t.Fatalf("Next: %v, want ErrOverflow", err)
		}
	})
}

func TestMemory_Close(t *testing.T) {
	m := NewMemory(Options{})
	queued, waiting := newSub(t, 0), newSub(t, 0)
	subscribe(t, m, queued, []string{"events"}, nil)
	subscribe(t, m, waiting, []string{"job/1"}, nil)
	publish(t, m, "events", 1)

	errc := make(chan error, 1)
	go func() {
		_, err := waiting.Next(context.Background())
		errc <- err
	}()
	waitBlockedInNext(t)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrHubClosed) {
		t.Fatalf("blocked Next: %v, want ErrHubClosed", err)
	}
	nextData(t, queued, "events", 1) // what was queued is still delivered
	if _, err := queued.Next(context.Background()); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("Next: %v, want ErrHubClosed", err)
	}
	if _, err := m.Publish("events", 1); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Publish: %v", err)
	}
	if err := m.Subscribe(newSub(t, 0), []string{"events"}, nil); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Subscribe: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	m.Unsubscribe(queued, nil)
	queued.Close() // its hook does nothing on a closed hub
}

func TestMemory_ConcurrentChurn(t *testing.T) {
	// Publishers, subscribers that come and go, resubscribe with since and
	// close, all at once: for -race and the lock order.
	m := newHub(t, Options{TailSize: 64})
	streams := []string{"events", "job/1", "job/2", "service/a/logs"}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for _, name := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				m.Publish(name, payload{N: i})
			}
		}()
	}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 2))
			for ctx.Err() == nil {
				s := NewSubscriber(1 + rnd.IntN(32))
				sub := streams[:1+rnd.IntN(len(streams))]
				since := map[string]uint64{sub[0]: uint64(rnd.IntN(int(m.Last(sub[0])) + 1))}
				m.Subscribe(s, sub, since)
				rctx, rcancel := context.WithTimeout(ctx, time.Millisecond)
				for {
					if _, err := s.Next(rctx); err != nil {
						break
					}
				}
				rcancel()
				switch rnd.IntN(3) {
				case 0:
					m.Unsubscribe(s, sub[:1])
				case 1:
					m.Subscribe(s, sub[:1], map[string]uint64{sub[0]: 0})
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	if got := hubState(m); got != fmt.Sprintf("streams=%d members=0", len(streams)) {
		t.Errorf("after churn: %s", got)
	}
}

// waitBlockedInNext waits until a goroutine is parked in Subscriber.Next.
func waitBlockedInNext(t testing.TB) {
	t.Helper()
	berthtest.Eventually(t, 10*time.Second, "a goroutine blocked in Next", func() bool {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "hub.(*Subscriber).Next(") {
				return true
			}
		}
		return false
	})
}

func TestMemory_PublishAllocs(t *testing.T) {
	// A publish allocates its frame once, whatever the number of
	// subscribers: the payload is encoded once and shared.
	if raceEnabled {
		t.Skip("-race adds allocations")
	}
	for _, nsubs := range []int{1, 1000} {
		m := newHub(t, Options{TailSize: 16})
		subs := make([]*Subscriber, nsubs)
		for i := range subs {
			subs[i] = newSub(t, 0)
			subscribe(t, m, subs[i], []string{"service/web/logs"}, nil)
		}
		ctx := context.Background()
		line := &benchLine // a pointer: boxing it in an interface does not allocate
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := m.Publish("service/web/logs", line); err != nil {
				t.Fatal(err)
			}
			for _, s := range subs {
				if _, err := s.Next(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
		if allocs > 1 {
			t.Errorf("%d subscribers: %.1f allocations per publish, want 1", nsubs, allocs)
		}
	}
}

// An owner that polls instead of waiting in Next learns from OnReady when
// there is something to take: a frame in an empty queue, missed notices
// falling due, the end of the subscriber.
func TestSubscriber_Poll(t *testing.T) {
	m := newHub(t, Options{})
	s := newSub(t, 2)
	var calls atomic.Int32
	s.OnReady(func() { calls.Add(1) })
	subscribe(t, m, s, []string{"events"}, nil)
	pollNone := func() {
		t.Helper()
		if f, ok, err := s.Poll(); ok || err != nil {
			t.Fatalf("Poll: %s, %v, %v; want nothing", f.Data, ok, err)
		}
		if s.Ready() {
			t.Fatal("Ready with nothing queued")
		}
	}
	pollNone()
	publish(t, m, "events", 1)
	publish(t, m, "events", 2)
	publish(t, m, "events", 3) // dropped: the queue holds 2
	if got := calls.Load(); got != 1 {
		t.Fatalf("OnReady called %d times for frames queued behind each other, want 1", got)
	}
	if !s.Ready() {
		t.Fatal("not Ready with frames queued")
	}
	for _, want := range []uint64{1, 2} {
		f, ok, err := s.Poll()
		if !ok || err != nil || f.Seq != want {
			t.Fatalf("Poll: seq %d, %v, %v; want seq %d", f.Seq, ok, err, want)
		}
	}
	// Drained while lagging: the missed notice is due.
	if !s.Ready() {
		t.Fatal("not Ready with a missed notice due")
	}
	f, ok, err := s.Poll()
	if !ok || err != nil || !strings.Contains(string(f.Data), `"op":"missed"`) {
		t.Fatalf("Poll: %s, %v, %v; want the missed notice", f.Data, ok, err)
	}
	pollNone()
	publish(t, m, "events", 4)
	if got := calls.Load(); got != 2 {
		t.Fatalf("OnReady called %d times, want 2", got)
	}
	if f, ok, _ := s.Poll(); !ok || f.Seq != 4 {
		t.Fatalf("Poll: seq %d, %v; want 4", f.Seq, ok)
	}
	m.Close() // ends the subscriber: OnReady, then Poll returns the error
	if got := calls.Load(); got != 3 {
		t.Fatalf("OnReady called %d times, want 3 (the end)", got)
	}
	if !s.Ready() {
		t.Fatal("not Ready once ended")
	}
	if _, ok, err := s.Poll(); ok || !errors.Is(err, ErrHubClosed) {
		t.Fatalf("Poll after the hub closed: %v, %v; want ErrHubClosed", ok, err)
	}

	t.Run("send overflow", func(t *testing.T) {
		s := newSub(t, 1)
		var calls atomic.Int32
		s.OnReady(func() { calls.Add(1) })
		reply, _ := Reply{Op: OpSubscribed}.Frame()
		_ = s.Send(reply)
		if err := s.Send(reply); !errors.Is(err, ErrOverflow) {
			t.Fatalf("Send: %v, want ErrOverflow", err)
		}
		if got := calls.Load(); got != 2 {
			t.Fatalf("OnReady called %d times, want 2", got)
		}
		if _, _, err := s.Poll(); !errors.Is(err, ErrOverflow) {
			t.Fatalf("Poll: %v, want ErrOverflow", err)
		}
	})
}

// countingAppender is a JSONAppender that counts its encodings.
type countingAppender struct {
	n     *atomic.Int64
	value int
}

func (c countingAppender) AppendJSON(dst []byte) []byte {
	c.n.Add(1)
	return fmt.Appendf(dst, `{"n":%d}`, c.value)
}

// The inspect stream is live only: frames go to its subscribers of the
// moment, nobody watching costs no encoding, and a resume gets a gap.
func TestMemory_LiveOnly(t *testing.T) {
	m := newHub(t, Options{})
	var encoded atomic.Int64
	for i := 1; i <= 3; i++ {
		seq, err := m.Publish(StreamInspect, countingAppender{&encoded, i})
		if err != nil || seq != uint64(i) {
			t.Fatalf("publish %d with nobody subscribed: seq %d, %v", i, seq, err)
		}
	}
	if n := encoded.Load(); n != 0 {
		t.Fatalf("with nobody subscribed the payload was encoded %d times, want 0", n)
	}

	s := newSub(t, 0)
	subscribe(t, m, s, []string{StreamInspect}, nil)
	expectNone(t, s) // no tail to replay
	if _, err := m.Publish(StreamInspect, countingAppender{&encoded, 4}); err != nil {
		t.Fatal(err)
	}
	f := nextData(t, s, StreamInspect, 4)
	if want := `{"stream":"inspect","seq":4,"payload":{"n":4}}`; string(f.Data) != want {
		t.Fatalf("frame %s, want %s", f.Data, want)
	}
	if n := encoded.Load(); n != 1 {
		t.Fatalf("one subscriber: encoded %d times, want 1", n)
	}

	late := newSub(t, 0)
	subscribe(t, m, late, []string{StreamInspect}, map[string]uint64{StreamInspect: 2})
	want := Notice{Op: OpGap, Stream: StreamInspect, Since: 2, First: 0, Last: 4}
	if got := nextNotice(t, late); got != want {
		t.Fatalf("resume of a live-only stream: %+v, want %+v", got, want)
	}
	m.Unsubscribe(s, nil)
	m.Unsubscribe(late, nil)
	if _, err := m.Publish(StreamInspect, countingAppender{&encoded, 5}); err != nil {
		t.Fatal(err)
	}
	if n, last := encoded.Load(), m.Last(StreamInspect); n != 1 || last != 5 {
		t.Fatalf("after the last subscriber left: encoded %d times (want 1), last seq %d (want 5)", n, last)
	}
}
