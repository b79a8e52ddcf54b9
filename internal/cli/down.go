package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/project"
)

func newDownCmd(f *factory) *cobra.Command {
	var volumes, removeOrphans bool
	var timeout int
	cmd := &cobra.Command{
		Use:   "down [OPTIONS]",
		Short: "Stop every service and the engine; with -v also remove named volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// The volumes to remove come from the compose file; without -v
			// the project's name is enough.
			var p *project.Project
			name, err := f.projectName(ctx)
			if err != nil {
				return err
			}
			if volumes {
				if _, p, err = f.stateDir(ctx); err != nil {
					return err
				}
				name = p.Name
			}
			dir, err := engine.StateDir(name)
			if err != nil {
				return err
			}
			c, err := client.Dial(ctx, engine.SocketPath(dir))
			switch {
			case errors.Is(err, client.ErrNotRunning):
				// Nothing runs; down -v still removes the volumes.
			case err != nil:
				return err
			default:
				defer c.Close()
				if err := c.Down(context.WithoutCancel(ctx), engine.DownRequest{Timeout: timeoutOpt(timeout), RemoveOrphans: removeOrphans}); err != nil {
					return err
				}
				fmt.Fprintf(f.ios.ErrOut, " ✔ Project %s  Stopped\n", name)
			}
			if volumes {
				if err := engine.RemoveVolumes(dir, p.Volumes); err != nil {
					return err
				}
				for _, v := range p.Volumes {
					fmt.Fprintf(f.ios.ErrOut, " ✔ Volume %s  Removed\n", v)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove the named volumes declared in the compose file")
	cmd.Flags().BoolVar(&removeOrphans, "remove-orphans", false, "also stop services no longer in the compose file (down always stops every service berth runs)")
	cmd.Flags().IntVarP(&timeout, "timeout", "t", -1, "seconds to wait for services to stop before killing them")
	return cmd
}
