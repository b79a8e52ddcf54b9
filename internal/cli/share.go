package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/project"
	"github.com/berth-dev/berth/internal/share"
)

// shareAuthEnv holds --auth's value, to keep the password off the command
// line (and out of ps).
const shareAuthEnv = "BERTH_SHARE_AUTH"

type shareOptions struct {
	via        string
	remotePort int
	bind       string
	auth       string
	identity   string
	knownHosts string
	allowDebug bool
	stop       bool
}

func newShareCmd(f *factory) *cobra.Command {
	var o shareOptions
	cmd := &cobra.Command{
		Use:   "share SERVICE --via user@host[:port]",
		Short: "Show a service to others through an SSH server you have (remote forwarding)",
		Long: `Share publishes a service's published HTTP port on a remote SSH server you
already have, through OpenSSH remote forwarding (what ssh -R does), and prints
the public address. Keys come from your SSH agent or ~/.ssh (or --identity);
the server's host key must be in ~/.ssh/known_hosts (or --known-hosts).

Visitors go through a gate: basic auth when --auth is given (or $` + shareAuthEnv + `),
and framework debug endpoints (/__debug__/, /console, /silk/, /_debugbar,
/debug/pprof, /__clockwork, /telescope, /horizon) are refused unless
--allow-debug. Only the service's port is shared, never berth's dashboard or API.

When the link drops, share reconnects (250ms, doubling up to 10s) on the same
remote port. It runs until Ctrl-C, or until ` + "`berth share --stop [SERVICE]`" + `
(which signals it through the pid file share-SERVICE.pid in the project's state
folder). The server must allow it: AllowTcpForwarding yes, and GatewayPorts
clientspecified (or yes) for visitors from outside the server.`,
		Example: `  berth share web --via deploy@example.com --remote-port 8080
  BERTH_SHARE_AUTH=team:s3cret berth share web --via deploy@example.com:2222
  berth share --stop web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.stop {
				if len(args) > 1 {
					return usageErrorf("--stop takes at most one SERVICE, got %q", args)
				}
				svc := ""
				if len(args) == 1 {
					svc = args[0]
				}
				return runShareStop(cmd.Context(), f, svc)
			}
			if len(args) != 1 {
				return usageErrorf("share needs one SERVICE, got %d", len(args))
			}
			if o.via == "" {
				return usageErrorf("share needs --via user@host[:port]: the SSH server to publish %s on", args[0])
			}
			return runShare(cmd.Context(), f, args[0], o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.via, "via", "", "the SSH server: user@host[:port]")
	fl.IntVar(&o.remotePort, "remote-port", 0, "the port visitors use on the server (default: one the server picks, kept across reconnections)")
	fl.StringVar(&o.bind, "bind", "0.0.0.0", "the address the server listens on for visitors")
	fl.StringVar(&o.auth, "auth", "", "require basic auth from visitors: user:password (or set $"+shareAuthEnv+")")
	fl.StringVarP(&o.identity, "identity", "i", "", "private key file to log in with (default: the SSH agent, ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
	fl.StringVar(&o.knownHosts, "known-hosts", "", "known_hosts file to check the server's key against (default ~/.ssh/known_hosts)")
	fl.BoolVar(&o.allowDebug, "allow-debug", false, "let visitors reach debug endpoints (/__debug__/, /console, ...)")
	fl.BoolVar(&o.stop, "stop", false, "stop the running share of SERVICE (of every service when none is named)")
	return cmd
}

func runShare(ctx context.Context, f *factory, name string, o shareOptions) error {
	var creds *share.Credentials
	if o.auth == "" {
		o.auth = os.Getenv(shareAuthEnv)
	}
	if o.auth != "" {
		c, err := share.ParseCredentials(o.auth)
		if err != nil {
			return &usageError{err: errors.New("--auth: want user:password")}
		}
		creds = &c
	}
	if _, err := share.ParseVia(o.via); err != nil {
		return &usageError{err: err}
	}
	c, p, connErr := f.connect(ctx)
	if p == nil {
		return connErr
	}
	if c != nil {
		defer c.Close()
	}
	svc, ok := p.Service(name)
	if !ok {
		return &engine.UnknownServiceError{Name: name, Known: p.ServiceNames()}
	}
	target, ok := shareTarget(svc)
	if !ok {
		return fmt.Errorf("service %q publishes no port; add ports: [\"8000:8000\"]", name)
	}
	// The engine need not run (the port may be served by something else),
	// but visitors will get 502 until the service answers: say so.
	switch {
	case connErr == nil:
	case errors.Is(connErr, client.ErrNotRunning):
		fmt.Fprintf(f.ios.ErrOut, "berth: warning: project %q is not running; visitors get 502 until you start it (berth up -d)\n", p.Name)
	default:
		fmt.Fprintf(f.ios.ErrOut, "berth: warning: project %q: %v\n", p.Name, oneLine(connErr))
	}
	dir, err := engine.StateDir(p.Name)
	if err != nil {
		return err
	}
	lock, err := share.Lock(dir, name)
	if err != nil {
		return err
	}
	defer lock.Release()
	if c != nil {
		defer recordShared(ctx, c, f.ios.ErrOut, name)()
	}

	out := f.ios.Out
	s, err := share.New(share.Options{
		Service:     name,
		Target:      target,
		Via:         o.via,
		RemotePort:  o.remotePort,
		Bind:        o.bind,
		Auth:        creds,
		AllowDebug:  o.allowDebug,
		Identity:    o.identity,
		AgentSocket: os.Getenv("SSH_AUTH_SOCK"),
		KnownHosts:  o.knownHosts,
		Logger:      slog.New(slog.NewTextHandler(f.ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Notify: func(e share.Event) {
			switch e.Kind {
			case share.Sharing:
				fmt.Fprintf(out, "Sharing %s on %s (Ctrl-C to stop)\n", name, e.URL)
				if creds != nil {
					fmt.Fprintf(out, "Visitors sign in as %q (basic auth)\n", creds.User)
				}
				if o.allowDebug {
					fmt.Fprintf(out, "Warning: debug endpoints are shared too (--allow-debug)\n")
				}
			case share.LinkLost:
				fmt.Fprintf(out, "link lost: %v; reconnecting in %s\n", oneLine(e.Err), e.Retry)
			case share.LinkBack:
				fmt.Fprintf(out, "link back\n")
			}
		},
	})
	if err != nil {
		return &usageError{err: err}
	}
	if err := s.Run(ctx); err != nil {
		return fmt.Errorf("share service %q via %s: %w", name, o.via, err)
	}
	fmt.Fprintf(out, "Stopped sharing %s\n", name)
	return withExit(ExitInterrupted, nil)
}

// recordShared turns the inspector on for the shared service, so that what
// visitors do can be looked at (berth inspect, the dashboard), and returns
// what puts it back as it was. A service the inspector cannot see (published
// on its own port) is shared all the same, with a note.
func recordShared(ctx context.Context, c *client.Client, errOut io.Writer, name string) (restore func()) {
	restore = func() {}
	rows, err := c.Ps(ctx, []string{name})
	if err != nil {
		fmt.Fprintf(errOut, "berth: note: visitors' requests are not recorded: %v\n", oneLine(err))
		return restore
	}
	if slices.ContainsFunc(rows, func(r engine.ReplicaStatus) bool { return r.Inspected }) {
		fmt.Fprintf(errOut, "Visitors' requests are recorded: berth inspect %s\n", name)
		return restore
	}
	if _, err := c.SetInspect(ctx, name, true); err != nil {
		fmt.Fprintf(errOut, "berth: note: visitors' requests are not recorded: %v\n", oneLine(err))
		return restore
	}
	fmt.Fprintf(errOut, "Visitors' requests are recorded while sharing: berth inspect %s\n", name)
	return func() {
		// ctx may be over (Ctrl-C): turning the inspector off still must happen.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.SetInspect(ctx, name, false); err != nil {
			fmt.Fprintf(errOut, "berth: warning: could not turn the inspector off for %s: %v (berth inspect off %s)\n", name, oneLine(err), name)
		}
	}
}

// shareTarget is where the service's first published TCP port answers on
// this machine.
func shareTarget(svc *project.Service) (string, bool) {
	for _, pt := range svc.Ports {
		if pt.Protocol != "" && pt.Protocol != "tcp" {
			continue
		}
		port := pt.Published
		if port == 0 {
			// Natively the service binds its own port.
			port = pt.Target
		}
		if port == 0 {
			continue
		}
		host := "127.0.0.1"
		if ip := net.ParseIP(pt.HostIP); ip != nil && !ip.IsUnspecified() {
			host = ip.String()
		}
		return net.JoinHostPort(host, strconv.Itoa(port)), true
	}
	return "", false
}

// oneLine keeps the first line of an error (its hints are for the first
// failure, not for every retry).
func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func runShareStop(ctx context.Context, f *factory, service string) error {
	dir, p, err := f.stateDir(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	stopped, err := share.Stop(ctx, dir, service)
	for _, s := range stopped {
		fmt.Fprintf(f.ios.Out, "Stopped sharing %s (pid %d)\n", s.Service, s.Pid)
	}
	if err != nil {
		return err
	}
	if len(stopped) == 0 {
		if service != "" {
			fmt.Fprintf(f.ios.ErrOut, "berth: service %q is not shared; nothing to stop\n", service)
		} else {
			fmt.Fprintf(f.ios.ErrOut, "berth: no service of project %q is shared; nothing to stop\n", p.Name)
		}
	}
	return nil
}
