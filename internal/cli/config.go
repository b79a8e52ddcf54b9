package cli

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/project"
)

// configOptions are the flags of `berth config`.
type configOptions struct {
	format   string
	services bool
	profiles bool
	volumes  bool
	quiet    bool
	output   string
}

// newConfigCmd returns `berth config`: load the compose files as docker
// compose does and print the result in its canonical form.
func newConfigCmd(f *factory) *cobra.Command {
	opts := &configOptions{}
	cmd := &cobra.Command{
		Use:   "config [OPTIONS]",
		Short: "Parse, resolve and render the compose files in canonical format",
		Long: `Parse, resolve and render the compose files in canonical format, exactly as
docker compose config does. Warnings about keys berth cannot honour natively
go to stderr; errors name the file, line and key.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.format != "yaml" && opts.format != "json" {
				return usageErrorf("invalid --format %q: use yaml or json", opts.format)
			}
			return runConfig(cmd, f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.format, "format", "yaml", "output format: yaml or json")
	fl.BoolVar(&opts.services, "services", false, "print the service names, one per line")
	fl.BoolVar(&opts.profiles, "profiles", false, "print the profile names, one per line")
	fl.BoolVar(&opts.volumes, "volumes", false, "print the volume names, one per line")
	fl.BoolVarP(&opts.quiet, "quiet", "q", false, "only validate the configuration, print nothing")
	fl.StringVarP(&opts.output, "output", "o", "", "write the configuration to `FILE` instead of stdout")
	return cmd
}

func runConfig(cmd *cobra.Command, f *factory, opts *configOptions) error {
	p, err := f.loadProject(cmd.Context())
	if err != nil {
		return err
	}
	if opts.quiet {
		return nil
	}
	out := f.ios.Out
	switch {
	case opts.services:
		return printLines(out, dependencyOrder(p))
	case opts.profiles:
		return printLines(out, p.ProfileNames())
	case opts.volumes:
		return printLines(out, p.VolumeNames())
	}
	b, err := p.MarshalConfig(opts.format)
	if err != nil {
		return err
	}
	if opts.output != "" {
		if err := os.WriteFile(opts.output, b, 0o666); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
		return nil
	}
	_, err = out.Write(b)
	return err
}

func printLines(w io.Writer, lines []string) error {
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// dependencyOrder lists the services with every dependency before its
// dependents (ties by name), as docker compose config --services does.
func dependencyOrder(p *project.Project) []string {
	names := p.ServiceNames()
	sort.Strings(names)
	seen := map[string]bool{}
	var out []string
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		s, ok := p.Service(n)
		if !ok {
			return
		}
		deps := make([]string, 0, len(s.DependsOn))
		for d := range s.DependsOn {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		for _, d := range deps {
			visit(d)
		}
		out = append(out, n)
	}
	for _, n := range names {
		visit(n)
	}
	return out
}
