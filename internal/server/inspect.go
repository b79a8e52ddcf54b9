package server

// The HTTP inspector's routes: list, detail, replay, diff and HAR export of
// the exchanges the engine's inspector recorded, and the per-service
// switch. They sit behind the same guard as every route.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/inspect"
)

// Error codes of the inspector's routes.
const (
	// CodeNotInspectable: the service has no published port berth's proxy
	// owns ("8000:8000"), so its traffic cannot be recorded.
	CodeNotInspectable = "not_inspectable"
	// CodeBodyTruncated: the recorded request body was cut at the cap, so
	// it cannot be replayed as it was; send a body with the replay.
	CodeBodyTruncated = "body_truncated"
	// CodeReplayFailed: the replay could not be sent or recorded.
	CodeReplayFailed = "replay_failed"
)

func (s *Server) inspectRoutes() {
	s.mux.HandleFunc("GET /api/inspect", s.listExchanges)
	s.mux.HandleFunc("GET /api/inspect/export.har", s.exportHAR)
	s.mux.HandleFunc("GET /api/inspect/{id}", s.getExchange)
	s.mux.HandleFunc("POST /api/inspect/{id}/replay", s.replayExchange)
	s.mux.HandleFunc("GET /api/inspect/{id}/diff/{other}", s.diffExchanges)
	s.mux.HandleFunc("POST /api/services/{name}/inspect", s.setInspect)
}

// ExchangeDetail is one recorded exchange with its bodies (base64 in
// request.body and response.body, as recorded: content coding kept), the
// bodies as text when they are text (content coding undone), and a curl
// command line that sends the request again.
type ExchangeDetail struct {
	inspect.Exchange
	// RequestText and ResponseText are the bodies decoded (gzip, deflate
	// undone), when they are text; absent for binary or empty bodies.
	RequestText  *string `json:"requestText,omitempty"`
	ResponseText *string `json:"responseText,omitempty"`
	Curl         string  `json:"curl"`
}

// NewExchangeDetail describes ex for the API.
func NewExchangeDetail(ex inspect.Exchange) ExchangeDetail {
	d := ExchangeDetail{Exchange: ex, Curl: inspect.Curl(&ex)}
	d.RequestText = bodyText(ex.Request.Header, ex.Request.Body)
	d.ResponseText = bodyText(ex.Response.Header, ex.Response.Body)
	return d
}

func bodyText(h http.Header, body []byte) *string {
	if len(body) == 0 {
		return nil
	}
	dec, err := inspect.DecodeBody(h, body)
	if err != nil || !inspect.IsText(h.Get("Content-Type"), dec) {
		return nil
	}
	t := string(dec)
	return &t
}

// ReplayRequest edits a request before it is replayed; an absent member
// keeps the original's. Body and BodyBase64 are exclusive; an empty Body
// ("") sends none.
type ReplayRequest struct {
	Method string `json:"method,omitempty"`
	// Target is the request target, path and query: "/api/items?id=2".
	Target string `json:"target,omitempty"`
	// Headers replace every request header when present; a Host header
	// sets the request's Host.
	Headers    http.Header `json:"headers,omitempty"`
	Body       *string     `json:"body,omitempty"`
	BodyBase64 *string     `json:"bodyBase64,omitempty"`
}

// ReplayResult is the answer to a replay: the new exchange (recorded, with
// replayOf set) and how its response differs from the original's. Error is
// set when the replay was recorded but failed (the service refused the
// connection, the response was cut short).
type ReplayResult struct {
	Exchange ExchangeDetail `json:"exchange"`
	Diff     ExchangeDiff   `json:"diff"`
	Error    string         `json:"error,omitempty"`
}

// ExchangeDiff compares the responses of exchanges A and B.
type ExchangeDiff struct {
	A       int64          `json:"a"`
	B       int64          `json:"b"`
	StatusA int            `json:"statusA"`
	StatusB int            `json:"statusB"`
	Headers []HeaderChange `json:"headers"`
	// Body is a unified diff of the bodies as text, or a one-line summary
	// when they are not text; "" when they are the same.
	Body  string `json:"body,omitempty"`
	Equal bool   `json:"equal"`
	// Text is the whole comparison as text, as `berth inspect replay` prints it.
	Text string `json:"text"`
}

