package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/supervise"
)

// runningEngine is an engine and its API server, running in this process.
type runningEngine struct {
	eng    *engine.Engine
	cancel  context.CancelFunc
	served  chan error
	pidFile string
}

// startEngine starts an engine for the project whose state lives in
// stateDir, serving its API on the project's socket.
func startEngine(stateDir string, log *slog.Logger) (*runningEngine, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	l, err := server.ListenUnix(engine.SocketPath(stateDir))
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("find berth's own executable: %w", err)
	}
	eng, err := engine.New(engine.Options{StateDir: stateDir, Logger: log, ReaperArgv: []string{exe, "__reap"}})
	if err != nil {
		l.Close()
		return nil, err
	}
	pidFile := filepath.Join(stateDir, "engine.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		l.Close()
		return nil, errors.Join(fmt.Errorf("write engine pid: %w", err), eng.Shutdown(context.Background(), nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	re := &runningEngine{eng: eng, cancel: cancel, served: make(chan error, 1), pidFile: pidFile}
	srv := server.New(eng, log)
	go func() { re.served <- srv.Serve(ctx, l) }()
	return re, nil
}

// shutdown stops every service (force cancelled: kill now) and the API.
func (r *runningEngine) shutdown(force context.Context, timeout *time.Duration) error {
	err := r.eng.Shutdown(force, timeout)
	r.cancel()
	err = errors.Join(err, <-r.served)
	_ = os.Remove(r.pidFile)
	return err
}

// newEngineCmd is the hidden verb a detached `up -d` runs: the engine as a daemon.
func newEngineCmd(f *factory) *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:    "__engine",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(f.ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
			re, err := startEngine(stateDir, log)
			if err != nil {
				return err
			}
			select {
			case <-re.eng.Done(): // down
			case <-cmd.Context().Done(): // SIGTERM or SIGINT
			case err := <-re.served:
				log.Error("api server stopped", "err", err)
				re.served <- err
			}
			force, cancel := f.forceContext()
			defer cancel()
			return re.shutdown(force, nil)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "the project's state folder")
	return cmd
}

// newReapCmd is the hidden watchdog that kills every process group if berth dies.
func newReapCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "__reap",
		Hidden: true,
		Args:   noArgs,
		RunE: func(*cobra.Command, []string) error {
			return supervise.RunReaper(os.Stdin)
		},
	}
}

// spawnDaemon starts `berth __engine` detached from the terminal (its own
// session), writing its output to the state folder, and waits until its API
// answers. exited is closed when the daemon process ends.
func spawnDaemon(ctx context.Context, stateDir string) (c *client.Client, exited <-chan struct{}, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find berth's own executable: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create state folder: %w", err)
	}
	logPath := engine.EngineLogPath(stateDir)
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open engine log: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(exe, "__engine", "--state-dir", stateDir)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start engine: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err = client.WaitReady(wctx, engine.SocketPath(stateDir), done)
	if err != nil {
		_ = cmd.Process.Kill()
		<-done
		return nil, nil, fmt.Errorf("%w; its output is in %s:\n%s", err, logPath, tailFile(logPath, 2048))
	}
	return c, done, nil
}

// tailFile returns the last n bytes of a file, for error messages.
func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
