package engine

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/berth-dev/berth/internal/supervise"
)

// ErrNoTTY is returned when attaching to a service that does not run on a
// terminal.
var ErrNoTTY = errors.New("not on a terminal")

// terminal fans a replica's raw terminal output out to attached clients.
// A slow client loses output rather than slowing the service.
type terminal struct {
	proc *supervise.Process

	mu      sync.Mutex // guards clients and backlog
	clients map[*Attachment]struct{}
	// backlog is the latest output, replayed to a client when it attaches
	// (so it sees the prompt it is attaching to).
	backlog []byte
}

// backlogSize bounds the output replayed on attach.
const backlogSize = 16 << 10

func newTerminal(proc *supervise.Process) *terminal {
	return &terminal{proc: proc, clients: map[*Attachment]struct{}{}}
}

// Attachment is one client attached to a replica's terminal. Output delivers
// raw terminal bytes until the process ends or Close; Write types into the
// terminal.
type Attachment struct {
	t   *terminal
	out chan []byte // closed under t.mu, by Close or end
}

// Output returns the channel of terminal output; it is closed when the
// replica's process ends or the attachment is closed.
func (a *Attachment) Output() <-chan []byte { return a.out }

// Write types p into the terminal.
func (a *Attachment) Write(p []byte) (int, error) { return a.t.proc.Stdin.Write(p) }

// Resize sets the terminal's size.
func (a *Attachment) Resize(cols, rows int) error { return a.t.proc.Resize(cols, rows) }

// Close detaches; the service goes on.
func (a *Attachment) Close() {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	if _, ok := a.t.clients[a]; ok {
		delete(a.t.clients, a)
		close(a.out)
	}
}

// tee is the reader the log capture reads: every chunk of terminal output
// also goes to the attached clients.
func (t *terminal) tee(r io.Reader) io.Reader { return teeReader{r: r, t: t} }

type teeReader struct {
	r io.Reader
	t *terminal
}

func (tr teeReader) Read(b []byte) (int, error) {
	n, err := tr.r.Read(b)
	if n > 0 {
		tr.t.broadcast(append([]byte(nil), b[:n]...))
	}
	return n, err
}

func (t *terminal) broadcast(chunk []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.backlog = append(t.backlog, chunk...)
	if len(t.backlog) > backlogSize {
		t.backlog = append([]byte(nil), t.backlog[len(t.backlog)-backlogSize:]...)
	}
	for a := range t.clients {
		select {
		case a.out <- chunk:
		default: // too slow: it misses this chunk
		}
	}
}

// end closes every attachment (the process is gone).
func (t *terminal) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for a := range t.clients {
		delete(t.clients, a)
		close(a.out)
	}
}

// Attach connects to the terminal of a running replica (1-based; 0 means
// the first running one) of a service started with tty or stdin_open.
func (e *Engine) Attach(service string, index int) (*Attachment, error) {
	e.mu.Lock()
	s, ok := e.services[service]
	if !ok {
		e.mu.Unlock()
		return nil, &UnknownServiceError{Name: service, Known: e.serviceNamesLocked()}
	}
	var t *terminal
	running := false
	for _, r := range s.replicas {
		if index != 0 && r.index != index {
			continue
		}
		if r.proc != nil {
			running = true
			t = r.term
			break
		}
	}
	e.mu.Unlock()
	switch {
	case !running:
		return nil, fmt.Errorf("attach to %q: %w: it has no running replica (start it with `berth start %s`)", service, ErrNotRunning, service)
	case t == nil:
		return nil, fmt.Errorf("attach to %q: %w: the service was not started on a terminal; add `tty: true` or `stdin_open: true` to it in compose.yaml", service, ErrNoTTY)
	}
	return t.attach(), nil
}

// attach adds a client, with the backlog as its first output.
func (t *terminal) attach() *Attachment {
	a := &Attachment{t: t, out: make(chan []byte, 256)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.backlog) > 0 {
		a.out <- append([]byte(nil), t.backlog...)
	}
	t.clients[a] = struct{}{}
	return a
}

// AttachJob connects to the terminal of a running job started with TTY.
func (e *Engine) AttachJob(id int64) (*Attachment, error) {
	e.mu.Lock()
	run, ok := e.jobs[id]
	e.mu.Unlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("attach to job %d: %w (it ended, or never ran here)", id, ErrNotRunning)
	case run.term == nil:
		return nil, fmt.Errorf("attach to job %d: %w: it was not started with a terminal", id, ErrNoTTY)
	}
	return run.term.attach(), nil
}