// HeaderChange is one response header that differs.
type HeaderChange struct {
	Name   string   `json:"name"`
	Change string   `json:"change"` // added (only in B), removed (only in A), changed
	A      []string `json:"a,omitempty"`
	B      []string `json:"b,omitempty"`
}

func newExchangeDiff(a, b *inspect.Exchange) ExchangeDiff {
	d := inspect.Diff(a, b)
	out := ExchangeDiff{A: d.A, B: d.B, StatusA: d.StatusA, StatusB: d.StatusB, Headers: []HeaderChange{}, Body: d.Body, Equal: d.Equal(), Text: d.String()}
	for _, h := range d.Headers {
		out.Headers = append(out.Headers, HeaderChange{Name: h.Name, Change: h.Change, A: h.A, B: h.B})
	}
	return out
}

// InspectSwitch turns the inspector on or off for a service.
type InspectSwitch struct {
	On *bool `json:"on"`
}

// InspectState says whether a service is inspected.
type InspectState struct {
	Service   string `json:"service"`
	Inspected bool   `json:"inspected"`
}

// inspectFilter reads the list filter from the query. limitDefault is the
// limit when none is given.
func (s *Server) inspectFilter(r *http.Request, limitDefault int) (inspect.Filter, error) {
	q := r.URL.Query()
	f := inspect.Filter{
		Service:      q.Get("service"),
		Method:       strings.ToUpper(q.Get("method")),
		PathContains: q.Get("path"),
		Header:       q.Get("header"),
		BodyContains: q.Get("body"),
	}
	if f.Service != "" && !slices.Contains(s.eng.Services(), f.Service) {
		return f, &engine.UnknownServiceError{Name: f.Service, Known: s.eng.Services()}
	}
	if f.Method != "" && !isToken(f.Method) {
		return f, &badRequest{msg: fmt.Sprintf("query method=%q: not an HTTP method", q.Get("method"))}
	}
	if v := q.Get("status"); v != "" {
		c := strings.TrimSuffix(strings.ToLower(v), "xx")
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > 5 || len(c) != 1 {
			return f, &badRequest{msg: fmt.Sprintf("query status=%q: want a status class, 1 to 5 (4 or 4xx for client errors)", v)}
		}
		f.StatusClass = n
	}
	if f.Header != "" {
		if name, _, _ := strings.Cut(f.Header, ":"); strings.TrimSpace(name) == "" {
			return f, &badRequest{msg: fmt.Sprintf("query header=%q: want NAME or NAME:VALUE", f.Header)}
		}
	}
	var err error
	for _, p := range []struct {
		key string
		dst *int64
	}{{"before", &f.BeforeID}, {"after", &f.AfterID}, {"replay_of", &f.ReplayOf}} {
		v := q.Get(p.key)
		if v == "" {
			continue
		}
		if *p.dst, err = strconv.ParseInt(v, 10, 64); err != nil || *p.dst <= 0 {
			return f, &badRequest{msg: fmt.Sprintf("query %s=%q: want an exchange id (a positive number)", p.key, v)}
		}
	}
	if f.Limit, err = queryInt(r, "limit", limitDefault); err != nil {
		return f, err
	}
	if f.Limit == 0 {
		return f, &badRequest{msg: "query limit=0: want a positive number, or all"}
	}
	if f.Limit < -1 {
		return f, &badRequest{msg: fmt.Sprintf("query limit=%d: want a positive number, or all", f.Limit)}
	}
	return f, nil
}

// isToken reports whether s is an HTTP token (a method name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func (s *Server) listExchanges(w http.ResponseWriter, r *http.Request) {
	f, err := s.inspectFilter(r, inspect.DefaultListLimit)
	if err != nil {
		writeError(w, err)
		return
	}
	list, err := s.eng.Inspector().List(r.Context(), f)
	if err != nil {
		writeInspectError(w, err, 0)
		return
	}
	if list == nil {
		list = []inspect.Exchange{}
	}
	writeJSON(w, http.StatusOK, list)
}

