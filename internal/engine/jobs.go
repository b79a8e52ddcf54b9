package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/supervise"
)

// JobRequest asks the engine to run a one-off command as a job.
type JobRequest struct {
	// Kind is store.KindRun (a one-off in the service's configuration, its
	// dependencies started first) or store.KindExec (in a running service).
	Kind    string   `json:"kind"`
	Service string   `json:"service"`
	Command []string `json:"command,omitempty"` // empty: the service's own command (run only)
	Env     []string `json:"env,omitempty"`     // extra KEY=VALUE
	WorkDir string   `json:"workdir,omitempty"`
	NoDeps  bool     `json:"no_deps,omitempty"`
	// Watchers are users (token names) told when the job ends, besides the launcher.
	Watchers []string `json:"watchers,omitempty"`
	// TTY runs the command on a terminal that clients attach to
	// (AttachJob): an interactive exec.
	TTY bool `json:"tty,omitempty"`
	// LaunchedBy is set by the server from the request's user.
	LaunchedBy string `json:"-"`
}

// JobOutput is the payload of an output frame on job/<id>, and one line of
// the job's output file.
type JobOutput struct {
	Type   string    `json:"type"` // "output"
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Text   string    `json:"text"`
}

// JobEnd is the payload of the last frame on job/<id>.
type JobEnd struct {
	Type     string          `json:"type"` // "end"
	Status   store.JobStatus `json:"status"`
	ExitCode *int            `json:"exit_code"`
	Error    string          `json:"error,omitempty"`
}

// JobNotification is the payload of a notification that a job ended.
type JobNotification struct {
	Type       string          `json:"type"` // "job_ended"
	Job        int64           `json:"job"`
	Service    string          `json:"service"`
	Command    []string        `json:"command"`
	Status     store.JobStatus `json:"status"`
	ExitCode   *int            `json:"exit_code"`
	LaunchedBy string          `json:"launched_by"`
}

// jobRun is a job in progress; the engine keeps it until it ends.
type jobRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	term   *terminal     // set before the job's process starts output; nil without TTY
	ready  chan struct{} // closed once the process started (or failed to)
}

// Store returns the engine's job store.
func (e *Engine) Store() *store.Store { return e.store }

