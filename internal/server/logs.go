package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/logs"
)

// LogLine is one line of a service's output on the wire.
type LogLine struct {
	Service string    `json:"service"`
	Replica int       `json:"replica"`
	Stream  string    `json:"stream"` // "stdout" or "stderr"
	Time    time.Time `json:"time"`
	Seq     uint64    `json:"seq"`
	Text    string    `json:"text"`
	// Missed, when non-zero, says that many lines were skipped because the
	// reader was too slow; they are in the on-disk log (`berth logs`).
	Missed uint64 `json:"missed,omitempty"`
	// Cursor, in the last records of a history (one per service), is the
	// seq to resume the service's live log stream after (no gap, no duplicate).
	Cursor uint64 `json:"cursor,omitempty"`
}

// IsCursor reports whether l only carries a service's cursor.
func (l LogLine) IsCursor() bool { return l.Replica == 0 && l.Missed == 0 }

func wireLine(service string, l logs.Line) LogLine {
	stream := "stdout"
	if l.Stream == logs.Stream('e') {
		stream = "stderr"
	}
	return LogLine{Service: service, Replica: l.Replica, Stream: stream, Time: l.Time, Seq: l.Seq, Text: string(l.Text)}
}

// parseSince accepts an RFC 3339 time, a Unix timestamp or a duration ago ("10m").
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, &badRequest{msg: "since=" + strconv.Quote(v) + ": want a time (2026-01-02T15:04:05Z), a Unix timestamp or a duration (10m)"}
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tail, err := queryInt(r, "tail", -1)
	if err != nil {
		writeError(w, err)
		return
	}
	since, err := parseSince(q.Get("since"), time.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	follow := q.Get("follow") == "1" || q.Get("follow") == "true"
	names := q["service"]
	if len(names) == 0 {
		names = s.eng.Services()
	}
	type source struct {
		name   string
		sub    *logs.Subscription
		cursor uint64
	}
	var srcs []source
	defer func() {
		for _, src := range srcs {
			src.sub.Close()
		}
	}()
	for _, n := range names {
		l, err := s.eng.Log(n)
		if err != nil {
			writeError(w, err)
			return
		}
		cursor := l.LastSeq()
		sub, err := l.Subscribe(logs.SubscribeOptions{Tail: tail, Since: since, Follow: follow})
		if err != nil {
			writeError(w, err)
			return
		}
		srcs = append(srcs, source{n, sub, cursor})
	}
	nd := newNDJSON(w)
	if !follow {
		// History only: merge every service's lines by time.
		var all []LogLine
		for i, src := range srcs {
			for {
				lines, _, err := src.sub.Next(r.Context())
				for _, l := range lines {
					all = append(all, wireLine(src.name, l))
					srcs[i].cursor = max(srcs[i].cursor, l.Seq)
				}
				if err != nil {
					break
				}
			}
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
		for _, l := range all {
			if nd.write(l) != nil {
				return
			}
		}
		for _, src := range srcs {
			if nd.write(LogLine{Service: src.name, Cursor: src.cursor}) != nil {
				return
			}
		}
		return
	}
	nd.flush()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var mu sync.Mutex // serialises writes to the response
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	forward := func(name string, sub *logs.Subscription) {
		defer wg.Done()
		for {
			lines, missed, err := sub.Next(ctx)
			mu.Lock()
			if missed > 0 {
				_ = nd.write(LogLine{Service: name, Missed: missed, Time: time.Now()})
			}
			var werr error
			for _, l := range lines {
				if werr = nd.write(wireLine(name, l)); werr != nil {
					break
				}
			}
			nd.flush()
			mu.Unlock()
			if werr != nil || err != nil {
				if werr != nil || !errors.Is(err, io.EOF) {
					cancel()
				}
				return
			}
		}
	}
	following := map[string]bool{}
	for _, src := range srcs {
		following[src.name] = true
		wg.Add(1)
		go forward(src.name, src.sub)
	}
	if len(q["service"]) > 0 {
		// Named services: stream until the client goes or the engine ends.
		select {
		case <-ctx.Done():
		case <-s.eng.Done():
		}
		return
	}
	// Following every service: pick up services that appear later (up in progress).
	for {
		changed := s.eng.Changes()
		for _, n := range s.eng.Services() {
			if following[n] {
				continue
			}
			l, err := s.eng.Log(n)
			if err != nil {
				continue
			}
			sub, err := l.Subscribe(logs.SubscribeOptions{Tail: tail, Since: since, Follow: true})
			if err != nil {
				continue
			}
			srcs = append(srcs, source{n, sub, 0})
			following[n] = true
			wg.Add(1)
			go forward(n, sub)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.eng.Done():
			return
		case <-changed:
		}
	}
}
