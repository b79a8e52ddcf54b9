package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/store"
)

type runOptions struct {
	detach  bool
	rm      bool
	noDeps  bool
	env     []string
	workdir string
	notify  []string
	noTTY   bool
	tty     bool
}

func (o *runOptions) validateEnv() error {
	for _, kv := range o.env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return usageErrorf("-e %q: want KEY=VALUE", kv)
		}
	}
	return nil
}

func newRunCmd(f *factory) *cobra.Command {
	opts := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE [COMMAND...]",
		Short: "Run a one-off command in a service's configuration, as a job (its dependencies started first)",
		Long: `Run a one-off command with the service's environment and working folder, after
starting its dependencies. It runs as a job: its output is kept, and whoever watches it
(berth jobs watch ID, the dashboard) sees it live. -d prints the job id and returns.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validateEnv(); err != nil {
				return err
			}
			return runJob(cmd.Context(), f, engine.JobRequest{Kind: store.KindRun, Service: args[0], Command: args[1:], Env: opts.env, WorkDir: opts.workdir, NoDeps: opts.noDeps, Watchers: opts.notify}, opts.detach)
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&opts.detach, "detach", "d", false, "start the job and print its id")
	fl.BoolVar(&opts.rm, "rm", false, "accepted for docker compose compatibility (a native one-off leaves nothing behind)")
	fl.BoolVar(&opts.noDeps, "no-deps", false, "don't start the service's dependencies")
	fl.StringArrayVarP(&opts.env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	fl.StringVarP(&opts.workdir, "workdir", "w", "", "working folder of the command")
	fl.StringArrayVar(&opts.notify, "notify", nil, "also notify this user (token name) when the job ends")
	return cmd
}

func newExecCmd(f *factory) *cobra.Command {
	opts := &runOptions{}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SERVICE COMMAND...",
		Short: "Run a command in a running service's environment and folder, as a job",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validateEnv(); err != nil {
				return err
			}
			// Like docker compose exec: a terminal when stdin is one, unless -T.
			tty := f.ios.IsStdinTTY() && !opts.noTTY && !opts.detach
			return runJob(cmd.Context(), f, engine.JobRequest{Kind: store.KindExec, Service: args[0], Command: args[1:], Env: opts.env, WorkDir: opts.workdir, Watchers: opts.notify, TTY: tty}, opts.detach)
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&opts.detach, "detach", "d", false, "start the command as a job and print its id")
	fl.BoolVarP(&opts.noTTY, "no-TTY", "T", false, "don't run the command on a terminal (the default when stdin is not a terminal)")
	fl.StringArrayVarP(&opts.env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	fl.StringVarP(&opts.workdir, "workdir", "w", "", "working folder of the command")
	fl.StringArrayVar(&opts.notify, "notify", nil, "also notify this user (token name) when the job ends")
	return cmd
}

// runJob starts a job, then (unless detached) prints its output until it
// ends and exits with its exit code. Ctrl-C cancels the job.
func runJob(ctx context.Context, f *factory, req engine.JobRequest, detach bool) error {
	c, _, err := f.client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	job, err := c.StartJob(ctx, req)
	if err != nil {
		return err
	}
	if detach {
		fmt.Fprintln(f.ios.Out, job.ID)
		return nil
	}
	if req.TTY {
		conn, err := c.AttachJob(ctx, job.ID)
		if err != nil {
			return err
		}
		if _, err := runTerminal(ctx, f, conn); err != nil {
			return err
		}
		return jobExit(ctx, c, job.ID)
	}
	return watchJob(ctx, f, c, job.ID, true)
}

// watchJob prints a job's output until it ends and returns its exit code
// as the process's. With cancelOnInterrupt, Ctrl-C cancels the job.
func watchJob(ctx context.Context, f *factory, c *client.Client, id int64, cancelOnInterrupt bool) error {
	end, err := c.WatchJob(ctx, id, func(o engine.JobOutput) error {
		w := f.ios.Out
		if o.Stream == "stderr" {
			w = f.ios.ErrOut
		}
		_, err := fmt.Fprintln(w, o.Text)
		return err
	})
	if ctx.Err() != nil {
		if cancelOnInterrupt {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = c.CancelJob(cctx, id)
		}
		return withExit(ExitInterrupted, nil)
	}
	if err != nil {
		return err
	}
	switch {
	case end.Status == store.StatusSucceeded:
		return nil
	case end.ExitCode != nil && *end.ExitCode > 0:
		return withExit(ExitCode(*end.ExitCode), nil)
	case end.Error != "":
		return fmt.Errorf("job %d %s: %s", id, end.Status, end.Error)
	}
	return withExit(ExitError, nil)
}

// jobExit waits for a job's end (its terminal closed first) and returns
// its exit code as the process's.
func jobExit(ctx context.Context, c *client.Client, id int64) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return err
		}
		if j.Status.Terminal() {
			if j.ExitCode != nil && *j.ExitCode != 0 {
				return withExit(ExitCode(*j.ExitCode), nil)
			}
			if j.Status != store.StatusSucceeded {
				return withExit(ExitError, nil)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return withExit(ExitInterrupted, nil)
		case <-tick.C:
		}
	}
}

func newJobsCmd(f *factory) *cobra.Command {
	var format, service string
	var limit int
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List jobs (one-offs, execs, restarts): who launched them, status, exit code",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usageErrorf("--format %q: want table or json", format)
			}
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			jobs, err := c.Jobs(cmd.Context(), service, limit)
			if err != nil {
				return err
			}
			if format == "json" {
				return json.NewEncoder(f.ios.Out).Encode(jobs)
			}
			tw := tabwriter.NewWriter(f.ios.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "ID\tSERVICE\tKIND\tSTATUS\tEXIT\tBY\tSTARTED\tCOMMAND")
			for _, j := range jobs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Service, j.Kind, j.Status, exitText(j.ExitCode), j.LaunchedBy, j.CreatedAt.Local().Format("15:04:05"), strings.Join(j.Command, " "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().StringVar(&service, "service", "", "only jobs of this service")
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "how many jobs, newest first")
	cmd.AddCommand(newJobsShowCmd(f), newJobsWatchCmd(f), newJobsCancelCmd(f))
	return cmd
}

func exitText(code *int) string {
	if code == nil {
		return "-"
	}
	return strconv.Itoa(*code)
}

func parseJobID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("job id %q: want a positive number (see `berth jobs`)", s)
	}
	return id, nil
}

func newJobsShowCmd(f *factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a job and its output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseJobID(args[0])
			if err != nil {
				return err
			}
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			j, err := c.Job(cmd.Context(), id)
			if err != nil {
				return err
			}
			if format == "json" {
				return json.NewEncoder(f.ios.Out).Encode(j)
			}
			fmt.Fprintf(f.ios.Out, "Job %d: %s %s in %s\nLaunched by %s at %s; watchers: %s\nStatus: %s, exit code %s\n",
				j.ID, j.Kind, strings.Join(j.Command, " "), j.Service, j.LaunchedBy, j.CreatedAt.Local().Format(time.DateTime), strings.Join(j.Watchers, ", "), j.Status, exitText(j.ExitCode))
			if j.Error != "" {
				fmt.Fprintf(f.ios.Out, "Error: %s\n", j.Error)
			}
			fmt.Fprintln(f.ios.Out, "Output:")
			return c.JobOutput(cmd.Context(), id, func(o engine.JobOutput) error {
				_, err := fmt.Fprintln(f.ios.Out, "  "+o.Text)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func newJobsWatchCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a job's output until it ends; exit with its exit code",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseJobID(args[0])
			if err != nil {
				return err
			}
			return f.withClient(cmd.Context(), func(c *client.Client) error { return watchJob(cmd.Context(), f, c, id, false) })
		},
	}
}

func newJobsCancelCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop a running job",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseJobID(args[0])
			if err != nil {
				return err
			}
			return f.withClient(cmd.Context(), func(c *client.Client) error { return c.CancelJob(cmd.Context(), id) })
		},
	}
}

func newTokenCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage named tokens, so that teammates are users: who launched, who watches",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Create a token for NAME and print its dashboard URL (shown once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			t, err := c.CreateToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(f.ios.Out, t.Secret)
			if u, err := c.DashboardURL(cmd.Context()); err == nil {
				base, _, _ := strings.Cut(u, "?")
				fmt.Fprintf(f.ios.ErrOut, "Token for %s (shown once). Their dashboard: %s?token=%s\n", t.Name, base, t.Secret)
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ts, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(f.ios.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tSTATE\tLAST USED")
			for _, t := range ts {
				state, used := "active", "-"
				if t.RevokedAt != nil {
					state = "revoked " + t.RevokedAt.Local().Format(time.DateTime)
				}
				if t.LastUsed != nil {
					used = t.LastUsed.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.CreatedAt.Local().Format(time.DateTime), state, used)
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke NAME's token: requests and new connections with it are refused (open WebSockets stay until they close)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withClient(cmd.Context(), func(c *client.Client) error { return c.RevokeToken(cmd.Context(), args[0]) })
		},
	})
	return cmd
}
