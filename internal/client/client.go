// Package client is the Go client of berth's API (internal/server), used by
// the CLI verbs against a running engine and by tests.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/server"
)

// ErrNotRunning means no engine answers on the socket.
var ErrNotRunning = errors.New("no berth engine is running for it")

// Error is an error answer of the API.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Client talks to one engine over its Unix socket.
type Client struct {
	http *http.Client
}

// Dial connects to the engine listening at socketPath. It returns
// ErrNotRunning when nothing is listening there.
func Dial(ctx context.Context, socketPath string) (*Client, error) {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socketPath)
	}
	c, err := dial(ctx, "", "")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, ErrNotRunning
		}
		return nil, fmt.Errorf("connect to %s: %w", socketPath, err)
	}
	c.Close()
	return &Client{http: &http.Client{Transport: &http.Transport{DialContext: dial, DisableCompression: true}}}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://berth"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e struct {
			Error server.APIError `json:"error"`
		}
		if json.NewDecoder(resp.Body).Decode(&e) != nil || e.Error.Message == "" {
			return nil, &Error{Status: resp.StatusCode, Code: server.CodeInternal, Message: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
		}
		return nil, &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	return resp, nil
}

// Info describes the engine.
func (c *Client) Info(ctx context.Context) (server.Info, error) {
	var info server.Info
	err := c.do(ctx, http.MethodGet, "/v1/info", nil, &info)
	return info, err
}

// Up asks the engine to bring a project up.
func (c *Client) Up(ctx context.Context, req engine.UpRequest) (engine.UpResult, error) {
	var res engine.UpResult
	err := c.do(ctx, http.MethodPost, "/v1/up", req, &res)
	return res, err
}

// Stop stops services.
func (c *Client) Stop(ctx context.Context, req engine.StopRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/stop", req, nil)
}

// Start starts stopped services.
func (c *Client) Start(ctx context.Context, services []string) error {
	return c.do(ctx, http.MethodPost, "/v1/start", server.StartRequest{Services: services}, nil)
}

// Restart restarts services.
func (c *Client) Restart(ctx context.Context, req engine.StopRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/restart", req, nil)
}

// Kill signals services.
func (c *Client) Kill(ctx context.Context, req engine.KillRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/kill", req, nil)
}

// Down stops everything and ends the engine.
func (c *Client) Down(ctx context.Context, req engine.DownRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/down", req, nil)
}

func serviceQuery(services []string) url.Values {
	q := url.Values{}
	for _, s := range services {
		q.Add("service", s)
	}
	return q
}

// Ps lists replicas.
func (c *Client) Ps(ctx context.Context, services []string) ([]engine.ReplicaStatus, error) {
	var st []engine.ReplicaStatus
	err := c.do(ctx, http.MethodGet, "/v1/ps?"+serviceQuery(services).Encode(), nil, &st)
	return st, err
}

// Top lists processes.
func (c *Client) Top(ctx context.Context, services []string) ([]engine.Process, error) {
	var ps []engine.Process
	err := c.do(ctx, http.MethodGet, "/v1/top?"+serviceQuery(services).Encode(), nil, &ps)
	return ps, err
}

// LogsOptions select log lines.
type LogsOptions struct {
	Services []string
	Tail     int // -1: all
	Since    string
	Follow   bool
}

// Logs streams log lines to fn until the history is done (or, when
// following, until ctx ends or the engine stops).
func (c *Client) Logs(ctx context.Context, opts LogsOptions, fn func(server.LogLine) error) error {
	q := serviceQuery(opts.Services)
	q.Set("tail", strconv.Itoa(opts.Tail))
	if opts.Since != "" {
		q.Set("since", opts.Since)
	}
	if opts.Follow {
		q.Set("follow", "1")
	}
	return stream(c, ctx, "/v1/logs?"+q.Encode(), fn)
}

