package engine

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/supervise"
)

// saveRecords writes the process groups of every running replica to the
// state folder, so a berth that was killed outright has its leftovers reaped
// at the next start.
func (e *Engine) saveRecords() {
	e.mu.Lock()
	var recs []supervise.Record
	for _, s := range e.services {
		for _, r := range s.replicas {
			if r.proc != nil {
				recs = append(recs, supervise.Record{Name: r.name, Pid: r.proc.Pid(), Pgid: r.proc.Pgid(), StartTime: r.proc.StartTime()})
			}
		}
	}
	e.mu.Unlock()
	e.recMu.Lock()
	defer e.recMu.Unlock()
	if err := writeRecords(e.opts.StateDir, recs); err != nil {
		e.log.Warn("save process records", keyErr, err)
	}
}

func writeRecords(stateDir string, recs []supervise.Record) error {
	b, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	tmp := recordsPath(stateDir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write process records: %w", err)
	}
	if err := os.Rename(tmp, recordsPath(stateDir)); err != nil {
		return fmt.Errorf("write process records: %w", err)
	}
	return nil
}

func readRecords(stateDir string) []supervise.Record {
	b, err := os.ReadFile(recordsPath(stateDir))
	if err != nil {
		return nil
	}
	var recs []supervise.Record
	if json.Unmarshal(b, &recs) != nil {
		return nil
	}
	return recs
}
