package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/inspect"
	"github.com/berth-dev/berth/internal/server"
)

// inspectQuery encodes a list filter as GET /api/inspect's query.
func inspectQuery(f inspect.Filter) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("service", f.Service)
	set("method", f.Method)
	set("path", f.PathContains)
	set("header", f.Header)
	set("body", f.BodyContains)
	if f.StatusClass != 0 {
		q.Set("status", strconv.Itoa(f.StatusClass))
	}
	for k, v := range map[string]int64{"before": f.BeforeID, "after": f.AfterID, "replay_of": f.ReplayOf} {
		if v != 0 {
			q.Set(k, strconv.FormatInt(v, 10))
		}
	}
	switch {
	case f.Limit < 0:
		q.Set("limit", "all")
	case f.Limit > 0:
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// Exchanges lists recorded exchanges that match f, newest first, without
// their bodies.
func (c *Client) Exchanges(ctx context.Context, f inspect.Filter) ([]inspect.Exchange, error) {
	var out []inspect.Exchange
	err := c.do(ctx, http.MethodGet, "/api/inspect?"+inspectQuery(f).Encode(), nil, &out)
	return out, err
}

// Exchange returns one recorded exchange with its bodies and a curl command.
func (c *Client) Exchange(ctx context.Context, id int64) (server.ExchangeDetail, error) {
	var d server.ExchangeDetail
	err := c.do(ctx, http.MethodGet, "/api/inspect/"+strconv.FormatInt(id, 10), nil, &d)
	return d, err
}

// Replay sends exchange id's request again, edited by req (the zero value
// replays it as it was), and returns the new exchange and its diff against
// the original.
func (c *Client) Replay(ctx context.Context, id int64, req server.ReplayRequest) (server.ReplayResult, error) {
	var res server.ReplayResult
	err := c.do(ctx, http.MethodPost, "/api/inspect/"+strconv.FormatInt(id, 10)+"/replay", req, &res)
	return res, err
}

// DiffExchanges compares the responses of exchanges a and b.
func (c *Client) DiffExchanges(ctx context.Context, a, b int64) (server.ExchangeDiff, error) {
	var d server.ExchangeDiff
	err := c.do(ctx, http.MethodGet, "/api/inspect/"+strconv.FormatInt(a, 10)+"/diff/"+strconv.FormatInt(b, 10), nil, &d)
	return d, err
}

// ExportHAROptions select what ExportHAR writes.
type ExportHAROptions struct {
	// IDs are the exchanges to export; nil: every one that Filter selects.
	IDs    []int64
	Filter inspect.Filter
	// KeepSecrets leaves credentials in (redacted by default).
	KeepSecrets bool
}

// ExportHAR writes a HAR 1.2 document of the chosen exchanges to w.
func (c *Client) ExportHAR(ctx context.Context, w io.Writer, o ExportHAROptions) error {
	q := inspectQuery(o.Filter)
	q.Del("limit")
	if o.IDs != nil {
		ids := make([]string, len(o.IDs))
		for i, id := range o.IDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		q.Set("ids", strings.Join(ids, ","))
	}
	if o.KeepSecrets {
		q.Set("redact", "false")
	}
	resp, err := c.send(ctx, http.MethodGet, "/api/inspect/export.har?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("export HAR: %w", err)
	}
	return nil
}

// SetInspect turns the inspector on or off for a service and returns
// whether it is now inspected.
func (c *Client) SetInspect(ctx context.Context, service string, on bool) (bool, error) {
	var st server.InspectState
	err := c.do(ctx, http.MethodPost, "/api/services/"+url.PathEscape(service)+"/inspect", server.InspectSwitch{On: &on}, &st)
	return st.Inspected, err
}

// FollowExchanges calls fn with the exchanges that match f: first the
// newest f.Limit of those recorded (oldest first), then each new one as it
// is stored, until ctx ends or fn fails. It listens on the WebSocket's
// inspect stream and, at each new exchange (or missed notice), lists what
// is new with the same filter, so every filter applies to the live ones too
// and a slow reader loses nothing.
func (c *Client) FollowExchanges(ctx context.Context, f inspect.Filter, fn func(inspect.Exchange) error) error {
	ws, err := c.DialWS(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := ws.Subscribe(ctx, []string{engine.StreamInspect}, nil); err != nil {
		return err
	}
	// Wait until the subscription is in place, so that nothing stored
	// after the history below is missed.
	for {
		fr, err := ws.Next(ctx)
		if err != nil {
			return followErr(ctx, err)
		}
		ctl, ok := fr.Control()
		if !ok {
			continue // an exchange: the history below has it
		}
		if ctl.Op == hub.OpError {
			return fmt.Errorf("follow exchanges: %s", ctl.Message)
		}
		if ctl.Op == hub.OpSubscribed {
			break
		}
	}
	hist, err := c.Exchanges(ctx, f)
	if err != nil {
		return err
	}
	var last int64
	for i := len(hist) - 1; i >= 0; i-- {
		if err := fn(hist[i]); err != nil {
			return err
		}
		last = max(last, hist[i].ID)
	}
	live := f
	live.Limit = -1
	for {
		fr, err := ws.Next(ctx)
		if err != nil {
			return followErr(ctx, err)
		}
		var seen int64 // the exchange the frame announces: stored, as are those before it
		if ctl, ok := fr.Control(); ok {
			if ctl.Op == hub.OpError {
				return fmt.Errorf("follow exchanges: %s", ctl.Message)
			}
			if ctl.Op != hub.OpMissed && ctl.Op != hub.OpGap {
				continue
			}
		} else {
			var ex struct {
				ID int64 `json:"id"`
			}
			if json.Unmarshal(fr.Payload, &ex) == nil {
				if ex.ID <= last {
					continue
				}
				seen = ex.ID
			}
		}
		live.AfterID = last
		news, err := c.Exchanges(ctx, live)
		if err != nil {
			return err
		}
		for i := len(news) - 1; i >= 0; i-- {
			if err := fn(news[i]); err != nil {
				return err
			}
			last = max(last, news[i].ID)
		}
		// Exchanges up to seen that the filter left out need no new look.
		last = max(last, seen)
	}
}

// followErr is nil when the follow ended because ctx did.
func followErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