// FollowLogs prints a history of the services' logs (opts.Tail, opts.Since)
// through fn, then follows them live over the WebSocket from exactly where
// the history ended. Records that only carry a cursor are not passed to fn.
func (c *Client) FollowLogs(ctx context.Context, opts LogsOptions, fn func(server.LogLine) error) error {
	services := opts.Services
	if len(services) == 0 {
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		services = info.Services
	}
	hist := opts
	hist.Services, hist.Follow = services, false
	since := map[string]uint64{}
	err := c.Logs(ctx, hist, func(l server.LogLine) error {
		if l.IsCursor() {
			since["service/"+l.Service+"/logs"] = l.Cursor
			return nil
		}
		return fn(l)
	})
	if err != nil {
		return err
	}
	ws, err := c.DialWS(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	streams := make([]string, len(services))
	for i, s := range services {
		streams[i] = "service/" + s + "/logs"
		if _, ok := since[streams[i]]; !ok {
			since[streams[i]] = 0
		}
	}
	if err := ws.Subscribe(ctx, streams, since); err != nil {
		return err
	}
	for {
		f, err := ws.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ctl, ok := f.Control(); ok {
			switch ctl.Op {
			case "error":
				return fmt.Errorf("follow logs: %s", ctl.Message)
			case "missed":
				name := strings.TrimSuffix(strings.TrimPrefix(ctl.Stream, "service/"), "/logs")
				if err := fn(server.LogLine{Service: name, Missed: ctl.Count, Time: time.Now()}); err != nil {
					return err
				}
			}
			continue
		}
		var p server.LogPayload
		if err := json.Unmarshal(f.Payload, &p); err != nil {
			return fmt.Errorf("follow logs: decode %s: %w", f.Stream, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(f.Stream, "service/"), "/logs")
		if err := fn(server.LogLine{Service: name, Replica: p.Replica, Stream: p.Stream, Time: p.Time, Seq: f.Seq, Text: p.Text}); err != nil {
			return err
		}
	}
}

// EventOrMissed is one value of the events stream: an event, or a count of
// events dropped because the reader was slow.
type EventOrMissed struct {
	engine.Event
	Missed int `json:"missed,omitempty"`
}

// Events streams the project's events to fn until ctx ends or the engine stops.
func (c *Client) Events(ctx context.Context, fn func(EventOrMissed) error) error {
	return stream(c, ctx, "/v1/events", fn)
}

func stream[T any](c *Client, ctx context.Context, path string, fn func(T) error) error {
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return fmt.Errorf("decode %s: %w", path, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// WaitReady polls socketPath until an engine answers, the deadline passes or
// exited is closed (the engine process died).
func WaitReady(ctx context.Context, socketPath string, exited <-chan struct{}) (*Client, error) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := Dial(ctx, socketPath)
		if err == nil {
			if _, err = c.Info(ctx); err == nil {
				return c, nil
			}
			c.Close()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for engine at %s: %w", socketPath, ctx.Err())
		case <-exited:
			return nil, errors.New("the engine exited before it was ready")
		case <-t.C:
		}
	}
}

// DashboardURL returns the dashboard's URL with the owner token.
func (c *Client) DashboardURL(ctx context.Context) (string, error) {
	var v struct {
		URL string `json:"url"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/dashboard", nil, &v)
	return v.URL, err
}

// Publish puts a JSON payload on a topic stream and returns its seq.
func (c *Client) Publish(ctx context.Context, stream string, payload json.RawMessage) (uint64, error) {
	var v struct {
		Seq uint64 `json:"seq"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/publish", server.PublishRequest{Stream: stream, Payload: payload}, &v)
	return v.Seq, err
}

// Attach opens a terminal session with a service replica (replica 0: the
// first running one): binary messages carry the terminal's bytes both ways.
func (c *Client) Attach(ctx context.Context, service string, replica int) (*websocket.Conn, error) {
	path := "/v1/attach/" + url.PathEscape(service)
	if replica > 0 {
		path += "?replica=" + strconv.Itoa(replica)
	}
	return c.dialTerminal(ctx, path)
}

// AttachJob opens a terminal session with a running job started with TTY.
func (c *Client) AttachJob(ctx context.Context, id int64) (*websocket.Conn, error) {
	return c.dialTerminal(ctx, "/v1/jobs/"+strconv.FormatInt(id, 10)+"/attach")
}

func (c *Client) dialTerminal(ctx context.Context, path string) (*websocket.Conn, error) {
	conn, resp, err := websocket.Dial(ctx, "ws://berth"+path, &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		if resp != nil && resp.StatusCode >= 300 {
			defer resp.Body.Close()
			var e struct {
				Error server.APIError `json:"error"`
			}
			if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error.Message != "" {
				return nil, &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
			}
		}
		return nil, fmt.Errorf("attach: %w", err)
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}
