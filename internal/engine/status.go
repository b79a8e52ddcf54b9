package engine

import (
	"encoding/json"
	"time"

	"github.com/berth-dev/berth/internal/hub"
)

// StatusPayload is the payload of a frame on service/<name>/status: the
// service's replicas, published whenever one of them changes.
type StatusPayload struct {
	Service  string          `json:"service"`
	Replicas []ReplicaStatus `json:"replicas"`
}

// publishStatuses publishes each service's status on its stream whenever it
// changes. It runs until the engine's context ends.
func (e *Engine) publishStatuses() {
	defer close(e.statusDone)
	last := map[string]string{}
	for {
		changed := e.Changes()
		e.mu.Lock()
		var out []StatusPayload
		if e.project != nil {
			now := time.Now()
			for _, name := range e.serviceNamesLocked() {
				p := StatusPayload{Service: name, Replicas: []ReplicaStatus{}}
				for _, r := range e.services[name].replicas {
					st := e.statusLocked(r, now)
					st.Status = "" // the human text changes every second; clients derive it
					p.Replicas = append(p.Replicas, st)
				}
				out = append(out, p)
			}
		}
		e.mu.Unlock()
		for _, p := range out {
			b, _ := json.Marshal(p)
			if last[p.Service] == string(b) {
				continue
			}
			last[p.Service] = string(b)
			if _, err := e.opts.Hub.Publish(hub.ServiceStatus(p.Service), json.RawMessage(b)); err != nil {
				e.log.Debug("publish status", keyService, p.Service, keyErr, err)
			}
		}
		select {
		case <-e.ctx.Done():
			return
		case <-changed:
		}
	}
}
