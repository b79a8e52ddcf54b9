package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/store"
)

// StartJob starts a one-off (run) or a command in a running service (exec).
func (c *Client) StartJob(ctx context.Context, req engine.JobRequest) (store.Job, error) {
	var j store.Job
	err := c.do(ctx, http.MethodPost, "/v1/jobs", req, &j)
	return j, err
}

// Jobs lists jobs, newest first.
func (c *Client) Jobs(ctx context.Context, service string, limit int) ([]store.Job, error) {
	q := url.Values{}
	if service != "" {
		q.Set("service", service)
	}
	q.Set("limit", strconv.Itoa(limit))
	var js []store.Job
	err := c.do(ctx, http.MethodGet, "/v1/jobs?"+q.Encode(), nil, &js)
	return js, err
}

// Job returns one job.
func (c *Client) Job(ctx context.Context, id int64) (store.Job, error) {
	var j store.Job
	err := c.do(ctx, http.MethodGet, "/v1/jobs/"+strconv.FormatInt(id, 10), nil, &j)
	return j, err
}

// CancelJob stops a running job.
func (c *Client) CancelJob(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodPost, "/v1/jobs/"+strconv.FormatInt(id, 10)+"/cancel", nil, nil)
}

// JobOutput streams a job's recorded output.
func (c *Client) JobOutput(ctx context.Context, id int64, fn func(engine.JobOutput) error) error {
	return stream(c, ctx, "/v1/jobs/"+strconv.FormatInt(id, 10)+"/output", fn)
}

// WatchJob prints a job's output through fn, live until it ends, and
// returns how it ended. A job that already ended is replayed from disk.
func (c *Client) WatchJob(ctx context.Context, id int64, fn func(engine.JobOutput) error) (engine.JobEnd, error) {
	job, err := c.Job(ctx, id)
	if err != nil {
		return engine.JobEnd{}, err
	}
	if job.Status.Terminal() {
		end, _, err := c.replayJob(ctx, id, 0, 0, fn)
		return end, err
	}
	ws, err := c.DialWS(ctx)
	if err != nil {
		return engine.JobEnd{}, err
	}
	defer ws.Close()
	name := "job/" + strconv.FormatInt(id, 10)
	if err := ws.Subscribe(ctx, []string{name}, map[string]uint64{name: 0}); err != nil {
		return engine.JobEnd{}, err
	}
	for {
		f, err := ws.Next(ctx)
		if err != nil {
			return engine.JobEnd{}, err
		}
		if ctl, ok := f.Control(); ok {
			switch ctl.Op {
			case "error":
				return engine.JobEnd{}, fmt.Errorf("watch job %d: %s", id, ctl.Message)
			case "gap", "missed":
				// The live tail no longer has the start: each output line is one
				// frame, so the file's first lines are the frames we lack.
				last := ctl.Last
				if ctl.Op == "missed" {
					last = ctl.To
				}
				if end, done, err := c.replayJob(ctx, id, ctl.From, last, fn); err != nil || done {
					return end, err
				}
			}
			continue
		}
		var kind struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(f.Payload, &kind); err != nil {
			return engine.JobEnd{}, fmt.Errorf("watch job %d: %w", id, err)
		}
		if kind.Type == "end" {
			var end engine.JobEnd
			err := json.Unmarshal(f.Payload, &end)
			return end, err
		}
		var out engine.JobOutput
		if err := json.Unmarshal(f.Payload, &out); err != nil {
			return engine.JobEnd{}, fmt.Errorf("watch job %d: %w", id, err)
		}
		if err := fn(out); err != nil {
			return engine.JobEnd{}, err
		}
	}
}

// replayJob prints output lines from..to (1-based; from 0 means 1) from the
// job's file. When the job has already ended (the stream's end is gone too),
// it prints everything and reports done with the recorded end.
func (c *Client) replayJob(ctx context.Context, id int64, from, to uint64, fn func(engine.JobOutput) error) (engine.JobEnd, bool, error) {
	job, err := c.Job(ctx, id)
	if err != nil {
		return engine.JobEnd{}, false, err
	}
	ended := job.Status.Terminal()
	n := uint64(0)
	err = c.JobOutput(ctx, id, func(o engine.JobOutput) error {
		n++
		if ended || (n >= max(from, 1) && n <= to) {
			return fn(o)
		}
		return nil
	})
	if err != nil || !ended {
		return engine.JobEnd{}, false, err
	}
	return engine.JobEnd{Type: "end", Status: job.Status, ExitCode: job.ExitCode, Error: job.Error}, true, nil
}

// CreateToken makes a named token; its secret is returned once.
func (c *Client) CreateToken(ctx context.Context, name string) (server.TokenCreated, error) {
	var t server.TokenCreated
	err := c.do(ctx, http.MethodPost, "/v1/tokens", server.TokenRequest{Name: name}, &t)
	return t, err
}

// Tokens lists tokens.
func (c *Client) Tokens(ctx context.Context) ([]store.Token, error) {
	var ts []store.Token
	err := c.do(ctx, http.MethodGet, "/v1/tokens", nil, &ts)
	return ts, err
}

// RevokeToken revokes a named token.
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(name), nil, nil)
}