// exchangeID reads the path value key as an exchange id.
func exchangeID(w http.ResponseWriter, r *http.Request, key string) (int64, bool) {
	v := r.PathValue(key)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		writeError(w, &badRequest{msg: fmt.Sprintf("exchange id %q: want a positive number", v)})
		return 0, false
	}
	return id, true
}

func (s *Server) getExchange(w http.ResponseWriter, r *http.Request) {
	id, ok := exchangeID(w, r, "id")
	if !ok {
		return
	}
	ex, err := s.eng.Inspector().Get(r.Context(), id)
	if err != nil {
		writeInspectError(w, err, id)
		return
	}
	writeJSON(w, http.StatusOK, NewExchangeDetail(ex))
}

func (s *Server) diffExchanges(w http.ResponseWriter, r *http.Request) {
	a, ok := exchangeID(w, r, "id")
	if !ok {
		return
	}
	b, ok := exchangeID(w, r, "other")
	if !ok {
		return
	}
	exA, err := s.eng.Inspector().Get(r.Context(), a)
	if err != nil {
		writeInspectError(w, err, a)
		return
	}
	exB, err := s.eng.Inspector().Get(r.Context(), b)
	if err != nil {
		writeInspectError(w, err, b)
		return
	}
	writeJSON(w, http.StatusOK, newExchangeDiff(&exA, &exB))
}

// edit turns a ReplayRequest into an inspect.Edit, or says which member is
// wrong.
func (req *ReplayRequest) edit() (*inspect.Edit, error) {
	e := &inspect.Edit{Method: req.Method, Path: req.Target}
	if req.Method != "" && !isToken(req.Method) {
		return nil, &badRequest{msg: fmt.Sprintf("method %q: not an HTTP method", req.Method)}
	}
	if req.Target != "" && (!strings.HasPrefix(req.Target, "/") || strings.ContainsAny(req.Target, " \t\r\n")) {
		return nil, &badRequest{msg: fmt.Sprintf("target %q: want a path and query starting with /, without spaces", req.Target)}
	}
	if req.Headers != nil {
		e.Header = http.Header{}
		for k, vs := range req.Headers {
			if !isToken(k) {
				return nil, &badRequest{msg: fmt.Sprintf("headers: %q is not a header name", k)}
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n\x00") {
					return nil, &badRequest{msg: fmt.Sprintf("headers: the value of %s has a line break or NUL", k)}
				}
				e.Header.Add(k, v)
			}
		}
	}
	switch {
	case req.Body != nil && req.BodyBase64 != nil:
		return nil, &badRequest{msg: "body and bodyBase64: give one of them"}
	case req.Body != nil:
		e.Body = []byte(*req.Body)
	case req.BodyBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*req.BodyBase64)
		if err != nil {
			return nil, &badRequest{msg: "bodyBase64: " + err.Error()}
		}
		e.Body = b
	}
	return e, nil
}

