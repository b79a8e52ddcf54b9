package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/engine"
)

// ResizeMessage is the text message an attached client sends when its
// window changes: {"resize": {"cols": 120, "rows": 40}}.
type ResizeMessage struct {
	Resize struct {
		Cols int `json:"cols"`
		Rows int `json:"rows"`
	} `json:"resize"`
}

func (s *Server) attachRoutes() {
	s.mux.HandleFunc("GET /v1/attach/{service}", s.attachService)
	s.mux.HandleFunc("GET /v1/jobs/{id}/attach", s.attachJob)
}

// attachService connects a WebSocket to a service replica's terminal
// (?replica=N, default the first running one).
func (s *Server) attachService(w http.ResponseWriter, r *http.Request) {
	n := 0
	if v := r.URL.Query().Get("replica"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			writeError(w, &badRequest{msg: "replica=" + v + ": want a replica number (1, 2, …)"})
			return
		}
	}
	a, err := s.eng.Attach(r.PathValue("service"), n)
	if err != nil {
		writeError(w, err)
		return
	}
	s.pipeTerminal(w, r, a)
}

func (s *Server) attachJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	a, err := s.eng.AttachJob(id)
	if err != nil {
		writeError(w, err)
		return
	}
	s.pipeTerminal(w, r, a)
}

// pipeTerminal carries a terminal over a WebSocket: binary messages are raw
// terminal bytes both ways; text messages from the client resize it. The
// socket closes normally when the process ends.
func (s *Server) pipeTerminal(w http.ResponseWriter, r *http.Request, a *engine.Attachment) {
	defer a.Close()
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer conn.CloseNow()
	defer s.live.add(UserOf(r.Context()), conn)()
	conn.SetReadLimit(wsReadLimit)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		for {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageBinary {
				if _, err := a.Write(b); err != nil {
					return
				}
				continue
			}
			var m ResizeMessage
			if json.Unmarshal(b, &m) == nil && m.Resize.Cols > 0 {
				_ = a.Resize(m.Resize.Cols, m.Resize.Rows)
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case chunk, ok := <-a.Output():
			if !ok {
				conn.Close(websocket.StatusNormalClosure, "the process ended")
				cancel()
				<-done
				return
			}
			if !writeOrDrop(ctx, conn, websocket.MessageBinary, chunk) {
				cancel()
				<-done
				return
			}
		}
	}
}
