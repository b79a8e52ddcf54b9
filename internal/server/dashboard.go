package server

import "net/http"

// dashboardRoutes serves the dashboard's address.
func (s *Server) dashboardRoutes() {
	s.mux.HandleFunc("GET /{$}", s.index)
}

// index answers the dashboard's address: who you are and what the API offers.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"project": s.eng.ProjectName(),
		"user":    UserOf(r.Context()),
		"api":     []string{"/api/ws", "/v1/ps", "/v1/logs", "/v1/events", "/v1/top", "/v1/up", "/v1/start", "/v1/stop", "/v1/restart", "/v1/kill", "/v1/down", "/v1/publish"},
	})
}
