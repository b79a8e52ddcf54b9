package hub

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// logLine is a typical payload: one line of a service's log.
type logLine struct {
	Time    string `json:"time"`
	Replica int    `json:"replica"`
	Stream  string `json:"stream"`
	Text    string `json:"text"`
}

var benchLine = logLine{
	Time:    "2025-01-02T15:04:05.123456789Z",
	Replica: 1,
	Stream:  "stdout",
	Text:    `127.0.0.1 - - "GET /api/items?page=2 HTTP/1.1" 200 5120 "-" "Mozilla/5.0"`,
}

// BenchmarkPublishFanout publishes log lines to one stream with 1,000 and
// 5,000 subscribers, each drained by its own goroutine as a WebSocket writer
// would. An op is one Publish and its delivery to every subscriber: the timer
// stops only once every subscriber has taken every frame (or been told it
// missed it). Metrics: deliveries/op is the fan-out; missed/op the frames
// per publish that subscribers missed because their reader fell 4096 frames
// behind; allocs/op counts every goroutine, readers included.
func BenchmarkPublishFanout(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			benchFanout(b, n, nil)
		})
	}
}

// BenchmarkDeliveryLatency is BenchmarkPublishFanout paced at a constant
// 1M deliveries/s (1,000 lines/s to 1,000 subscribers, 200 lines/s to
// 5,000), so that every reader wakes up for every frame. It reports the delay
// from just before Publish to Next returning the frame, over every delivery:
// p50, p99 and max. Its ns/op is the pacing, not a cost.
func BenchmarkDeliveryLatency(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			benchFanout(b, n, &latency{every: time.Duration(n) * time.Microsecond})
		})
	}
}

// latency records publish times and delivery delays.
type latency struct {
	every     time.Duration
	published []time.Time       // by seq-1, written before the frame is published
	delays    [][]time.Duration // one slice per reader
}

func benchFanout(b *testing.B, nsubs int, lat *latency) {
	const stream = "service/web/logs"
	m := NewMemory(Options{})
	defer m.Close()
	total := uint64(b.N)
	if lat != nil {
		lat.published = make([]time.Time, b.N)
		lat.delays = make([][]time.Duration, nsubs)
	}

	var ready, finished sync.WaitGroup
	missed := make([]uint64, nsubs)
	subs := make([]*Subscriber, nsubs)
	for i := range subs {
		s := NewSubscriber(0)
		subs[i] = s
		if err := m.Subscribe(s, []string{stream}, nil); err != nil {
			b.Fatal(err)
		}
		ready.Add(1)
		finished.Add(1)
		go func() {
			defer finished.Done()
			var delays []time.Duration
			if lat != nil {
				delays = make([]time.Duration, 0, b.N)
			}
			ready.Done()
			ctx := context.Background()
			for {
				f, err := s.Next(ctx)
				if err != nil {
					return
				}
				last := f.Seq
				if f.Stream == StreamControl {
					n, _ := ParseNotice(f)
					missed[i] += n.Count
					last = n.To
				} else if lat != nil {
					delays = append(delays, time.Since(lat.published[f.Seq-1]))
				}
				if last == total {
					if lat != nil {
						lat.delays[i] = delays
					}
					return
				}
			}
		}()
	}
	ready.Wait()

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if lat != nil {
			if d := time.Duration(i)*lat.every - time.Since(start); d > 0 {
				time.Sleep(d)
			}
			lat.published[i] = time.Now()
		}
		if _, err := m.Publish(stream, benchLine); err != nil {
			b.Fatal(err)
		}
	}
	finished.Wait()
	b.StopTimer()

	var lost uint64
	for _, n := range missed {
		lost += n
	}
	b.ReportMetric(float64(nsubs), "deliveries/op")
	b.ReportMetric(float64(lost)/float64(b.N), "missed/op")
	if lat != nil {
		var all []time.Duration
		for _, d := range lat.delays {
			all = append(all, d...)
		}
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		if len(all) > 0 {
			b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(all[len(all)-1].Microseconds()), "max-µs")
		}
	}
	for _, s := range subs {
		s.Close()
	}
}
