package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/engine"
)

func parseNonNegative(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a non-negative number: %q", s)
	}
	return n, nil
}

func newStartCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "start [SERVICE...]",
		Short: "Start stopped services",
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withClient(cmd.Context(), func(c *client.Client) error { return c.Start(cmd.Context(), args) })
		},
	}
}

func newStopCmd(f *factory) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] [SERVICE...]",
		Short: "Stop services (stop signal, then SIGKILL after the grace period)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withClient(cmd.Context(), func(c *client.Client) error {
				return c.Stop(cmd.Context(), engine.StopRequest{Services: args, Timeout: timeoutOpt(timeout)})
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", -1, "seconds to wait before killing (default: stop_grace_period)")
	return cmd
}

func newRestartCmd(f *factory) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] [SERVICE...]",
		Short: "Restart services",
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withClient(cmd.Context(), func(c *client.Client) error {
				return c.Restart(cmd.Context(), engine.StopRequest{Services: args, Timeout: timeoutOpt(timeout)})
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", -1, "seconds to wait before killing (default: stop_grace_period)")
	return cmd
}

func newKillCmd(f *factory) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] [SERVICE...]",
		Short: "Send a signal (default SIGKILL) to services' process groups",
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withClient(cmd.Context(), func(c *client.Client) error {
				return c.Kill(cmd.Context(), engine.KillRequest{Services: args, Signal: signal})
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "SIGKILL", "signal to send")
	return cmd
}

func newTopCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "top [SERVICE...]",
		Short: "Show the processes of running services",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			procs, err := c.Top(cmd.Context(), args)
			if err != nil {
				return err
			}
			last := ""
			tw := tabwriter.NewWriter(f.ios.Out, 0, 4, 3, ' ', 0)
			for _, p := range procs {
				if p.Name != last {
					if last != "" {
						fmt.Fprintln(tw)
					}
					fmt.Fprintln(tw, p.Name)
					fmt.Fprintln(tw, "PID\tPPID\tCMD")
					last = p.Name
				}
				fmt.Fprintf(tw, "%d\t%d\t%s\n", p.Pid, p.PPid, p.Command)
			}
			return tw.Flush()
		},
	}
}

func newEventsCmd(f *factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "events [OPTIONS] [SERVICE...]",
		Short: "Stream the project's events (start, die, health_status, ...)",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, name, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			want := map[string]bool{}
			for _, a := range args {
				want[a] = true
			}
			ws, err := c.DialWS(cmd.Context())
			if err != nil {
				return err
			}
			defer ws.Close()
			if err := ws.Subscribe(cmd.Context(), []string{"events"}, nil); err != nil {
				return err
			}
			enc := json.NewEncoder(f.ios.Out)
			for {
				fr, err := ws.Next(cmd.Context())
				if err != nil {
					if cmd.Context().Err() != nil || client.CloseStatus(err) == int(websocket.StatusNormalClosure) {
						return nil
					}
					return fmt.Errorf("events: %w", err)
				}
				if ctl, ok := fr.Control(); ok {
					switch ctl.Op {
					case "subscribed":
						fmt.Fprintf(f.ios.ErrOut, "Watching the events of project %q (Ctrl-C to stop)\n", name)
					case "missed":
						fmt.Fprintf(f.ios.ErrOut, "berth: %d events missed (reader too slow)\n", ctl.Count)
					case "error":
						return fmt.Errorf("events: %s", ctl.Message)
					}
					continue
				}
				var ev engine.Event
				if err := json.Unmarshal(fr.Payload, &ev); err != nil {
					return fmt.Errorf("events: %w", err)
				}
				if len(want) > 0 && !want[ev.Service] {
					continue
				}
				if asJSON {
					err = enc.Encode(ev)
				} else {
					_, err = fmt.Fprintf(f.ios.Out, "%s container %s %s (service=%s)\n", ev.Time.Format("2006-01-02 15:04:05.000000"), ev.Action, ev.ID, ev.Service)
				}
				if err != nil {
					return err
				}
			}
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per event")
	return cmd
}
