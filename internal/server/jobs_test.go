package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/store"
)

// gated returns a job command that waits for the file gate, then runs
// script, and a function that opens the gate.
func gated(t testing.TB, script string) (cmd []string, open func()) {
	t.Helper()
	gate := filepath.Join(t.TempDir(), "gate")
	cmd = []string{"sh", "-c", fmt.Sprintf("while [ ! -e %s ]; do sleep 0.01; done; %s", gate, script)}
	return cmd, func() {
		t.Helper()
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// waitJob waits until job id is in status and returns it.
func waitJob(t testing.TB, e *testEnv, id int64, status store.JobStatus) store.Job {
	t.Helper()
	var j store.Job
	berthtest.Eventually(t, 20*time.Second, fmt.Sprintf("job %d to be %s", id, status), func() bool {
		var err error
		j, err = e.eng.Store().Job(context.Background(), id)
		return err == nil && j.Status == status
	})
	return j
}

// jobFrames reads a job's stream up to its end frame, checking that the
// seqs run 1, 2, 3, …; it returns the output lines ("stdout: text") and the end.
func jobFrames(t testing.TB, ctx context.Context, c *wsClient, stream string, first []frame) ([]string, engine.JobEnd) {
	t.Helper()
	var out []string
	var seq uint64
	pending := first
	for {
		var f frame
		if len(pending) > 0 {
			f, pending = pending[0], pending[1:]
		} else {
			f = c.mustNext(ctx)
		}
		if f.Stream != stream {
			t.Fatalf("unexpected frame %s %s", f.Stream, f.Payload)
		}
		if f.Seq != seq+1 {
			t.Fatalf("%s: seq %d after %d", stream, f.Seq, seq)
		}
		seq = f.Seq
		var p struct {
			engine.JobOutput
			Status   store.JobStatus `json:"status"`
			ExitCode *int            `json:"exit_code"`
			Error    string          `json:"error"`
		}
		if err := json.Unmarshal(f.Payload, &p); err != nil {
			t.Fatalf("%s: payload %s: %v", stream, f.Payload, err)
		}
		switch p.Type {
		case "output":
			out = append(out, p.Stream+": "+p.Text)
		case "end":
			return out, engine.JobEnd{Type: p.Type, Status: p.Status, ExitCode: p.ExitCode, Error: p.Error}
		default:
			t.Fatalf("%s: payload of type %q: %s", stream, p.Type, f.Payload)
		}
	}
}

func TestJobs_TwoUsersWatchOneJob(t *testing.T) {
	e := newEnv(t, appCompose, envOptions{files: appFiles})
	ctx := timeout(t, 30*time.Second)
	bob, err := e.eng.Store().CreateToken(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	cmd, open := gated(t, `i=1; while [ $i -le 20 ]; do echo "out $i"; i=$((i+1)); sleep 0.01; done; echo oops >&2; exit 3`)
	job, err := e.eng.StartJob(ctx, engine.JobRequest{Kind: store.KindRun, Service: "app", Command: cmd, LaunchedBy: server.OwnerUser})
	if err != nil {
		t.Fatal(err)
	}
	stream := hub.Job(strconv.FormatInt(job.ID, 10))

	// The launcher over the Unix socket, bob over TCP, both from the
	// job's first frame (since 0).
	owner := e.dialUnix()
	ownerFirst := owner.subscribed(ctx, 1, []string{stream}, map[string]uint64{stream: 0})
	watcher := e.dialTCP(bob)
	bobFirst := watcher.subscribed(ctx, 1, []string{stream}, map[string]uint64{stream: 0})
	j, err := e.eng.Store().Job(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(j.Watchers, []string{"bob"}) || j.LaunchedBy != server.OwnerUser {
		t.Fatalf("job launched by %q with watchers %v; want owner, and bob a watcher", j.LaunchedBy, j.Watchers)
	}
	open()

	var want []string
	for i := 1; i <= 20; i++ {
		want = append(want, fmt.Sprintf("stdout: out %d", i))
	}
	for _, c := range []struct {
		who   string
		c     *wsClient
		first []frame
	}{{"owner", owner, ownerFirst}, {"bob", watcher, bobFirst}} {
		out, end := jobFrames(t, ctx, c.c, stream, c.first)
		stdout := slices.DeleteFunc(slices.Clone(out), func(s string) bool { return s == "stderr: oops" })
		if !slices.Equal(stdout, want) || len(out) != 21 {
			t.Errorf("%s got output %q; want out 1…20 and stderr: oops", c.who, out)
		}
		if end.Status != store.StatusFailed || end.ExitCode == nil || *end.ExitCode != 3 {
			t.Errorf("%s got end %+v; want failed with exit code 3", c.who, end)
		}
	}

	// Both are told the job ended: the launcher and the watcher.
	for _, c := range []struct {
		who string
		c   *wsClient
	}{{"owner", owner}, {"bob", watcher}} {
		c.c.subscribe(2, []string{"notifications"}, nil)
		fs := c.c.until(ctx, func(f frame) bool { return f.Stream == "notifications" })
		n := notification(t, fs[len(fs)-1])
		if n.Job != job.ID || n.Status != store.StatusFailed || n.ExitCode == nil || *n.ExitCode != 3 || n.LaunchedBy != server.OwnerUser {
			t.Errorf("%s: notification %+v", c.who, n)
		}
	}

	// Someone who subscribes after the end gets the whole job replayed
	// (while it is in the hub's tail) and does not become a watcher.
	carol, err := e.eng.Store().CreateToken(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	late := e.dialTCP(carol)
	first := late.subscribed(ctx, 1, []string{stream}, map[string]uint64{stream: 0})
	if out, end := jobFrames(t, ctx, late, stream, first); len(out) != 21 || end.Status != store.StatusFailed {
		t.Errorf("late subscriber: %d lines, end %+v", len(out), end)
	}
	if j, _ := e.eng.Store().Job(ctx, job.ID); !slices.Equal(j.Watchers, []string{"bob"}) {
		t.Errorf("watchers %v after a late subscriber, want [bob]", j.Watchers)
	}

	// The output is on disk too.
	r := mustOK(t, e.remote("GET", "/v1/jobs/"+strconv.FormatInt(job.ID, 10)+"/output", bob, nil))
	if n := bytes.Count(r.body, []byte("\n")); n != 21 {
		t.Errorf("GET output: %d lines, want 21:\n%s", n, r.body)
	}
}

func notification(t testing.TB, f frame) engine.JobNotification {
	t.Helper()
	var n engine.JobNotification
	if err := json.Unmarshal(f.Payload, &n); err != nil || n.Type != "job_ended" {
		t.Fatalf("notification %s: want a job_ended payload", f.Payload)
	}
	return n
}

func TestNotifications_DeliveredOnceWhenBack(t *testing.T) {
	e := newEnv(t, appCompose, envOptions{files: appFiles})
	ctx := timeout(t, 40*time.Second)
	alice, err := e.eng.Store().CreateToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e.eng.Store().CreateToken(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	// launch starts a gated job as alice over TCP.
	launch := func(script string) (store.Job, func()) {
		t.Helper()
		cmd, open := gated(t, script)
		r := mustOK(t, e.remote("POST", "/v1/jobs", alice, engine.JobRequest{Kind: store.KindRun, Service: "app", Command: cmd}))
		var j store.Job
		if err := json.Unmarshal(r.body, &j); err != nil {
			t.Fatal(err)
		}
		if j.LaunchedBy != "alice" || j.Status != store.StatusQueued {
			t.Fatalf("POST /v1/jobs: %s", r.body)
		}
		return j, open
	}
	// next reads c's frames up to the next notification.
	next := func(c *wsClient) (uint64, engine.JobNotification) {
		t.Helper()
		fs := c.until(ctx, func(f frame) bool { return f.Stream == hub.StreamNotifications })
		f := fs[len(fs)-1]
		return f.Seq, notification(t, f)
	}

	// Alice launches job A and watches it, then goes away.
	a, openA := launch("echo a; exit 0")
	c := e.dialTCP(alice)
	c.subscribed(ctx, 1, []string{"job/" + strconv.FormatInt(a.ID, 10)}, nil)
	c.close()
	// Bob watches the owner's job W over HTTP, and is offline.
	wcmd, openW := gated(t, "exit 5")
	w, err := e.eng.StartJob(ctx, engine.JobRequest{Kind: store.KindRun, Service: "app", Command: wcmd, LaunchedBy: server.OwnerUser})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, e.remote("POST", "/v1/jobs/"+strconv.FormatInt(w.ID, 10)+"/watch", bob, nil))
	openA()
	openW()
	waitJob(t, e, a.ID, store.StatusSucceeded)
	waitJob(t, e, w.ID, store.StatusFailed)

	// Alice comes back: job A's notification, once.
	c = e.dialTCP(alice)
	c.subscribe(1, []string{hub.StreamNotifications}, nil)
	seq, n := next(c)
	if seq != 1 || n.Job != a.ID || n.Status != store.StatusSucceeded || n.ExitCode == nil || *n.ExitCode != 0 ||
		n.LaunchedBy != "alice" || n.Service != "app" || len(n.Command) != 3 {
		t.Fatalf("first notification: seq %d %+v; want job %d succeeded, launched by alice", seq, n, a.ID)
	}
	// The next one on this connection is job B's, not A's again.
	b, openB := launch("exit 0")
	openB()
	if seq, n := next(c); seq != 2 || n.Job != b.ID {
		t.Fatalf("second notification: seq %d %+v; want job %d", seq, n, b.ID)
	}
	c.close()

	// Connecting again: nothing old, only what is new (job C).
	c = e.dialTCP(alice)
	c.subscribed(ctx, 1, []string{hub.StreamNotifications}, nil)
	cj, openC := launch("exit 0")
	openC()
	if seq, n := next(c); n.Job != cj.ID {
		t.Fatalf("after reconnecting: notification seq %d %+v; want only job %d's", seq, n, cj.ID)
	}
	c.close()

	// Bob, a watcher, is told of W when he connects; alice is not.
	bc := e.dialTCP(bob)
	bc.subscribe(1, []string{hub.StreamNotifications}, nil)
	if _, n := next(bc); n.Job != w.ID || n.Status != store.StatusFailed || *n.ExitCode != 5 || n.LaunchedBy != server.OwnerUser {
		t.Fatalf("bob's notification %+v; want job %d failed with 5", n, w.ID)
	}
	// Delivered means marked so, right after the write.
	berthtest.Eventually(t, 10*time.Second, "alice's notifications to be marked delivered", func() bool {
		pending, err := e.eng.Store().Pending(ctx, "alice")
		return err == nil && len(pending) == 0
	})
}

func TestJobs_HistoryAcrossEngineRestart(t *testing.T) {
	e := newEnv(t, appCompose, envOptions{files: appFiles})
	ctx := timeout(t, 40*time.Second)

	done, err := e.eng.StartJob(ctx, engine.JobRequest{Kind: store.KindRun, Service: "app", Command: []string{"sh", "-c", "echo done; exit 7"}, LaunchedBy: server.OwnerUser})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, e, done.ID, store.StatusFailed)
	running, err := e.eng.StartJob(ctx, engine.JobRequest{Kind: store.KindRun, Service: "app", Command: []string{"sh", "-c", "exec sleep 300"}, LaunchedBy: server.OwnerUser})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, e, running.ID, store.StatusRunning)
	// A job recorded as running that no berth runs any more: what a berth
	// killed with SIGKILL leaves behind.
	orphan, err := e.eng.Store().CreateJob(ctx, store.Job{Service: "app", Command: []string{"true"}, Kind: store.KindAPI, LaunchedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Store().StartJob(ctx, orphan.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}

	e.shutdown()
	e2 := newEnv(t, "", envOptions{dir: e.dir, stateDir: e.stateDir, noUp: true})

	var jobs []store.Job
	if err := json.Unmarshal(mustOK(t, e2.local("GET", "/v1/jobs", nil)).body, &jobs); err != nil {
		t.Fatal(err)
	}
	var tcpJobs []store.Job
	if err := json.Unmarshal(mustOK(t, e2.remote("GET", "/v1/jobs?limit=10", e2.owner, nil)).body, &tcpJobs); err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 || len(tcpJobs) != 3 {
		t.Fatalf("GET /v1/jobs: %d jobs over the socket, %d over TCP; want 3", len(jobs), len(tcpJobs))
	}
	code := func(c *int) string {
		if c == nil {
			return "none"
		}
		return strconv.Itoa(*c)
	}
	for i, want := range []struct {
		id     int64
		status store.JobStatus
		code   string
		err    string
	}{
		{orphan.ID, store.StatusFailed, "none", store.RecoveredJobError}, // newest first
		{running.ID, store.StatusCancelled, "143", ""},                   // SIGTERM at shutdown
		{done.ID, store.StatusFailed, "7", ""},
	} {
		j := jobs[i]
		if j.ID != want.id || j.Status != want.status || code(j.ExitCode) != want.code || j.Error != want.err || j.EndedAt.IsZero() {
			t.Errorf("job %d: id %d, %s, exit code %s, error %q, ended %v; want id %d, %s, exit code %s, error %q",
				i, j.ID, j.Status, code(j.ExitCode), j.Error, j.EndedAt, want.id, want.status, want.code, want.err)
		}
		if tcpJobs[i].ID != j.ID || tcpJobs[i].Status != j.Status {
			t.Errorf("job %d over TCP: %+v, over the socket %+v", i, tcpJobs[i], j)
		}
	}

	// The output of the finished job is still there.
	r := mustOK(t, e2.local("GET", "/v1/jobs/"+strconv.FormatInt(done.ID, 10)+"/output", nil))
	var out engine.JobOutput
	if err := json.Unmarshal(bytes.TrimSpace(r.body), &out); err != nil || out.Text != "done" || out.Stream != "stdout" {
		t.Errorf("GET output: %s", r.body)
	}
	// Errors of the jobs API.
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/jobs/999", http.StatusNotFound, server.CodeNotFound},
		{"/v1/jobs/x", http.StatusBadRequest, server.CodeBadRequest},
		{"/v1/jobs?limit=x", http.StatusBadRequest, server.CodeBadRequest},
		{"/v1/jobs/999/output", http.StatusNotFound, server.CodeNotFound},
	} {
		if r := e2.local("GET", tc.path, nil); r.status != tc.status || r.err.Code != tc.code {
			t.Errorf("GET %s: %d %s; want %d %s", tc.path, r.status, r.body, tc.status, tc.code)
		}
	}
	if r := e2.local("POST", "/v1/jobs/"+strconv.FormatInt(done.ID, 10)+"/cancel", nil); r.status != http.StatusConflict || r.err.Code != server.CodeNotRunning {
		t.Errorf("cancel an ended job: %d %s; want 409 %s", r.status, r.body, server.CodeNotRunning)
	}
}
