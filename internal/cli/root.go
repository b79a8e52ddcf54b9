// Package cli holds berth's cobra verbs, one file per verb. The verbs parse
// flags and call the engine (in-process for `up`) or a running engine through
// internal/client; they never supervise, proxy or store anything themselves.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/iostreams"
)

// globalOptions are the flags every verb accepts, as docker compose's are.
type globalOptions struct {
	files      []string
	project    string
	profiles   []string
	envFiles   []string
	projectDir string
}

// Main runs berth with the process's arguments and returns its exit code.
func Main() int {
	return int(Run(os.Args[1:], iostreams.System()))
}

// Run runs berth with args on the given streams and returns its exit code.
// The first SIGINT or SIGTERM cancels the command's context (a graceful
// stop); a second one closes the factory's force channel (kill now).
func Run(args []string, ios *iostreams.IOStreams) ExitCode {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	force := make(chan struct{})
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		n := 0
		for {
			select {
			case <-finished:
				return
			case <-sigc:
				n++
				switch n {
				case 1:
					cancel()
				case 2:
					close(force)
				}
			}
		}
	}()
	root := newRootCmd(ios, force)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := codeOf(err)
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return code
	}
	if code == ExitUsage && cmd != nil && !strings.Contains(err.Error(), "unknown command") {
		fmt.Fprintf(ios.ErrOut, "berth: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return code
	}
	fmt.Fprintf(ios.ErrOut, "berth: %v\n", err)
	return code
}

func newRootCmd(ios *iostreams.IOStreams, force <-chan struct{}) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "berth",
		Short: "Run your compose.yaml stack natively, supervised, with a live dashboard",
		Long: `berth runs the services of a compose.yaml natively, as supervised processes
(no containers), with docker compose's verbs and flags.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	pf := root.PersistentFlags()
	pf.StringArrayVarP(&g.files, "file", "f", nil, "compose configuration files")
	pf.StringVarP(&g.project, "project-name", "p", "", "project name")
	pf.StringArrayVar(&g.profiles, "profile", nil, "profiles to enable")
	pf.StringArrayVar(&g.envFiles, "env-file", nil, "alternate environment files")
	pf.StringVar(&g.projectDir, "project-directory", "", "alternate working directory (default: the folder of the first compose file)")

	f := &factory{ios: ios, global: g, force: force}
	root.AddCommand(
		newConfigCmd(f),
		newUpCmd(f),
		newDownCmd(f),
		newPsCmd(f),
		newLogsCmd(f),
		newStartCmd(f),
		newStopCmd(f),
		newRestartCmd(f),
		newKillCmd(f),
		newTopCmd(f),
		newEventsCmd(f),
		newEngineCmd(f),
		newReapCmd(),
	)
	return root
}

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%q accepts no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
