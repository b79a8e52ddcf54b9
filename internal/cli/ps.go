package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/engine"
)

func newPsCmd(f *factory) *cobra.Command {
	var format string
	var quiet, services, all bool
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] [SERVICE...]",
		Short: "List the replicas of the project's services",
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usageErrorf("--format %q: want table or json", format)
			}
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Ps(cmd.Context(), args)
			if err != nil {
				return err
			}
			if !all {
				kept := st[:0]
				for _, r := range st {
					if r.State != engine.StateExited {
						kept = append(kept, r)
					}
				}
				st = kept
			}
			out := f.ios.Out
			switch {
			case quiet:
				for _, r := range st {
					fmt.Fprintln(out, r.Name)
				}
			case services:
				seen := map[string]bool{}
				for _, r := range st {
					if !seen[r.Service] {
						seen[r.Service] = true
						fmt.Fprintln(out, r.Service)
					}
				}
			case format == "json":
				if st == nil {
					st = []engine.ReplicaStatus{}
				}
				return json.NewEncoder(out).Encode(st)
			default:
				tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
				fmt.Fprintln(tw, "NAME\tSERVICE\tSTATUS\tPID\tRESTARTS\tPORTS")
				for _, r := range st {
					pid := ""
					if r.Pid > 0 {
						pid = strconv.Itoa(r.Pid)
					}
					ports := portsText(r.Publishers)
					if r.Inspected {
						ports += " (inspected)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, r.Service, r.Status, pid, r.Restarts, ports)
				}
				return tw.Flush()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only print replica names")
	cmd.Flags().BoolVar(&services, "services", false, "only print service names")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also show replicas that have exited")
	return cmd
}

func portsText(ps []engine.Publisher) string {
	var parts []string
	for _, p := range ps {
		if p.PublishedPort == 0 {
			parts = append(parts, fmt.Sprintf("%d/%s", p.TargetPort, p.Protocol))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s:%d->%d/%s", p.URL, p.PublishedPort, p.TargetPort, p.Protocol))
	}
	return strings.Join(parts, ", ")
}
