package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// program is one supervised program, described once for every system.
type program struct {
	name string
	argv []string
	env  []string // KEY=VALUE, added to its environment
}

// projectName is the compose project name of every berth run.
const projectName = "bench"

// berthProject is a compose project run by berth with a state folder of its own.
type berthProject struct {
	bin   string // the berth binary
	dir   string // holds compose.yaml
	state string // BERTH_STATE_HOME
	pid   int    // the engine's pid, once up
}

// newBerthProject writes a compose file running progs under dir.
func newBerthProject(bin, dir string, progs []program) (*berthProject, error) {
	p := &berthProject{bin: bin, dir: filepath.Join(dir, "project"), state: filepath.Join(dir, "state")}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, err
	}
	return p, os.WriteFile(filepath.Join(p.dir, "compose.yaml"), composeFile(progs), 0o644)
}

// composeFile is a compose file running progs. Strings are written as
// double-quoted YAML (Go quoting is a subset of it); they must not hold '$',
// which compose would interpolate.
func composeFile(progs []program) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "name: %s\nservices:\n", projectName)
	for _, p := range progs {
		quoted := make([]string, len(p.argv))
		for i, a := range p.argv {
			quoted[i] = strconv.Quote(a)
		}
		fmt.Fprintf(&b, "  %s:\n    image: bench\n    command: [%s]\n", p.name, strings.Join(quoted, ", "))
		if len(p.env) > 0 {
			b.WriteString("    environment:\n")
			for _, kv := range p.env {
				fmt.Fprintf(&b, "      - %s\n", strconv.Quote(kv))
			}
		}
	}
	return b.Bytes()
}

// run runs a berth verb in the project folder and returns its stdout.
func (p *berthProject) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := command(ctx, p.dir, []string{"BERTH_STATE_HOME=" + p.state}, p.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("berth %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// up runs `berth up -d` and reads the engine's pid.
func (p *berthProject) up(ctx context.Context) error {
	_, err := p.run(ctx, "up", "-d")
	if pid, perr := p.enginePid(); perr == nil {
		p.pid = pid
	} else if err == nil {
		err = perr
	}
	return err
}

func (p *berthProject) enginePid() (int, error) {
	b, err := os.ReadFile(filepath.Join(p.state, projectName, "engine.pid"))
	if err != nil {
		return 0, fmt.Errorf("read engine pid: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// running returns how many replicas `berth ps --format json` shows running.
func (p *berthProject) running(ctx context.Context) (int, error) {
	out, err := p.run(ctx, "ps", "--format", "json")
	if err != nil {
		return 0, err
	}
	var st []struct{ State string }
	if err := json.Unmarshal(out, &st); err != nil {
		return 0, fmt.Errorf("berth ps --format json: %w", err)
	}
	n := 0
	for _, r := range st {
		if r.State == "running" {
			n++
		}
	}
	return n, nil
}

// down runs `berth down` and waits for the engine to exit.
func (p *berthProject) down(ctx context.Context) error {
	if _, err := p.run(ctx, "down"); err != nil {
		return err
	}
	if p.pid != 0 && !waitGone(p.pid, 10*time.Second) {
		return fmt.Errorf("berth down: engine %d still running 10s later", p.pid)
	}
	return nil
}

// close stops whatever the project left running: `berth down`, else SIGKILL
// of the engine (whose reaper then kills the services).
func (p *berthProject) close() error {
	if p.pid == 0 {
		p.pid, _ = p.enginePid()
	}
	if p.pid == 0 || !alive(p.pid) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := p.down(ctx)
	if err != nil {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	return err
}

func (p *berthProject) logDir() string { return filepath.Join(p.state, projectName, "logs") }

// lastSeq returns the sequence number of the last complete record of a
// berth log file, 0 when it has none (missing, or just rotated).
func lastSeq(path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, max(0, st.Size()-int64(len(buf))))
	buf = buf[:n]
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		return 0
	}
	start := bytes.LastIndexByte(buf[:end], '\n') + 1 // a record is far shorter than buf
	seq, _, _ := bytes.Cut(buf[start:end], []byte(" "))
	v, _ := strconv.ParseUint(string(seq), 10, 64)
	return v
}

// berthLog is what a service's berth log holds after a producer run.
type berthLog struct {
	last uint64 // sequence number of the last record: lines captured
	kept int    // producer lines still on disk, each checked
	bad  int    // records missing (a gap in the sequence numbers) or not the line their number says
}

// checkBerthLog reads every file of service's log, oldest first. A
// service's sequence numbers count its lines with no gap, so the kept records
// must have consecutive numbers (a gap is a record lost on the way to disk),
// and record k must hold the producer's line k: then no line was skipped, and
// lines 1…last were all captured (those before the oldest kept record were
// deleted by rotation).
func checkBerthLog(dir, service string) (berthLog, error) {
	var res berthLog
	base := filepath.Join(dir, service+".log")
	rotated, _ := filepath.Glob(base + ".*")
	index := func(p string) int { n, _ := strconv.Atoi(strings.TrimPrefix(p, base+".")); return n }
	// Oldest first: the highest suffix, …, .log.1, then .log (index 0).
	files := append(rotated, base)
	slices.SortFunc(files, func(a, b string) int { return index(b) - index(a) })
	for _, path := range files {
		err := eachLine(path, func(rec []byte) {
			f := bytes.SplitN(rec, []byte(" "), 5)
			if len(f) < 5 {
				res.bad++
				return
			}
			seq, _ := strconv.ParseUint(string(f[0]), 10, 64)
			if res.last != 0 && seq > res.last+1 {
				res.bad += int(seq - res.last - 1)
			}
			res.last = max(res.last, seq)
			if string(f[3]) != "o" {
				return // berth's own message about the service
			}
			if lineNumber(f[4]) == seq {
				res.kept++
			} else {
				res.bad++
			}
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
	}
	return res, nil
}
