package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/server"
)

func newLogsCmd(f *factory) *cobra.Command {
	var follow, timestamps, noColor, noPrefix bool
	var tail, since string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] [SERVICE...]",
		Short: "Show the output of services (every line is kept on disk)",
		RunE: func(cmd *cobra.Command, args []string) error {
			n := -1
			if tail != "all" {
				v, err := parseNonNegative(tail)
				if err != nil {
					return usageErrorf("--tail %q: want a number of lines or \"all\"", tail)
				}
				n = v
			}
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			pr := newLogPrinter(f.ios, noColor, timestamps, noPrefix)
			opts := client.LogsOptions{Services: args, Tail: n, Since: since}
			print := func(l server.LogLine) error {
				if l.IsCursor() {
					return nil
				}
				pr.print(l)
				return nil
			}
			if follow {
				return c.FollowLogs(cmd.Context(), opts, print)
			}
			return c.Logs(cmd.Context(), opts, print)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "follow log output (across restarts)")
	fl.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	fl.BoolVar(&noColor, "no-color", false, "monochrome output")
	fl.BoolVar(&noPrefix, "no-log-prefix", false, "don't print the replica name before each line")
	fl.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of each service's log")
	fl.StringVar(&since, "since", "", "show lines since a time (2026-01-02T15:04:05Z) or a duration ago (10m)")
	return cmd
}
