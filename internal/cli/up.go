package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/server"
)

type upOptions struct {
	listen        listenOptions
	detach        bool
	noColor       bool
	timestamps    bool
	noLogPrefix   bool
	abortOnExit   bool
	exitCodeFrom  string
	scale         []string
	noDeps        bool
	forceRecreate bool
	removeOrphans bool
	timeout       int
	watch         bool
	inspect       []string
	inspectCap    string
	services      []string
}

func newUpCmd(f *factory) *cobra.Command {
	opts := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up [OPTIONS] [SERVICE...]",
		Short: "Create and start services (in the foreground, or detached with -d)",
		Long: `Start the project's services natively, in dependency order, and print their
logs with a prefix per replica. Ctrl-C stops them gracefully; a second Ctrl-C kills.
With -d the engine runs in the background; use ps, logs, stop and down from any terminal.
Running up again after editing compose.yaml or .env recreates only the services whose
configuration changed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.services = args
			if opts.exitCodeFrom != "" {
				opts.abortOnExit = true
			}
			if opts.detach && opts.abortOnExit {
				return usageErrorf("-d cannot be combined with --abort-on-container-exit or --exit-code-from")
			}
			return runUp(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.detach, "detach", "d", false, "run in the background")
	fl.BoolVar(&opts.noColor, "no-color", false, "monochrome output")
	fl.BoolVarP(&opts.timestamps, "timestamps", "t", false, "show timestamps")
	fl.BoolVar(&opts.noLogPrefix, "no-log-prefix", false, "don't print the replica name before each line")
	fl.BoolVar(&opts.abortOnExit, "abort-on-container-exit", false, "stop every service when any service exits")
	fl.StringVar(&opts.exitCodeFrom, "exit-code-from", "", "return the exit code of this service (implies --abort-on-container-exit)")
	fl.StringArrayVar(&opts.scale, "scale", nil, "SERVICE=NUM: run NUM replicas of SERVICE (overrides scale/deploy.replicas)")
	fl.BoolVar(&opts.noDeps, "no-deps", false, "don't start the named services' dependencies")
	fl.BoolVar(&opts.forceRecreate, "force-recreate", false, "recreate services even if their configuration is unchanged")
	fl.BoolVar(&opts.removeOrphans, "remove-orphans", false, "stop services that are no longer in the compose file")
	opts.listen.addFlags(fl)
	fl.BoolVarP(&opts.watch, "watch", "w", false, "apply develop.watch: restart, rebuild or run a command when files change")
	fl.StringArrayVar(&opts.inspect, "inspect", nil, "record SERVICE's HTTP traffic with the inspector (berth inspect); repeatable")
	fl.StringVar(&opts.inspectCap, "inspect-body-cap", "", "how much of each request and response body the inspector keeps: 64KiB, 1MiB, 0 for none (default 256KiB)")
	fl.IntVar(&opts.timeout, "timeout", -1, "seconds to wait for services to stop before killing them (default: each service's stop_grace_period)")
	return cmd
}

// newWatchCmd is `berth watch`: up in the foreground with develop.watch applied.
func newWatchCmd(f *factory) *cobra.Command {
	opts := &upOptions{watch: true, timeout: -1}
	cmd := &cobra.Command{
		Use:   "watch [SERVICE...]",
		Short: "Start services and apply develop.watch when files change (up --watch, in the foreground)",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.services = args
			return runUp(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.noColor, "no-color", false, "monochrome output")
	fl.BoolVar(&opts.noDeps, "no-deps", false, "don't start the named services' dependencies")
	opts.listen.addFlags(fl)
	return cmd
}

func parseScale(values []string) (map[string]int, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]int{}
	for _, v := range values {
		name, num, ok := strings.Cut(v, "=")
		n, err := strconv.Atoi(num)
		if !ok || name == "" || err != nil || n < 0 {
			return nil, usageErrorf("--scale %q: want SERVICE=NUM, e.g. --scale worker=3", v)
		}
		out[name] = n
	}
	return out, nil
}

func timeoutOpt(seconds int) *time.Duration {
	if seconds < 0 {
		return nil
	}
	d := time.Duration(seconds) * time.Second
	return &d
}

func runUp(ctx context.Context, f *factory, opts *upOptions) error {
	p, err := f.loadProject(ctx)
	if err != nil {
		return err
	}
	scale, err := parseScale(opts.scale)
	if err != nil {
		return err
	}
	if opts.exitCodeFrom != "" {
		if _, ok := p.Service(opts.exitCodeFrom); !ok {
			return usageErrorf("--exit-code-from %q: %v", opts.exitCodeFrom, &engine.UnknownServiceError{Name: opts.exitCodeFrom, Known: p.ServiceNames()})
		}
	}
	for _, s := range opts.services {
		if _, ok := p.Service(s); !ok {
			return &engine.UnknownServiceError{Name: s, Known: p.ServiceNames()}
		}
	}
	for _, s := range opts.inspect {
		if _, ok := p.Service(s); !ok {
			return fmt.Errorf("--inspect %s: %w", s, &engine.UnknownServiceError{Name: s, Known: p.ServiceNames()})
		}
	}
	bodyCap, err := parseBodyCap(opts.inspectCap)
	if err != nil {
		return err
	}
	if err := p.CheckRunnable(); err != nil {
		return err
	}
	stateDir, err := engine.StateDir(p.Name)
	if err != nil {
		return err
	}
	req := engine.UpRequest{Project: p, Services: opts.services, Scale: scale, NoDeps: opts.noDeps, ForceRecreate: opts.forceRecreate, BaseEnv: os.Environ(), Watch: opts.watch, Inspect: opts.inspect, InspectBodyCap: bodyCap}
	started := time.Now()

	c, err := client.Dial(ctx, engine.SocketPath(stateDir))
	attached := err == nil
	var local *runningEngine
	var daemonExited <-chan struct{}
	switch {
	case attached:
		// An engine already runs this project: bring it in line with the file.
	case !errors.Is(err, client.ErrNotRunning):
		return err
	case opts.detach:
		if c, daemonExited, err = spawnDaemon(ctx, stateDir, opts.listen); err != nil {
			return err
		}
	default:
		log := slog.New(slog.NewTextHandler(f.ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if local, err = startEngine(stateDir, opts.listen, log); err != nil {
			return err
		}
		if c, err = client.Dial(ctx, engine.SocketPath(stateDir)); err != nil {
			force, cancel := f.forceContext()
			defer cancel()
			return errors.Join(err, local.shutdown(force, nil))
		}
	}
	defer c.Close()

	if opts.detach {
		res, err := c.Up(ctx, req)
		if err != nil {
			if daemonExited != nil {
				// Nothing may be left running after a failed up.
				_ = c.Down(context.WithoutCancel(ctx), engine.DownRequest{})
				<-daemonExited
			}
			return err
		}
		printUpResult(f, res, opts.removeOrphans)
		printDashboard(ctx, f, c)
		if opts.removeOrphans && len(res.Orphans) > 0 {
			return c.Stop(ctx, engine.StopRequest{Services: res.Orphans})
		}
		return nil
	}
	return followUp(ctx, f, c, local, req, opts, started)
}

func printUpResult(f *factory, res engine.UpResult, removeOrphans bool) {
	for _, n := range res.Created {
		fmt.Fprintf(f.ios.ErrOut, " ✔ Service %s  Started\n", n)
	}
	for _, n := range res.Recreated {
		fmt.Fprintf(f.ios.ErrOut, " ✔ Service %s  Recreated (configuration changed)\n", n)
	}
	for _, n := range res.Scaled {
		fmt.Fprintf(f.ios.ErrOut, " ✔ Service %s  Scaled\n", n)
	}
	for _, n := range res.Unchanged {
		fmt.Fprintf(f.ios.ErrOut, " ✔ Service %s  Running (unchanged)\n", n)
	}
	if len(res.Orphans) > 0 && !removeOrphans {
		fmt.Fprintf(f.ios.ErrOut, "berth: warning: services %s are running but no longer in the compose file; run `berth up --remove-orphans` to stop them\n", joinQuoted(res.Orphans))
	}
}

// printDashboard prints the dashboard URL with the owner token.
func printDashboard(ctx context.Context, f *factory, c *client.Client) {
	if u, err := c.DashboardURL(ctx); err == nil {
		fmt.Fprintf(f.ios.ErrOut, "Dashboard: %s\n", u)
	}
}

func joinQuoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// followUp brings the project up and prints its logs until the user
// interrupts, every service has exited, or (--abort-on-container-exit) one
// has. Then it stops the services (shuts the in-process engine down).
func followUp(ctx context.Context, f *factory, c *client.Client, local *runningEngine, req engine.UpRequest, opts *upOptions, started time.Time) error {
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	pr := newLogPrinter(f.ios, opts.noColor, opts.timestamps, opts.noLogPrefix)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := c.Logs(runCtx, client.LogsOptions{Tail: -1, Since: started.Format(time.RFC3339Nano), Follow: true}, func(l server.LogLine) error {
			pr.print(l)
			return nil
		})
		if err != nil && runCtx.Err() == nil {
			fmt.Fprintf(f.ios.ErrOut, "berth: following logs: %v\n", err)
		}
	}()

	var result error
	exitCode := -1
	res, err := c.Up(runCtx, req)
	if err != nil {
		if runCtx.Err() == nil {
			result = err
		}
	} else {
		printUpResult(f, res, opts.removeOrphans)
		printDashboard(runCtx, f, c)
		if opts.removeOrphans && len(res.Orphans) > 0 {
			result = c.Stop(runCtx, engine.StopRequest{Services: res.Orphans})
		}
		if result == nil {
			exitCode, result = watchExits(runCtx, c, opts)
		}
	}
	interrupted := ctx.Err() != nil
	if interrupted {
		fmt.Fprintln(f.ios.ErrOut, "Gracefully stopping... (press Ctrl+C again to force)")
	}
	force, cancel := f.forceContext()
	defer cancel()
	var stopErr error
	if local != nil {
		stopErr = local.shutdown(force, timeoutOpt(opts.timeout))
	} else {
		stopErr = c.Stop(force, engine.StopRequest{Timeout: timeoutOpt(opts.timeout)})
	}
	// Give the log stream a moment to deliver the last lines, then end it.
	time.AfterFunc(200*time.Millisecond, stopRun)
	wg.Wait()
	switch {
	case result != nil:
		return errors.Join(result, stopErr)
	case stopErr != nil:
		return stopErr
	case interrupted:
		return withExit(ExitInterrupted, nil)
	case exitCode > 0:
		return withExit(ExitCode(exitCode), nil)
	}
	return nil
}

// watchExits waits, on the event stream, until every replica has exited (0,
// nil), or with --abort-on-container-exit until one has: then it returns the
// exit code up should return. It returns when ctx ends.
func watchExits(ctx context.Context, c *client.Client, opts *upOptions) (int, error) {
	type verdict struct{ code int }
	done := errors.New("done")
	var v verdict
	check := func() (bool, error) {
		st, err := c.Ps(ctx, nil)
		if err != nil {
			return false, err
		}
		all := true
		for _, r := range st {
			finished := r.State == engine.StateExited
			if !finished {
				all = false
				continue
			}
			if opts.exitCodeFrom != "" && r.Service == opts.exitCodeFrom {
				v.code = r.ExitCode
				return true, nil
			}
			if opts.abortOnExit && opts.exitCodeFrom == "" {
				v.code = r.ExitCode
				return true, nil
			}
		}
		return all && len(st) > 0, nil
	}
	// The stream's first value (a zero event) comes once it is subscribed:
	// checking then, and at every die, misses no exit.
	err := c.Events(ctx, func(ev client.EventOrMissed) error {
		if ev.Missed == 0 && ev.Action != "die" && ev.Action != "" {
			return nil
		}
		ok, err := check()
		if err != nil {
			return err
		}
		if ok {
			return done
		}
		return nil
	})
	if errors.Is(err, done) {
		return v.code, nil
	}
	if ctx.Err() != nil {
		return -1, nil
	}
	return -1, err
}

// parseBodyCap reads --inspect-body-cap: a size with an optional unit (B,
// KB, KiB, MB, MiB; as docker's sizes), "0" for none. "" means unchanged (0).
func parseBodyCap(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(s)
	switch {
	case err != nil || n < 0:
		return 0, usageErrorf("--inspect-body-cap %q: want a size such as 64KiB or 1MiB, or 0 to keep no bodies", s)
	case n == 0:
		return -1, nil // keep none
	case n > 1<<30:
		return 0, usageErrorf("--inspect-body-cap %q: at most 1GiB", s)
	}
	return int(n), nil
}
