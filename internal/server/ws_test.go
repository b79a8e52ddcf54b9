package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/server"
)

// appCompose is a project of one long-running service that says hello
// each time it starts.
const appCompose = `name: srvtest
services:
  app:
    command: ["sh", "app.sh"]
`

var appFiles = map[string]string{"app.sh": "echo hello from app; exec sleep 300\n"}

func TestWS_ThreeStreamsOnOneSocket(t *testing.T) {
	e := newEnv(t, appCompose, envOptions{files: appFiles})
	ctx := timeout(t, 30*time.Second)
	c := e.dialUnix()
	streams := []string{"events", "service/app/status", "service/app/logs"}
	data := c.subscribed(ctx, 1, streams, nil)

	mustOK(t, e.local("POST", "/v1/restart", engine.StopRequest{Services: []string{"app"}}))

	last := map[string]uint64{}
	var actions []string
	gotStatus, gotLog := false, false
	check := func(f frame) {
		if f.Stream == hub.StreamControl {
			ctl, _ := f.control(t)
			t.Fatalf("unexpected control frame: %+v", ctl)
		}
		if f.Seq <= last[f.Stream] {
			t.Fatalf("stream %s: seq %d after %d: not strictly increasing", f.Stream, f.Seq, last[f.Stream])
		}
		if last[f.Stream] != 0 && f.Seq != last[f.Stream]+1 {
			t.Fatalf("stream %s: seq %d after %d without a missed notice", f.Stream, f.Seq, last[f.Stream])
		}
		last[f.Stream] = f.Seq
		switch f.Stream {
		case "events":
			var ev engine.Event
			if err := json.Unmarshal(f.Payload, &ev); err != nil {
				t.Fatalf("event payload: %v: %s", err, f.Payload)
			}
			if ev.Service != "app" {
				t.Fatalf("event of service %q, want app: %s", ev.Service, f.Payload)
			}
			actions = append(actions, ev.Action)
		case "service/app/status":
			var st engine.StatusPayload
			if err := json.Unmarshal(f.Payload, &st); err != nil {
				t.Fatalf("status payload: %v: %s", err, f.Payload)
			}
			if st.Service != "app" || len(st.Replicas) != 1 {
				t.Fatalf("status payload %s: want service app with one replica", f.Payload)
			}
			if st.Replicas[0].State == engine.StateRunning && st.Replicas[0].Restarts >= 1 {
				gotStatus = true
			}
		case "service/app/logs":
			var ln server.LogPayload
			if err := json.Unmarshal(f.Payload, &ln); err != nil {
				t.Fatalf("log payload: %v: %s", err, f.Payload)
			}
			if ln.Text == "hello from app" && ln.Stream == "stdout" && ln.Replica == 1 {
				gotLog = true
			}
		default:
			t.Fatalf("frame of stream %q, which was not subscribed", f.Stream)
		}
	}
	for _, f := range data {
		check(f)
	}
	for !gotStatus || !gotLog || !contains(actions, "start") {
		check(c.mustNext(ctx))
	}
	for _, want := range []string{"stop", "die", "start"} {
		if !contains(actions, want) {
			t.Errorf("events %v: no %q", actions, want)
		}
	}
	if len(last) != 3 {
		t.Errorf("frames of %d streams, want 3: %v", len(last), last)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// burstCompose's service prints 500 numbered lines each time it starts.
const burstCompose = `name: srvtest
services:
  app:
    command: ["sh", "burst.sh"]
`

var burstFiles = map[string]string{"burst.sh": `n=0
while [ $n -lt 500 ]; do n=$((n+1)); echo "burst line $n"; done
exec sleep 300
`}

func TestWS_Resume(t *testing.T) {
	e := newEnv(t, burstCompose, envOptions{files: burstFiles, hub: hub.Options{TailSize: 8}})
	publish := func(t *testing.T, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			r := mustOK(t, e.remote("POST", "/v1/publish", e.owner, map[string]any{"stream": "topic/x", "payload": map[string]int{"n": int(e.hub.Last("topic/x")) + 1}}))
			var got struct{ Seq uint64 }
			if err := json.Unmarshal(r.body, &got); err != nil || got.Seq != e.hub.Last("topic/x") {
				t.Fatalf("publish answered %s; the stream's last seq is %d", r.body, e.hub.Last("topic/x"))
			}
		}
	}
	t.Run("topic: reconnect with since gets exactly the missed frames", func(t *testing.T) {
		ctx := timeout(t, 20*time.Second)
		publish(t, 3)
		c := e.dialTCP(e.owner).in(t)
		// since 0: everything still in the tail, then live frames.
		data := c.subscribed(ctx, 1, []string{"topic/x"}, map[string]uint64{"topic/x": 0})
		publish(t, 2) // 4, 5: the client reads only up to 4
		for len(data) < 4 {
			data = append(data, c.mustNext(ctx))
		}
		for i, f := range data[:4] {
			if f.Stream != "topic/x" || f.Seq != uint64(i+1) {
				t.Fatalf("frame %d: %s seq %d, want topic/x seq %d", i, f.Stream, f.Seq, i+1)
			}
			var p struct{ N int }
			if err := json.Unmarshal(f.Payload, &p); err != nil || p.N != i+1 {
				t.Fatalf("frame %d: payload %s, want {\"n\":%d}", i, f.Payload, i+1)
			}
		}
		c.close()
		publish(t, 2) // 6, 7 while disconnected

		c = e.dialTCP(e.owner).in(t)
		data = c.subscribed(ctx, 1, []string{"topic/x"}, map[string]uint64{"topic/x": 4})
		publish(t, 1) // 8: live, after the replay
		for len(data) < 4 {
			data = append(data, c.mustNext(ctx))
		}
		for i, f := range data {
			if f.Stream != "topic/x" || f.Seq != uint64(5+i) {
				t.Fatalf("after resuming at 4: frame %d is %s seq %d, want topic/x seq %d", i, f.Stream, f.Seq, 5+i)
			}
		}
		c.close()
	})

	t.Run("topic: since older than the tail gets a gap notice", func(t *testing.T) {
		ctx := timeout(t, 20*time.Second)
		publish(t, 30-int(e.hub.Last("topic/x"))) // the tail (8) now holds 23…30
		c := e.dialTCP(e.owner).in(t)
		data := c.subscribed(ctx, 1, []string{"topic/x"}, map[string]uint64{"topic/x": 3})
		publish(t, 1) // 31
		for len(data) < 2 {
			data = append(data, c.mustNext(ctx))
		}
		ctl, ok := data[0].control(t)
		if !ok || ctl.Op != hub.OpGap || ctl.Stream != "topic/x" || ctl.Since != 3 || ctl.First != 23 || ctl.Last != 30 {
			t.Fatalf("first frame %s %s, want a gap notice for topic/x since 3, first 23, last 30", data[0].Stream, data[0].Payload)
		}
		if data[1].Stream != "topic/x" || data[1].Seq != 31 {
			t.Fatalf("after the gap notice: %s seq %d, want topic/x seq 31", data[1].Stream, data[1].Seq)
		}
		// A since past the stream's last seq (it restarted its numbering).
		data = c.subscribed(ctx, 2, []string{"topic/x"}, map[string]uint64{"topic/x": 100})
		for len(data) < 1 {
			data = append(data, c.mustNext(ctx))
		}
		if ctl, ok := data[0].control(t); !ok || ctl.Op != hub.OpGap || ctl.Since != 100 || ctl.Last != 31 {
			t.Fatalf("since 100: got %s %s, want a gap notice with since 100, last 31", data[0].Stream, data[0].Payload)
		}
		c.close()
	})

	t.Run("service logs: resume from disk with no gap and no duplicate", func(t *testing.T) {
		ctx := timeout(t, 30*time.Second)
		l, err := e.eng.Log("app")
		if err != nil {
			t.Fatal(err)
		}
		berthtest.Eventually(t, 10*time.Second, "the first 500 lines", func() bool { return l.LastSeq() == 500 })
		c := e.dialUnix().in(t)
		// since 0 on a log stream: its whole history, from disk, then live lines.
		got := c.subscribed(ctx, 1, []string{"service/app/logs"}, map[string]uint64{"service/app/logs": 0})
		var seen uint64
		take := func(f frame) {
			t.Helper()
			if f.Stream != "service/app/logs" {
				t.Fatalf("unexpected frame %s %s", f.Stream, f.Payload)
			}
			if f.Seq != seen+1 {
				t.Fatalf("log frame seq %d after %d: a gap or a duplicate", f.Seq, seen)
			}
			var p server.LogPayload
			if err := json.Unmarshal(f.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("burst line %d", (f.Seq-1)%500+1); p.Text != want {
				t.Fatalf("line %d is %q, want %q", f.Seq, p.Text, want)
			}
			seen = f.Seq
		}
		for _, f := range got {
			take(f)
		}
		for seen < 200 {
			take(c.mustNext(ctx))
		}
		c.close()

		// Lines 501…1000 while the client is away (and the first 500 are
		// older than anything a hub tail would hold).
		mustOK(t, e.local("POST", "/v1/restart", engine.StopRequest{Services: []string{"app"}}))
		berthtest.Eventually(t, 10*time.Second, "lines 501…1000", func() bool { return l.LastSeq() == 1000 })

		// Resume after the last line taken: at least 200, more if the
		// history arrived with the subscription's reply.
		c = e.dialUnix().in(t)
		got = c.subscribed(ctx, 1, []string{"service/app/logs"}, map[string]uint64{"service/app/logs": seen})
		for _, f := range got {
			take(f)
		}
		for seen < 1000 {
			take(c.mustNext(ctx))
		}
		// Then the live lines follow without a duplicate: 1001…1500.
		mustOK(t, e.local("POST", "/v1/restart", engine.StopRequest{Services: []string{"app"}}))
		for seen < 1500 {
			take(c.mustNext(ctx))
		}
		c.close()
	})
}

// floodCompose's service waits for a file called go, then prints 100,000
// numbered lines as fast as it can and exits.
const floodCompose = `name: srvtest
services:
  flood:
    command: ["sh", "flood.sh"]
`

const floodLines = 100000

var floodFiles = map[string]string{"flood.sh": `while [ ! -e go ]; do sleep 0.01; done
exec awk 'BEGIN { for (i = 1; i <= 100000; i++) printf "line %06d the quick brown fox jumps over the lazy dog\n", i }'
`}

func floodText(seq uint64) string {
	return fmt.Sprintf("line %06d the quick brown fox jumps over the lazy dog", seq)
}

func TestWS_StalledClient(t *testing.T) {
	e := newEnv(t, floodCompose, envOptions{files: floodFiles})
	ctx := timeout(t, 90*time.Second)
	const stream = "service/flood/logs"

	// The stalled client subscribes and never reads; a small receive
	// buffer makes the server's writes block at once. since 0: from the
	// log's first line, however late the server reads the request.
	stalled, err := e.tryDialTCP(e.owner, http.Header{}, 4096)
	if err != nil {
		t.Fatal(err)
	}
	stalled.subscribe(1, []string{stream}, map[string]uint64{stream: 0})

	fast := e.dialTCP(e.owner)
	fast.subscribed(ctx, 1, []string{stream}, nil)
	frames := fast.pump(t)
	t0 := time.Now()
	if err := os.WriteFile(filepath.Join(e.dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// The fast client gets every line in order; when it is told it missed
	// lines, it resumes after the last one it has (the log is on disk).
	var next uint64 = 1
	id := 1
	resumes := 0
	for next <= floodLines {
		b, err := frames.next(ctx)
		if err != nil {
			t.Fatalf("fast client: has lines up to %d of %d: %v", next-1, floodLines, err)
		}
		if seq, ok := logFrameSeq(b, stream); ok {
			if seq != next {
				continue // a duplicate or a line after a gap, before a resume took effect
			}
			if !bytes.HasSuffix(b, []byte(`"text":"`+floodText(seq)+`"}}`)) {
				t.Fatalf("line %d: %s", seq, b)
			}
			next++
			continue
		}
		ctl := decodeControl(t, b)
		switch {
		case ctl.Op == hub.OpMissed && ctl.Stream == stream:
			if ctl.To != 0 && ctl.To < next {
				continue // lines it already has (a notice of a replaced subscription)
			}
			id++
			resumes++
			fast.subscribe(id, []string{stream}, map[string]uint64{stream: next - 1})
		case ctl.Op == hub.OpSubscribed:
		default:
			t.Fatalf("fast client: unexpected frame %s", b)
		}
	}
	t.Logf("%v: fast client: all %d lines, %d resume(s) after missed notices", time.Since(t0).Round(time.Millisecond), floodLines, resumes)

	// The service was not slowed: it finished, and every line is on disk.
	l, err := e.eng.Log("flood")
	if err != nil {
		t.Fatal(err)
	}
	berthtest.Eventually(t, 20*time.Second, "the flood service to exit", func() bool {
		st, err := e.eng.Ps([]string{"flood"})
		return err == nil && len(st) == 1 && st[0].State == engine.StateExited
	})
	if st, _ := e.eng.Ps([]string{"flood"}); st[0].ExitCode != 0 {
		t.Fatalf("flood exited with %d", st[0].ExitCode)
	}
	if got := l.LastSeq(); got != floodLines {
		t.Fatalf("log's last seq %d, want %d", got, floodLines)
	}
	r := mustOK(t, e.remote("GET", "/v1/logs?service=flood&tail=all", e.owner, nil))
	records := bytes.Split(bytes.TrimSuffix(r.body, []byte("\n")), []byte("\n"))
	if len(records) != floodLines+1 {
		t.Fatalf("logs endpoint: %d records, want %d lines and a cursor", len(records), floodLines)
	}
	for i, rec := range records[:floodLines] {
		seq := uint64(i + 1)
		_, rest, _ := bytes.Cut(rec, []byte(`"seq":`))
		if got, ok := leadingUint(rest); !ok || got != seq {
			t.Fatalf("logs endpoint: record %d is %s", seq, rec)
		}
		if seq%1000 == 1 && !bytes.HasSuffix(rec, []byte(`"text":"`+floodText(seq)+`"}`)) {
			t.Fatalf("logs endpoint: record %d is %s", seq, rec)
		}
	}
	var cur server.LogLine
	if err := json.Unmarshal(records[floodLines], &cur); err != nil || !cur.IsCursor() || cur.Cursor != floodLines {
		t.Fatalf("logs endpoint: last record %s, want the cursor %d", records[floodLines], floodLines)
	}

	t.Logf("%v: every line on disk", time.Since(t0).Round(time.Millisecond))
	// The server gives up on the stalled client: its side of the
	// connection is closed (after the write timeout, 10 s).
	sc := e.tcp.serverSide(stalled.local.String())
	if sc == nil {
		t.Fatal("no server side for the stalled client's connection")
	}
	select {
	case <-sc.closed:
	case <-ctx.Done():
		t.Fatal("the server never dropped the stalled client")
	}
	// What the stalled client sees when it reads at last: the frames that
	// were in flight, each stream in order (missed notices accounted for),
	// then the end of the connection.
	var stalledNext uint64 = 1
	var got int
	var end error
	var notices []string
	for end == nil {
		_, msg, err := stalled.conn.Read(ctx)
		if err != nil {
			end = err
			break
		}
		for _, b := range bytes.Split(msg, []byte("\n")) {
			if seq, ok := logFrameSeq(b, stream); ok {
				if seq != stalledNext {
					t.Fatalf("stalled client: seq %d, want %d", seq, stalledNext)
				}
				stalledNext++
				got++
				continue
			}
			ctl := decodeControl(t, b)
			notices = append(notices, ctl.Op)
			if ctl.Op == hub.OpMissed {
				if ctl.Stream != stream || ctl.From != stalledNext || ctl.Count != ctl.To-ctl.From+1 {
					t.Fatalf("stalled client: missed notice %s after line %d", b, stalledNext-1)
				}
				stalledNext = ctl.To + 1
			}
		}
	}
	t.Logf("%v: stalled client: %d lines up to seq %d, control frames %v, then %v", time.Since(t0).Round(time.Millisecond), got, stalledNext-1, notices, end)
	if got >= floodLines {
		t.Fatalf("the stalled client got all %d lines: it was not stalled", floodLines)
	}
	// ws.go closes a client that does not read for 10 s with 4008, but the
	// write that timed out was cut mid-message: coder/websocket closes the
	// TCP connection when a write's context ends, so no close frame (and
	// no reason) can follow. The client sees the stream cut short.
	if code := websocket.CloseStatus(end); code != -1 {
		t.Errorf("stalled client: connection ended with %v (close status %d); want it cut without a close frame", end, code)
	}

	// The engine and the other client are unaffected.
	mustOK(t, e.remote("GET", "/v1/ps", e.owner, nil))
	fast.subscribe(100, []string{"topic/after"}, nil)
	for {
		b, err := frames.next(ctx)
		if err != nil {
			t.Fatalf("fast client: no reply to its subscription: %v", err)
		}
		if ctl, ok := parseControl(b); ok && string(ctl.ID) == "100" {
			if ctl.Op != hub.OpSubscribed {
				t.Fatalf("fast client: subscribe topic/after: %s", b)
			}
			break
		}
	}
	mustOK(t, e.local("POST", "/v1/publish", server.PublishRequest{Stream: "topic/after", Payload: json.RawMessage(`"still here"`)}))
	for {
		b, err := frames.next(ctx)
		if err != nil {
			t.Fatalf("fast client: no frame of topic/after: %v", err)
		}
		if bytes.HasPrefix(b, []byte(`{"stream":"topic/after"`)) {
			if string(b) != `{"stream":"topic/after","seq":1,"payload":"still here"}` {
				t.Fatalf("topic/after: %s", b)
			}
			break
		}
	}
}

// logFrameSeq returns the seq of b if it is a frame of the log stream.
func logFrameSeq(b []byte, stream string) (uint64, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"stream":"`+stream+`","seq":`))
	if !ok {
		return 0, false
	}
	return leadingUint(rest)
}

// leadingUint parses the number b starts with, which a comma must follow.
func leadingUint(b []byte) (uint64, bool) {
	var n uint64
	i := 0
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		n = n*10 + uint64(b[i]-'0')
	}
	return n, i > 0 && i < len(b) && b[i] == ','
}

// parseControl decodes b if it is a control frame.
func parseControl(b []byte) (control, bool) {
	var f struct {
		Stream  string          `json:"stream"`
		Payload json.RawMessage `json:"payload"`
	}
	var c control
	if json.Unmarshal(b, &f) != nil || f.Stream != hub.StreamControl || json.Unmarshal(f.Payload, &c) != nil {
		return control{}, false
	}
	return c, true
}

// decodeControl decodes b, which must be a control frame.
func decodeControl(t testing.TB, b []byte) control {
	t.Helper()
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("not a frame: %v: %q", err, b)
	}
	ctl, ok := f.control(t)
	if !ok {
		t.Fatalf("not a control frame: %s", b)
	}
	return ctl
}

// loopCompose's service prints lines as fast as it can while a file
// called flow exists.
const loopCompose = `name: srvtest
services:
  loop:
    command: ["sh", "loop.sh"]
`

var loopFiles = map[string]string{"loop.sh": `i=0
while :; do
	while [ -e flow ]; do i=$((i+1)); echo "loop line $i with some padding to make it longer"; done
	sleep 0.01
done
`}

// Unsubscribing from a log stream, or subscribing to it again (with since:
// how a client resumes after a missed notice), while the server is writing
// that stream's lines must not end the connection; and subscribing again
// without since, like for any stream, changes nothing: no line is skipped
// without a missed notice.
func TestWS_UnsubscribeLogsWhileWriting(t *testing.T) {
	e := newEnv(t, loopCompose, envOptions{files: loopFiles})
	flow := filepath.Join(e.dir, "flow")
	l, err := e.eng.Log("loop")
	if err != nil {
		t.Fatal(err)
	}
	const stream = "service/loop/logs"
	for _, tc := range []struct {
		name string
		req  func(c *wsClient, last uint64)
		op   string
	}{
		{"unsubscribe", func(c *wsClient, _ uint64) {
			c.send(`{"stream":"control","payload":{"op":"unsubscribe","id":2,"streams":["service/loop/logs"]}}`)
		}, hub.OpUnsubscribed},
		{"subscribe again with since", func(c *wsClient, last uint64) {
			c.subscribe(2, []string{stream}, map[string]uint64{stream: last})
		}, hub.OpSubscribed},
		{"subscribe again without since", func(c *wsClient, _ uint64) {
			c.subscribe(2, []string{stream}, nil)
		}, hub.OpSubscribed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := timeout(t, 30*time.Second)
			c, err := e.tryDialTCP(e.owner, http.Header{}, 4096)
			if err != nil {
				t.Fatal(err)
			}
			c.t = t
			data := c.subscribed(ctx, 1, []string{stream}, nil)
			if err := os.WriteFile(flow, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(flow)
			if len(data) == 0 {
				data = append(data, c.mustNext(ctx))
			}
			first := data[0].Seq
			// Stop reading while lines keep coming: the server's write of
			// this stream blocks on the full socket.
			berthtest.Eventually(t, 20*time.Second, "20,000 more lines", func() bool { return l.LastSeq() > first+20000 })
			tc.req(c, first)
			// Until the reply, and for a while after it, the lines that
			// come follow each other, or a missed notice says which did not.
			last, replied := first, false
			for after := 0; after < 3000; {
				if replied {
					after++
				}
				f, err := c.next(ctx)
				if err != nil {
					t.Fatalf("the connection ended (close status %d): %v", websocket.CloseStatus(err), err)
				}
				ctl, ok := f.control(t)
				switch {
				case ok && string(ctl.ID) == "2":
					if ctl.Op != tc.op {
						t.Fatalf("reply %s, want %s", f.Payload, tc.op)
					}
					replied = true
					if tc.op == hub.OpUnsubscribed {
						after = 3000 // lines may stop at any point now
					}
				case ok && ctl.Op == hub.OpMissed:
					if ctl.Stream != stream || ctl.From != last+1 || ctl.To < ctl.From {
						t.Fatalf("missed notice %s after line %d", f.Payload, last)
					}
					last = ctl.To
				case ok:
					t.Fatalf("unexpected control frame %s", f.Payload)
				case f.Seq <= last && tc.name == "subscribe again with since":
					// The resumed subscription replays what followed since,
					// after the frames of the one it replaces.
					if f.Seq != first+1 {
						t.Fatalf("the resumed subscription starts at line %d, want %d", f.Seq, first+1)
					}
					last = f.Seq
				case f.Seq != last+1:
					t.Fatalf("line %d after line %d, without a missed notice", f.Seq, last)
				default:
					last = f.Seq
				}
			}
			c.subscribed(ctx, 3, []string{"topic/alive"}, nil)
			c.close()
		})
	}
}

func TestWS_MalformedFrames(t *testing.T) {
	e := newEnv(t, appCompose, envOptions{files: appFiles})
	ctx := timeout(t, 30*time.Second)
	c := e.dialUnix()
	id := 100
	alive := func() {
		t.Helper()
		id++
		c.subscribed(ctx, id, []string{"topic/ok"}, nil)
	}
	for _, tc := range []struct {
		name    string
		text    string
		binary  bool
		id      string // the id the error echoes ("" for none)
		field   string
		message string
	}{
		{name: "not JSON", text: `subscribe me`, field: "", message: "invalid JSON"},
		{name: "truncated JSON", text: `{"stream":"control","payload":{"op":"subscribe"`, field: "", message: "unexpected end"},
		{name: "a list", text: `["events"]`, field: "", message: "must be a JSON object"},
		{name: "unknown op", text: `{"stream":"control","payload":{"op":"publish","id":1,"streams":["events"]}}`, id: "1", field: "op", message: `unknown op "publish"`},
		{name: "missing op", text: `{"stream":"control","payload":{"streams":["events"]}}`, field: "op", message: "missing"},
		{name: "bad stream name", text: `{"stream":"control","payload":{"op":"subscribe","streams":["events","service/app"]}}`, field: "streams[1]", message: "want service/<name>/status or service/<name>/logs"},
		{name: "unknown stream", text: `{"stream":"control","payload":{"op":"subscribe","streams":["stdout"]}}`, field: "streams[0]", message: "unknown stream"},
		{name: "unknown stream with an id", text: `{"stream":"control","payload":{"streams":["stdout"],"op":"subscribe","id":"r9"}}`, id: `"r9"`, field: "streams[0]", message: "unknown stream"},
		{name: "control stream", text: `{"stream":"control","payload":{"op":"subscribe","streams":["control"]}}`, field: "streams[0]", message: "not a data stream"},
		{name: "unknown service logs", text: `{"stream":"control","payload":{"op":"subscribe","id":7,"streams":["events","service/nope/logs"]}}`, id: "7", field: "streams[1]", message: `no such service: "nope"`},
		{name: "unknown service status", text: `{"stream":"control","payload":{"op":"subscribe","id":"s","streams":["service/nope/status"]}}`, id: `"s"`, field: "streams[0]", message: `no such service: "nope"`},
		{name: "unknown job", text: `{"stream":"control","payload":{"op":"subscribe","id":8,"streams":["job/4242"]}}`, id: "8", field: "streams[0]", message: "no such job: 4242"},
		{name: "since of another stream", text: `{"stream":"control","payload":{"op":"subscribe","streams":["events"],"since":{"topic/x":3}}}`, field: `since["topic/x"]`, message: "is not one of streams"},
		{name: "negative since", text: `{"stream":"control","payload":{"op":"subscribe","streams":["events"],"since":{"events":-1}}}`, field: `since["events"]`, message: "must be a sequence number"},
		{name: "data stream envelope", text: `{"stream":"events","payload":{"op":"subscribe","streams":["events"]}}`, field: "stream", message: "clients send requests on \"control\""},
		{name: "seq from a client", text: `{"stream":"control","seq":3,"payload":{"op":"subscribe","streams":["events"]}}`, field: "seq", message: "not allowed"},
		{name: "unknown member", text: `{"stream":"control","payload":{"op":"subscribe","streams":["events"],"tail":10}}`, field: "tail", message: "unknown member"},
		{name: "binary message", text: `{"stream":"control","payload":{"op":"subscribe","streams":["events"]}}`, binary: true, field: "", message: "frames are JSON text messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			typ := websocket.MessageText
			if tc.binary {
				typ = websocket.MessageBinary
			}
			if err := c.conn.Write(ctx, typ, []byte(tc.text)); err != nil {
				t.Fatal(err)
			}
			f := c.mustNext(ctx)
			ctl, ok := f.control(t)
			if !ok || ctl.Op != hub.OpError {
				t.Fatalf("got %s %s, want an error reply", f.Stream, f.Payload)
			}
			field := ""
			if ctl.Field != nil {
				field = *ctl.Field
			}
			if ctl.Code != hub.CodeBadFrame || field != tc.field || string(ctl.ID) != tc.id || !strings.Contains(ctl.Message, tc.message) {
				t.Errorf("reply %s; want code %q, field %q, id %q, a message with %q", f.Payload, hub.CodeBadFrame, tc.field, tc.id, tc.message)
			}
			alive()
		})
	}

	t.Run("flat form", func(t *testing.T) {
		c.t = t
		c.send(`{"stream":"control","op":"subscribe","id":9,"streams":["topic/flat"]}`)
		if ctl, _ := c.reply(ctx, 9); ctl.Op != hub.OpSubscribed {
			t.Fatalf("flat subscribe: %+v", ctl)
		}
	})

	t.Run("still delivers", func(t *testing.T) {
		c.t = t
		mustOK(t, e.local("POST", "/v1/publish", server.PublishRequest{Stream: "topic/ok", Payload: json.RawMessage(`{"fine":true}`)}))
		f := c.mustNext(ctx)
		if f.Stream != "topic/ok" || f.Seq != 1 || string(f.Payload) != `{"fine":true}` {
			t.Fatalf("got %s seq %d %s", f.Stream, f.Seq, f.Payload)
		}
	})

	t.Run("oversize frame closes with 1009", func(t *testing.T) {
		c.t = t
		big := e.dialUnix()
		big.t = t
		pad := strings.Repeat("x", 128<<10)
		if err := big.conn.Write(ctx, websocket.MessageText, []byte(`{"stream":"control","payload":{"op":"subscribe","id":"`+pad+`","streams":["events"]}}`)); err != nil {
			t.Fatal(err)
		}
		_, err := big.next(ctx)
		if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
			t.Fatalf("after an oversize frame: %v (close status %d), want close status 1009", err, code)
		}
		// The engine and other connections are unaffected.
		alive()
		mustOK(t, e.local("GET", "/v1/ps", nil))
	})
}

// Hub frames (a topic) to a client that does not read: the write that
// waits for it must not hold up the writers of the other clients (hub
// frames are written by a few shared workers, see wsFlusher), and the
// client is dropped after the write timeout.
func TestWS_StalledTopicClient(t *testing.T) {
	e := newEnv(t, burstCompose, envOptions{files: burstFiles})
	ctx := timeout(t, 90*time.Second)
	const stream, frames = "topic/fan", 400
	stalled, err := e.tryDialTCP(e.owner, http.Header{}, 4096)
	if err != nil {
		t.Fatal(err)
	}
	// since 0: from the stream's first frame, however late the server
	// reads the request.
	stalled.subscribe(1, []string{stream}, map[string]uint64{stream: 0})
	var fast []*wsClient
	var pumps []*framePump
	for range 3 {
		c := e.dialTCP(e.owner)
		c.subscribed(ctx, 1, []string{stream}, map[string]uint64{stream: 0})
		fast = append(fast, c)
		pumps = append(pumps, c.pump(t))
	}
	// 400 frames of 32 KiB: more than the stalled client's socket buffers.
	pad := strings.Repeat("x", 32<<10)
	for i := 1; i <= frames; i++ {
		mustOK(t, e.local("POST", "/v1/publish", server.PublishRequest{Stream: stream, Payload: json.RawMessage(`"` + pad + `"`)}))
	}
	for i, p := range pumps {
		for want := uint64(1); want <= frames; want++ {
			b, err := p.next(ctx)
			if err != nil {
				t.Fatalf("fast client %d: has frames up to %d of %d: %v", i, want-1, frames, err)
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil || f.Stream != stream || f.Seq != want {
				t.Fatalf("fast client %d: frame %.80s, want %s seq %d", i, b, stream, want)
			}
		}
	}
	sc := e.tcp.serverSide(stalled.local.String())
	if sc == nil {
		t.Fatal("no server side for the stalled client's connection")
	}
	select {
	case <-sc.closed:
	case <-ctx.Done():
		t.Fatal("the server never dropped the stalled client")
	}
	// The others still get new frames.
	mustOK(t, e.local("POST", "/v1/publish", server.PublishRequest{Stream: stream, Payload: json.RawMessage(`"after"`)}))
	for i, p := range pumps {
		b, err := p.next(ctx)
		if err != nil || string(b) != `{"stream":"topic/fan","seq":401,"payload":"after"}` {
			t.Fatalf("fast client %d after the drop: %s, %v", i, b, err)
		}
	}
}