func (s *Server) replayExchange(w http.ResponseWriter, r *http.Request) {
	id, ok := exchangeID(w, r, "id")
	if !ok {
		return
	}
	var req ReplayRequest
	if r.ContentLength != 0 {
		if !readJSON(w, r, &req) {
			return
		}
	}
	edit, err := req.edit()
	if err != nil {
		writeError(w, err)
		return
	}
	rec := s.eng.Inspector()
	newID, rerr := rec.Replay(r.Context(), id, edit)
	if newID == 0 {
		if status, code, msg, ok := inspectError(rerr, id); ok {
			writeAPIError(w, status, code, msg)
		} else {
			// Nothing was sent, or nothing recorded: the service is not
			// reachable, the exchange cannot be replayed (a WebSocket).
			writeAPIError(w, http.StatusBadGateway, CodeReplayFailed, rerr.Error())
		}
		return
	}
	orig, err := rec.Get(r.Context(), id)
	if err != nil {
		writeInspectError(w, err, id)
		return
	}
	ex, err := rec.Get(r.Context(), newID)
	if err != nil {
		writeInspectError(w, err, newID)
		return
	}
	res := ReplayResult{Exchange: NewExchangeDetail(ex), Diff: newExchangeDiff(&orig, &ex)}
	if rerr != nil {
		res.Error = rerr.Error()
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) exportHAR(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var o inspect.HAROptions
	switch v := strings.ToLower(q.Get("redact")); v {
	case "", "1", "true", "yes":
	case "0", "false", "no":
		o.KeepSecrets = true
	default:
		writeError(w, &badRequest{msg: fmt.Sprintf("query redact=%q: want true or false", q.Get("redact"))})
		return
	}
	if ids := q.Get("ids"); ids != "" && !strings.EqualFold(ids, "all") {
		for _, part := range strings.Split(ids, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil || id <= 0 {
				writeError(w, &badRequest{msg: fmt.Sprintf("query ids=%q: %q is not an exchange id (want 1,2,3 or all)", ids, part)})
				return
			}
			o.IDs = append(o.IDs, id)
		}
	}
	f, err := s.inspectFilter(r, -1)
	if err != nil {
		writeError(w, err)
		return
	}
	o.Filter = f
	rec := s.eng.Inspector()
	header := func() {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="berth.har"`)
	}
	if o.IDs != nil {
		// A chosen selection is small: build it first, so that an unknown
		// id is a 404, not a cut document.
		for _, id := range o.IDs {
			if _, err := rec.Get(r.Context(), id); err != nil {
				writeInspectError(w, err, id)
				return
			}
		}
		var buf bytes.Buffer
		if err := rec.ExportHAR(r.Context(), &buf, o); err != nil {
			writeInspectError(w, err, 0)
			return
		}
		header()
		_, _ = buf.WriteTo(w)
		return
	}
	header()
	if err := rec.ExportHAR(r.Context(), w, o); err != nil {
		// The head is sent: all we can do is cut the document short.
		s.log.Warn("export HAR", "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) setInspect(w http.ResponseWriter, r *http.Request) {
	var req InspectSwitch
	if !readJSON(w, r, &req) {
		return
	}
	if req.On == nil {
		writeError(w, &badRequest{msg: `on: required, true or false ({"on": true})`})
		return
	}
	name := r.PathValue("name")
	if err := s.eng.SetInspect(name, *req.On); err != nil {
		writeInspectError(w, err, 0)
		return
	}
	on, err := s.eng.Inspected(name)
	if err != nil {
		writeInspectError(w, err, 0)
		return
	}
	writeJSON(w, http.StatusOK, InspectState{Service: name, Inspected: on})
}

// writeInspectError answers an error of the inspector; id is the exchange
// the request named (0: none).
func writeInspectError(w http.ResponseWriter, err error, id int64) {
	if status, code, msg, ok := inspectError(err, id); ok {
		writeAPIError(w, status, code, msg)
		return
	}
	writeError(w, err)
}

// inspectError classifies the inspector's errors that have a code of their
// own; ok is false for the others.
func inspectError(err error, id int64) (status int, code, msg string, ok bool) {
	var ni *engine.NotInspectableError
	switch {
	case errors.As(err, &ni):
		return http.StatusConflict, CodeNotInspectable, ni.Error(), true
	case errors.As(err, new(*engine.UnknownServiceError)):
		return http.StatusNotFound, CodeUnknownService, err.Error(), true
	case errors.Is(err, inspect.ErrNotFound) && id > 0:
		return http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such exchange: %d (never recorded, or evicted from the history; see berth inspect)", id), true
	case errors.Is(err, inspect.ErrNotFound):
		return http.StatusNotFound, CodeNotFound, err.Error(), true
	case errors.Is(err, inspect.ErrTruncated):
		return http.StatusConflict, CodeBodyTruncated, err.Error(), true
	case errors.Is(err, inspect.ErrClosed):
		return http.StatusServiceUnavailable, CodeShuttingDown, err.Error(), true
	}
	return 0, "", "", false
}
