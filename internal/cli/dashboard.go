package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newDashboardCmd(f *factory) *cobra.Command {
	var urlOnly bool
	cmd := &cobra.Command{
		Use:   "dashboard [--url]",
		Short: "Print the address of the running project's dashboard and API (with your token)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			u, err := c.DashboardURL(cmd.Context())
			if err != nil {
				return err
			}
			if urlOnly {
				fmt.Fprintln(f.ios.Out, u)
				return nil
			}
			fmt.Fprintf(f.ios.Out, "Dashboard: %s\n", u)
			return nil
		},
	}
	cmd.Flags().BoolVar(&urlOnly, "url", false, "print only the URL (for scripts)")
	return cmd
}

func newPublishCmd(f *factory) *cobra.Command {
	var stream string
	cmd := &cobra.Command{
		Use:   "publish --stream topic/NAME [JSON]",
		Short: "Publish JSON payloads to a topic stream (the argument, or one per line of stdin)",
		Long: `Publish puts JSON payloads on a topic stream of the running project, to every
WebSocket client subscribed to it. With an argument it publishes that one payload;
without, it publishes each line of standard input until EOF.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !strings.HasPrefix(stream, "topic/") {
				stream = "topic/" + stream
			}
			c, _, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if len(args) == 1 {
				if !json.Valid([]byte(args[0])) {
					return usageErrorf("payload %q is not JSON", args[0])
				}
				_, err := c.Publish(cmd.Context(), stream, json.RawMessage(args[0]))
				return err
			}
			sc := bufio.NewScanner(f.ios.In)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for n := 1; sc.Scan(); n++ {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				if !json.Valid(line) {
					return fmt.Errorf("publish: stdin line %d is not JSON", n)
				}
				if _, err := c.Publish(cmd.Context(), stream, append(json.RawMessage(nil), line...)); err != nil {
					return fmt.Errorf("publish: stdin line %d: %w", n, err)
				}
			}
			return sc.Err()
		},
	}
	cmd.Flags().StringVar(&stream, "stream", "", "the topic stream (topic/NAME, or NAME)")
	_ = cmd.MarkFlagRequired("stream")
	return cmd
}
