package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// supervisor is a supervisord run in the foreground (-n) by the bench, with
// its configuration, socket and logs in a folder of its own.
type supervisor struct {
	dir    string
	conf   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once supervisord has exited and been waited for
	rpc    *http.Client
}

// startSupervisord starts supervisord running progs. When logDir is set,
// program NAME's stdout goes to logDir/NAME.log, never rotated; otherwise to
// supervisord's default AUTO log file.
func startSupervisord(dir string, progs []program, logDir string) (*supervisor, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &supervisor{dir: dir, conf: filepath.Join(dir, "supervisord.conf"), exited: make(chan struct{})}
	sock := filepath.Join(dir, "supervisor.sock")
	if err := os.WriteFile(s.conf, supervisordConf(dir, sock, progs, logDir), 0o644); err != nil {
		return nil, err
	}
	s.rpc = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	out, err := os.Create(filepath.Join(dir, "supervisord.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	// Not tied to a context: close stops it, as supervisord stops, with SIGTERM.
	s.cmd = command(context.Background(), dir, nil, "supervisord", "-n", "-c", s.conf)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start supervisord: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// supervisordConf is the configuration of a foreground supervisord running
// progs. Every program starts at once, counts as RUNNING as soon as it is
// spawned (startsecs=0, as berth counts it), is not restarted, and is stopped
// with its whole process group, as berth stops a service.
func supervisordConf(dir, sock string, progs []program, logDir string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "[unix_http_server]\nfile=%s\n\n", sock)
	fmt.Fprintf(&b, "[supervisord]\nnodaemon=true\nlogfile=%s\npidfile=%s\nchildlogdir=%s\n\n",
		filepath.Join(dir, "supervisord.log"), filepath.Join(dir, "supervisord.pid"), dir)
	b.WriteString("[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n")
	fmt.Fprintf(&b, "[supervisorctl]\nserverurl=unix://%s\n\n", sock)
	for _, p := range progs {
		quoted := make([]string, len(p.argv))
		for i, a := range p.argv {
			quoted[i] = shellQuote(a)
		}
		fmt.Fprintf(&b, "[program:%s]\ncommand=%s\n", p.name, iniEscape(strings.Join(quoted, " ")))
		b.WriteString("startsecs=0\nautorestart=false\nstopasgroup=true\nkillasgroup=true\n")
		if len(p.env) > 0 {
			kvs := make([]string, len(p.env))
			for i, kv := range p.env {
				k, v, _ := strings.Cut(kv, "=")
				kvs[i] = k + "=" + `"` + v + `"`
			}
			fmt.Fprintf(&b, "environment=%s\n", iniEscape(strings.Join(kvs, ",")))
		}
		if logDir != "" {
			fmt.Fprintf(&b, "stdout_logfile=%s\nstdout_logfile_maxbytes=0\nstdout_logfile_backups=0\n", filepath.Join(logDir, p.name+".log"))
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// shellQuote quotes s for supervisord's command= (split by Python's shlex).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// iniEscape escapes '%' for supervisord's configuration parser. (A ';' or
// '#' after a space would start a comment: the bench's commands have none.)
func iniEscape(s string) string { return strings.ReplaceAll(s, "%", "%%") }

func (s *supervisor) pid() int { return s.cmd.Process.Pid }

// running returns how many programs supervisord reports RUNNING, asking over
// its XML-RPC socket (what supervisorctl does, without starting Python).
func (s *supervisor) running(ctx context.Context) (int, error) {
	select {
	case <-s.exited:
		return 0, fmt.Errorf("supervisord exited: %s", tail(filepath.Join(s.dir, "supervisord.out")))
	default:
	}
	body := `<?xml version="1.0"?><methodCall><methodName>supervisor.getAllProcessInfo</methodName><params></params></methodCall>`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://supervisord/RPC2", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := s.rpc.Do(req)
	if err != nil {
		return 0, nil // not listening yet
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return bytes.Count(b, []byte("<string>RUNNING</string>")), nil
}

// ctl runs supervisorctl against this supervisord.
func (s *supervisor) ctl(ctx context.Context, args ...string) error {
	cmd := command(ctx, s.dir, nil, "supervisorctl", append([]string{"-c", s.conf}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("supervisorctl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// close stops supervisord (SIGTERM: it stops its programs first), and
// SIGKILLs it after 20 s.
func (s *supervisor) close() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("supervisord did not stop within 20s of SIGTERM")
	}
}

// tail returns the end of a file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 1000 {
		b = b[len(b)-1000:]
	}
	return string(bytes.TrimSpace(b))
}
