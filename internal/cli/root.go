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
	pre := &globalOptions{}
	rest, err := splitGlobal(args, pre)
	if err != nil {
		fmt.Fprintf(ios.ErrOut, "berth: %v\n", err)
		return ExitUsage
	}
	root := newRootCmd(ios, force, pre)
	root.SetArgs(rest)
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

// newRootCmd builds the command tree; pre holds the global flags given
// before the verb, which come first (flags after the verb add to them).
func newRootCmd(ios *iostreams.IOStreams, force <-chan struct{}, pre *globalOptions) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "berth",
		Short: "Run your compose.yaml stack natively, supervised, with a live dashboard",
		Long: `berth runs the services of a compose.yaml natively, as supervised processes
(no containers), with docker compose's verbs and flags.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			g.files = append(append([]string(nil), pre.files...), g.files...)
			g.profiles = append(append([]string(nil), pre.profiles...), g.profiles...)
			g.envFiles = append(append([]string(nil), pre.envFiles...), g.envFiles...)
			if g.project == "" {
				g.project = pre.project
			}
			if g.projectDir == "" {
				g.projectDir = pre.projectDir
			}
		},
	}
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	f := &factory{ios: ios, global: g, force: force}
	root.AddCommand(
		newConfigCmd(f),
		newUpCmd(f),
		newWatchCmd(f),
		newDownCmd(f),
		newPsCmd(f),
		newLogsCmd(f),
		newStartCmd(f),
		newStopCmd(f),
		newRestartCmd(f),
		newKillCmd(f),
		newTopCmd(f),
		newEventsCmd(f),
		newDashboardCmd(f),
		newRunCmd(f),
		newExecCmd(f),
		newAttachCmd(f),
		newJobsCmd(f),
		newTokenCmd(f),
		newPublishCmd(f),
		newShareCmd(f),
		newInspectCmd(f),
		newEngineCmd(f),
		newReapCmd(),
	)
	for _, c := range root.Commands() {
		if !c.Hidden {
			addGlobalFlags(c, g)
		}
	}
	return root
}

// addGlobalFlags gives a verb docker compose's global flags, so they work
// after the verb too (berth config -p x). `logs` keeps -f for --follow, as
// in docker compose; there, --file has no shorthand.
func addGlobalFlags(cmd *cobra.Command, g *globalOptions) {
	fl := cmd.Flags()
	if cmd.HasSubCommands() {
		fl = cmd.PersistentFlags()
	}
	if fl.ShorthandLookup("f") == nil {
		fl.StringArrayVarP(&g.files, "file", "f", nil, "compose configuration files")
	} else {
		fl.StringArrayVar(&g.files, "file", nil, "compose configuration files")
	}
	fl.StringVarP(&g.project, "project-name", "p", "", "project name")
	fl.StringArrayVar(&g.profiles, "profile", nil, "profiles to enable")
	fl.StringArrayVar(&g.envFiles, "env-file", nil, "alternate environment files")
	fl.StringVar(&g.projectDir, "project-directory", "", "alternate working directory (default: the folder of the first compose file)")
}

// splitGlobal takes the global flags that come before the verb
// (berth -f a.yaml -p x logs -f) out of args, into g.
func splitGlobal(args []string, g *globalOptions) ([]string, error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			return args[i:], nil
		}
		name, value, hasValue := strings.Cut(a, "=")
		var dst func(string)
		switch name {
		case "-f", "--file":
			dst = func(v string) { g.files = append(g.files, v) }
		case "-p", "--project-name":
			dst = func(v string) { g.project = v }
		case "--profile":
			dst = func(v string) { g.profiles = append(g.profiles, v) }
		case "--env-file":
			dst = func(v string) { g.envFiles = append(g.envFiles, v) }
		case "--project-directory":
			dst = func(v string) { g.projectDir = v }
		default:
			// Not a global flag (--help, --version...): let cobra see it.
			return args[i:], nil
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, usageErrorf("flag %s needs a value", name)
			}
			i++
			value = args[i]
		}
		dst(value)
	}
	return nil, nil
}

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%q accepts no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