// StartJob records a job and starts it; the job runs in the background and
// its output and end are published on job/<id>.
func (e *Engine) StartJob(ctx context.Context, req JobRequest) (store.Job, error) {
	e.mu.Lock()
	if e.shutdown {
		e.mu.Unlock()
		return store.Job{}, ErrClosed
	}
	p := e.project
	s, running := e.services[req.Service]
	var proc *supervise.Process
	if running {
		for _, r := range s.replicas {
			if r.proc != nil {
				proc = r.proc
				break
			}
		}
	}
	e.mu.Unlock()
	if p == nil {
		return store.Job{}, fmt.Errorf("%w: no project is up", ErrNotRunning)
	}
	spec, ok := p.Service(req.Service)
	if !ok {
		return store.Job{}, &UnknownServiceError{Name: req.Service, Known: p.ServiceNames()}
	}
	switch req.Kind {
	case store.KindExec:
		if len(req.Command) == 0 {
			return store.Job{}, errors.New("exec: a command is required")
		}
		if proc == nil {
			return store.Job{}, fmt.Errorf("exec in service %q: %w: it has no running replica (start it with `berth start %s`)", req.Service, ErrNotRunning, req.Service)
		}
	case store.KindRun:
		if len(req.Command) == 0 {
			req.Command = spec.Argv
		}
		if len(req.Command) == 0 {
			return store.Job{}, fmt.Errorf("run service %q: it has no command; give one: berth run %s CMD", req.Service, req.Service)
		}
	default:
		return store.Job{}, fmt.Errorf("job kind %q: want run or exec", req.Kind)
	}
	if req.Kind == store.KindRun && !req.NoDeps && len(spec.DependsOn) > 0 {
		var deps []string
		for d := range spec.DependsOn {
			deps = append(deps, d)
		}
		if _, err := e.Up(ctx, UpRequest{Project: p, Services: deps}); err != nil {
			return store.Job{}, fmt.Errorf("run %q: start its dependencies: %w", req.Service, err)
		}
	}
	job, err := e.store.CreateJob(ctx, store.Job{Service: req.Service, Command: req.Command, Kind: req.Kind, LaunchedBy: req.LaunchedBy, Watchers: req.Watchers})
	if err != nil {
		return store.Job{}, err
	}
	e.mu.Lock()
	env := mergeEnv(e.baseEnv, spec.Environment)
	if s != nil {
		env = append([]string(nil), s.env...)
	}
	e.mu.Unlock()
	env = mergeEnv(env, append([]string{"BERTH_JOB=" + strconv.FormatInt(job.ID, 10)}, req.Env...))
	dir := spec.WorkingDir
	if req.WorkDir != "" {
		dir = req.WorkDir
	}
	jctx, cancel := context.WithCancel(e.ctx)
	run := &jobRun{cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	e.mu.Lock()
	e.jobs[job.ID] = run
	e.mu.Unlock()
	e.loops.Add(1)
	go func() {
		defer e.loops.Done()
		defer close(run.done)
		defer cancel()
		e.runJob(jctx, job, run, supervise.Spec{Name: "job-" + strconv.FormatInt(job.ID, 10), Argv: req.Command, Dir: dir, Env: env, StopGrace: spec.StopGracePeriod, TTY: req.TTY})
		e.mu.Lock()
		delete(e.jobs, job.ID)
		e.mu.Unlock()
	}()
	// Return once the process runs, so that a client can attach at once.
	select {
	case <-run.ready:
	case <-ctx.Done():
	}
	return job, nil
}

// runJob runs a job's process to its end, recording output and status, then
// notifies the launcher and watchers.
func (e *Engine) runJob(ctx context.Context, job store.Job, run *jobRun, spec supervise.Spec) {
	readyOnce := sync.OnceFunc(func() { close(run.ready) })
	defer readyOnce()
	stream := hub.Job(strconv.FormatInt(job.ID, 10))
	status, exitCode, errMsg := store.StatusFailed, (*int)(nil), ""
	defer func() {
		end := JobEnd{Type: "end", Status: status, ExitCode: exitCode, Error: errMsg}
		if err := e.store.FinishJob(context.Background(), job.ID, status, exitCode, errMsg, time.Now()); err != nil {
			e.log.Warn("finish job", "job", job.ID, keyErr, err)
		}
		if _, err := e.opts.Hub.Publish(stream, end); err != nil {
			e.log.Debug("publish job end", "job", job.ID, keyErr, err)
		}
		e.notifyJobEnd(job, end)
	}()
	out, err := e.store.OpenJobOutput(job.ID)
	if err != nil {
		errMsg = err.Error()
		return
	}
	defer out.Close()
	proc, err := supervise.Start(spec)
	if err != nil {
		errMsg = err.Error()
		e.jobLine(stream, out, "stderr", "berth: "+err.Error())
		return
	}
	var term *terminal
	if proc.TTY() {
		term = newTerminal(proc)
		e.mu.Lock()
		run.term = term
		e.mu.Unlock()
	}
	readyOnce()
	if e.reaper != nil {
		_ = e.reaper.Track(proc.Pgid())
		defer func() { _ = e.reaper.Untrack(proc.Pgid()) }()
	}
	if err := e.store.StartJob(context.Background(), job.ID, time.Now()); err != nil {
		e.log.Warn("start job", "job", job.ID, keyErr, err)
	}
	var wg sync.WaitGroup
	var outMu sync.Mutex // serialises lines into the output file and stream
	copyLines := func(name string, f *os.File, r io.Reader) {
		defer wg.Done()
		defer f.Close()
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, err := br.ReadString('\n')
			if len(line) > 0 {
				outMu.Lock()
				e.jobLine(stream, out, name, strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"))
				outMu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}
	if term != nil {
		wg.Add(1)
		go func() {
			defer proc.Stdin.Close()
			defer term.end()
			copyLines("stdout", proc.Stdout, term.tee(supervise.TTYReader{F: proc.Stdout}))
		}()
	} else {
		wg.Add(2)
		go copyLines("stdout", proc.Stdout, proc.Stdout)
		go copyLines("stderr", proc.Stderr, proc.Stderr)
	}
	cancelled := false
	select {
	case <-proc.Done():
	case <-ctx.Done():
		cancelled = true
		_ = proc.Stop(context.Background())
	}
	wg.Wait()
	code := exitCodeOf(proc.Err())
	exitCode = &code
	switch {
	case cancelled:
		status = store.StatusCancelled
	case code == 0:
		status = store.StatusSucceeded
	default:
		status = store.StatusFailed
	}
}

// jobLine records one output line of a job: in its file and on its stream.
func (e *Engine) jobLine(stream string, out io.Writer, name, text string) {
	o := JobOutput{Type: "output", Stream: name, Time: time.Now().UTC(), Text: text}
	b, _ := json.Marshal(o)
	_, _ = out.Write(append(b, '\n'))
	if _, err := e.opts.Hub.Publish(stream, json.RawMessage(b)); err != nil {
		e.log.Debug("publish job output", keyErr, err)
	}
}

// notifyJobEnd stores a notification for the launcher and every watcher,
// then wakes the connections that deliver them.
func (e *Engine) notifyJobEnd(job store.Job, end JobEnd) {
	cur, err := e.store.Job(context.Background(), job.ID)
	if err == nil {
		job = cur
	}
	payload, _ := json.Marshal(JobNotification{Type: "job_ended", Job: job.ID, Service: job.Service, Command: job.Command, Status: end.Status, ExitCode: end.ExitCode, LaunchedBy: job.LaunchedBy})
	users := map[string]bool{}
	if job.LaunchedBy != "" {
		users[job.LaunchedBy] = true
	}
	for _, w := range job.Watchers {
		users[w] = true
	}
	for u := range users {
		if _, err := e.store.Notify(context.Background(), u, job.ID, payload); err != nil {
			e.log.Warn("store notification", "user", u, keyErr, err)
		}
	}
	e.mu.Lock()
	close(e.notified)
	e.notified = make(chan struct{})
	e.mu.Unlock()
}

// Notified returns a channel closed when the next notification is stored.
func (e *Engine) Notified() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.notified
}

// CancelJob stops a running job; it ends as cancelled.
func (e *Engine) CancelJob(ctx context.Context, id int64) error {
	e.mu.Lock()
	run, ok := e.jobs[id]
	e.mu.Unlock()
	if !ok {
		j, err := e.store.Job(ctx, id)
		if err != nil {
			return err
		}
		return fmt.Errorf("cancel job %d: %w: it already ended (%s)", id, ErrNotRunning, j.Status)
	}
	run.cancel()
	select {
	case <-run.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ReadJobOutput calls fn for each recorded output line of job id.
func (e *Engine) ReadJobOutput(id int64, fn func(JobOutput) error) error {
	f, err := os.Open(e.store.JobOutputPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var o JobOutput
		if json.Unmarshal(sc.Bytes(), &o) != nil {
			continue
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return sc.Err()
}
