package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/client"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/iostreams"
	"github.com/berth-dev/berth/internal/project"
)

// factory gives verbs what they share: streams, the global flags, the loaded
// project and a client of the project's running engine.
type factory struct {
	ios    *iostreams.IOStreams
	global *globalOptions
	// force is closed by a second interrupt: stop waiting, kill now.
	force <-chan struct{}
}

// forceContext returns a context cancelled by a second interrupt.
func (f *factory) forceContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-f.force:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// loadOptions builds compose loading options from the global flags and the
// process environment.
func (f *factory) loadOptions() project.LoadOptions {
	return project.LoadOptions{
		ProjectDir: f.global.projectDir,
		Files:      f.global.files,
		Name:       f.global.project,
		Profiles:   f.global.profiles,
		EnvFiles:   f.global.envFiles,
		Environ:    os.Environ(),
	}
}

// loadProject loads the compose project and prints its warnings once.
func (f *factory) loadProject(ctx context.Context) (*project.Project, error) {
	opts := f.loadOptions()
	opts.Native = true
	p, err := project.Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(f.ios.ErrOut, "berth: warning: %s\n", w)
	}
	return p, nil
}

// stateDir returns the state folder of the project named by the flags.
func (f *factory) stateDir(ctx context.Context) (string, *project.Project, error) {
	opts := f.loadOptions()
	opts.Native = true
	p, err := project.Load(ctx, opts)
	if err != nil {
		return "", nil, err
	}
	dir, err := engine.StateDir(p.Name)
	return dir, p, err
}

// projectName finds the project's name: quickly when the files say it
// plainly, else by loading the project.
func (f *factory) projectName(ctx context.Context) (string, error) {
	opts := f.loadOptions()
	if name, ok := project.QuickName(opts); ok {
		return name, nil
	}
	_, p, err := f.stateDir(ctx)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

// client returns a client of the project's running engine and the
// project's name, without loading the whole project when it can.
func (f *factory) client(ctx context.Context) (*client.Client, string, error) {
	name, err := f.projectName(ctx)
	if err != nil {
		return nil, "", err
	}
	dir, err := engine.StateDir(name)
	if err != nil {
		return nil, "", err
	}
	c, err := client.Dial(ctx, engine.SocketPath(dir))
	if errors.Is(err, client.ErrNotRunning) {
		return nil, name, fmt.Errorf("project %q is not running: %w\nhint: start it with `berth up -d`", name, err)
	}
	return c, name, err
}

// withClient runs fn with a client of the project's running engine and
// closes it after.
func (f *factory) withClient(ctx context.Context, fn func(*client.Client) error) error {
	c, _, err := f.client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

// connect returns a client of the project's running engine, or an error
// saying that the project is not running and how to start it.
func (f *factory) connect(ctx context.Context) (*client.Client, *project.Project, error) {
	dir, p, err := f.stateDir(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := client.Dial(ctx, engine.SocketPath(dir))
	if errors.Is(err, client.ErrNotRunning) {
		return nil, p, fmt.Errorf("project %q is not running: %w\nhint: start it with `berth up -d`", p.Name, err)
	}
	return c, p, err
}
