package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/hub"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/supervise"
)

// listenOptions say where the engine serves its API and dashboard over TCP.
type listenOptions struct {
	port       int
	bind       string
	allowHosts []string
}

func (o *listenOptions) addFlags(fl *pflag.FlagSet) {
	fl.IntVar(&o.port, "port", envInt("BERTH_PORT", 0), "TCP port of the API and dashboard (default $BERTH_PORT, else a free one)")
	fl.StringVar(&o.bind, "bind", "127.0.0.1", "address to serve the API on; anything but loopback exposes berth to the network")
	fl.StringArrayVar(&o.allowHosts, "allow-host", nil, "extra Host header value to accept (with --bind beyond loopback)")
}

func (o listenOptions) args() []string {
	a := []string{"--port", strconv.Itoa(o.port), "--bind", o.bind}
	for _, h := range o.allowHosts {
		a = append(a, "--allow-host", h)
	}
	return a
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// runningEngine is an engine and its API server, running in this process.
type runningEngine struct {
	eng     *engine.Engine
	cancel  context.CancelFunc
	served  chan error
	pidFile string
	// url is the dashboard URL with the owner token.
	url string
}

// displayHost is the host to print in URLs for a bind address.
func displayHost(bind string) string {
	if bind == "" || bind == "0.0.0.0" || bind == "::" {
		return "127.0.0.1"
	}
	return bind
}

// startEngine starts an engine for the project whose state lives in
// stateDir, serving its API on the project's socket (trusted: 0600) and on
// TCP (guarded: Host allow-list, Origin check, token).
func startEngine(stateDir string, lo listenOptions, log *slog.Logger) (*runningEngine, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	tcpAddr := net.JoinHostPort(lo.bind, strconv.Itoa(lo.port))
	tl, err := net.Listen("tcp", tcpAddr)
	if err != nil {
		return nil, fmt.Errorf("serve the API on %s: %w\nhint: choose another port with --port or $BERTH_PORT", tcpAddr, err)
	}
	if !server.IsLoopback(tl.Addr().String()) {
		log.Warn("the API is reachable beyond this machine: anyone with the token can run commands", "addr", tl.Addr().String())
	}
	l, err := server.ListenUnix(engine.SocketPath(stateDir))
	if err != nil {
		tl.Close()
		return nil, err
	}
	token, err := server.NewToken()
	if err != nil {
		l.Close()
		tl.Close()
		return nil, fmt.Errorf("make token: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("find berth's own executable: %w", err)
	}
	h := hub.NewMemory(hub.Options{})
	eng, err := engine.New(engine.Options{StateDir: stateDir, Logger: log, ReaperArgv: []string{exe, "__reap"}, Hub: h})
	if err != nil {
		l.Close()
		tl.Close()
		return nil, err
	}
	pidFile := filepath.Join(stateDir, "engine.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		l.Close()
		tl.Close()
		return nil, errors.Join(fmt.Errorf("write engine pid: %w", err), eng.Shutdown(context.Background(), nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	re := &runningEngine{eng: eng, cancel: cancel, served: make(chan error, 1), pidFile: pidFile}
	srv := server.New(server.Options{Engine: eng, Hub: h, Logger: log})
	_, port, _ := net.SplitHostPort(tl.Addr().String())
	guard := server.LoopbackGuard(token, eng.Store(), port, lo.allowHosts...)
	if !server.IsLoopback(tl.Addr().String()) && lo.bind != "0.0.0.0" && lo.bind != "::" {
		guard = server.LoopbackGuard(token, eng.Store(), port, append(lo.allowHosts, lo.bind)...)
	}
	re.url = server.DashboardURL(net.JoinHostPort(displayHost(lo.bind), port), token)
	srv.SetDashboardURL(re.url)
	var served sync.WaitGroup
	errs := make(chan error, 2)
	served.Add(2)
	go func() { defer served.Done(); errs <- srv.Serve(ctx, l) }()
	go func() { defer served.Done(); errs <- srv.ServeHandler(ctx, tl, guard.Wrap(srv.Handler())) }()
	go func() {
		served.Wait()
		close(errs)
		var err error
		for e := range errs {
			err = errors.Join(err, e)
		}
		re.served <- err
		h.Close()
	}()
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
	var lo listenOptions
	cmd := &cobra.Command{
		Use:    "__engine",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(f.ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
			re, err := startEngine(stateDir, lo, log)
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
	lo.addFlags(cmd.Flags())
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
func spawnDaemon(ctx context.Context, stateDir string, lo listenOptions) (c *client.Client, exited <-chan struct{}, err error) {
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
	cmd := exec.Command(exe, append([]string{"__engine", "--state-dir", stateDir}, lo.args()...)...)
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
