package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/store"
)

func (s *Server) jobRoutes() {
	s.mux.HandleFunc("POST /v1/jobs", s.createJob)
	s.mux.HandleFunc("GET /v1/jobs", s.listJobs)
	s.mux.HandleFunc("GET /v1/jobs/{id}", s.getJob)
	s.mux.HandleFunc("GET /v1/jobs/{id}/output", s.jobOutput)
	s.mux.HandleFunc("POST /v1/jobs/{id}/cancel", s.cancelJob)
	s.mux.HandleFunc("POST /v1/jobs/{id}/watch", s.watchJob)
	s.mux.HandleFunc("DELETE /v1/jobs/{id}/watch", s.unwatchJob)
	s.mux.HandleFunc("POST /v1/tokens", s.createToken)
	s.mux.HandleFunc("GET /v1/tokens", s.listTokens)
	s.mux.HandleFunc("DELETE /v1/tokens/{name}", s.revokeToken)
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	var req engine.JobRequest
	if !readJSON(w, r, &req) {
		return
	}
	req.LaunchedBy = UserOf(r.Context())
	job, err := s.eng.StartJob(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 50)
	if err != nil {
		writeError(w, err)
		return
	}
	jobs, err := s.eng.Store().Jobs(r.Context(), store.JobFilter{Service: r.URL.Query().Get("service"), Limit: limit})
	if err != nil {
		writeError(w, err)
		return
	}
	if jobs == nil {
		jobs = []store.Job{}
	}
	writeJSON(w, http.StatusOK, jobs)
}

func jobID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, &badRequest{msg: fmt.Sprintf("job id %q: want a positive number", r.PathValue("id"))})
		return 0, false
	}
	return id, true
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	job, err := s.eng.Store().Job(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

func (s *Server) jobOutput(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	if _, err := s.eng.Store().Job(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	nd := newNDJSON(w)
	_ = s.eng.ReadJobOutput(id, func(o engine.JobOutput) error { return nd.write(o) })
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	if err := s.eng.CancelJob(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) watchJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	if err := s.eng.Store().AddWatcher(r.Context(), id, UserOf(r.Context())); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) unwatchJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	if err := s.eng.Store().RemoveWatcher(r.Context(), id, UserOf(r.Context())); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// TokenRequest names a token to create.
type TokenRequest struct {
	Name string `json:"name"`
}

// TokenCreated is the answer to a token creation: the secret is shown once.
type TokenCreated struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

func ownerOnly(w http.ResponseWriter, r *http.Request) bool {
	if UserOf(r.Context()) != OwnerUser {
		writeAPIError(w, http.StatusForbidden, CodeForbidden, "only the owner of this berth manages tokens")
		return false
	}
	return true
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	if !ownerOnly(w, r) {
		return
	}
	var req TokenRequest
	if !readJSON(w, r, &req) {
		return
	}
	secret, err := s.eng.Store().CreateToken(r.Context(), req.Name)
	if err != nil {
		writeError(w, &badRequest{msg: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, TokenCreated{Name: req.Name, Secret: secret})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	if !ownerOnly(w, r) {
		return
	}
	toks, err := s.eng.Store().Tokens(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	if toks == nil {
		toks = []store.Token{}
	}
	writeJSON(w, http.StatusOK, toks)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if !ownerOnly(w, r) {
		return
	}
	name := r.PathValue("name")
	if err := s.eng.Store().RevokeToken(r.Context(), name); err != nil {
		writeError(w, err)
		return
	}
	s.live.closeUser(name) // what the token already opened ends too
	writeJSON(w, http.StatusOK, struct{}{})
}

// notifier delivers a user's stored notifications to one of their
// connections at a time, so each is delivered once.
type notifier struct {
	mu    sync.Mutex // guards users
	users map[string]*sync.Mutex
}

func (n *notifier) lock(user string) func() {
	n.mu.Lock()
	if n.users == nil {
		n.users = map[string]*sync.Mutex{}
	}
	m, ok := n.users[user]
	if !ok {
		m = &sync.Mutex{}
		n.users[user] = m
	}
	n.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// deliverNotifications sends the user's pending notifications now and
// whenever new ones are stored, until ctx ends.
func (c *wsConn) deliverNotifications(ctx context.Context) {
	defer c.wg.Done()
	seq := uint64(0)
	for {
		wake := c.s.eng.Notified()
		unlock := c.s.notes.lock(c.user)
		pending, err := c.s.eng.Store().Pending(ctx, c.user)
		var ids []int64
		for _, n := range pending {
			seq++
			frame := []byte(`{"stream":"notifications","seq":` + strconv.FormatUint(seq, 10) + `,"payload":` + string(n.Payload) + `}`)
			// The connection's context: once it ends nothing more is sent. A
			// write in progress is never cut; a stalled client is dropped by
			// the pinger (see wsConn.write).
			if !c.write(c.ctx, frame) {
				break
			}
			ids = append(ids, n.ID)
		}
		if len(ids) > 0 {
			if err := c.s.eng.Store().MarkDelivered(context.WithoutCancel(ctx), ids, time.Now()); err != nil {
				c.s.log.Warn("mark notifications delivered", "err", err)
			}
		}
		unlock()
		if err != nil && ctx.Err() == nil {
			c.s.log.Warn("read notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

// checkJobStream checks job/<id> and makes the user a watcher of the job.
func (c *wsConn) watchJobStream(st string) string {
	idText, ok := strings.CutPrefix(st, "job/")
	if !ok {
		return ""
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return fmt.Sprintf("job id %q: want a number", idText)
	}
	job, err := c.s.eng.Store().Job(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Sprintf("no such job: %d", id)
	}
	if err != nil {
		return err.Error()
	}
	if job.LaunchedBy != c.user && !job.Status.Terminal() {
		if err := c.s.eng.Store().AddWatcher(c.ctx, id, c.user); err != nil {
			return err.Error()
		}
	}
	return ""
}
