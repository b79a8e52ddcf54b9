package project

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// LoadOptions says which compose files to load and how, as docker compose's
// global flags and environment do.
type LoadOptions struct {
	// WorkingDir is the folder relative paths and default file discovery
	// start from ("" means the process's working directory).
	WorkingDir string
	// ProjectDir is --project-directory: the project folder, when it is not
	// the folder of the first compose file.
	ProjectDir string
	// Files are the -f files, in order. Empty means COMPOSE_FILE, else the
	// default names (compose.yaml, docker-compose.yml, ...) searched upwards.
	Files []string
	// Name is -p. Empty means COMPOSE_PROJECT_NAME, the top-level name:, or
	// the project folder's name.
	Name string
	// Profiles are the --profile values. Empty means COMPOSE_PROFILES.
	Profiles []string
	// EnvFiles are the --env-file values. Empty means COMPOSE_ENV_FILES, else
	// the project folder's .env when it exists.
	EnvFiles []string
	// Native accepts services that name neither an image nor a build (docker
	// compose refuses them; berth runs their command). `config` leaves it off
	// so that its output and errors stay docker compose's.
	Native bool
	// Environ is the OS environment as KEY=VALUE (callers pass os.Environ()).
	// Load never reads the process environment itself.
	Environ []string
}

// Environment variables with a meaning to the loader, as docker compose names them.
const (
	envComposeFile       = "COMPOSE_FILE"
	envComposePathSep    = "COMPOSE_PATH_SEPARATOR"
	envComposeEnvFiles   = "COMPOSE_ENV_FILES"
	envComposeDisableEnv = "COMPOSE_DISABLE_ENV_FILE"
	envPythonUnbuffered  = "PYTHONUNBUFFERED"
	defaultStopSignal    = "SIGTERM"
	extensionName        = "x-berth"
)

// defaultFileNames and defaultOverrideNames are compose-go's discovery
// names, in order of preference.
var (
	defaultFileNames     = cli.DefaultFileNames
	defaultOverrideNames = cli.DefaultOverrideFileNames
)

// Load loads a compose project as docker compose does (files, .env,
// interpolation, extends, include, profiles, overrides) and converts it to
// berth's Project. Errors name the file, line and key where they can be
// found; keys berth cannot honour natively become Project.Warnings.
func Load(ctx context.Context, opts LoadOptions) (*Project, error) {
	cp, sources, logged, err := loadCompose(ctx, opts)
	if err != nil {
		return nil, err
	}
	p, err := convertProject(cp, sources)
	if err != nil {
		return nil, err
	}
	p.Warnings = append(logged, p.Warnings...)
	sortWarnings(p.Warnings)
	return p, nil
}

// sortWarnings orders warnings by file, then line (stable otherwise).
func sortWarnings(ws []Warning) {
	sort.SliceStable(ws, func(i, j int) bool {
		if ws[i].File != ws[j].File {
			return ws[i].File < ws[j].File
		}
		return ws[i].Line < ws[j].Line
	})
}

// loadCompose runs compose-go and returns its project, the parsed source
// files (for lines) and the warnings compose-go logged.
func loadCompose(ctx context.Context, opts LoadOptions) (*types.Project, *sourceSet, []Warning, error) {
	wd := opts.WorkingDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, nil, nil, fmt.Errorf("load project: %w", err)
		}
	}
	wd, err := filepath.Abs(wd)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("load project: %w", err)
	}
	abs := func(p string) string {
		if p == "" || p == "-" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(wd, p)
	}

	env := types.Mapping{}
	for _, kv := range opts.Environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		env[k] = v
	}
	if _, ok := env["PWD"]; !ok {
		// docker compose adds PWD when the shell did not export it.
		env["PWD"] = wd
	}

	projectDir := abs(opts.ProjectDir)
	envFiles := make([]string, 0, len(opts.EnvFiles))
	for _, f := range opts.EnvFiles {
		envFiles = append(envFiles, abs(f))
	}
	if len(envFiles) == 0 {
		for _, f := range strings.Split(env[envComposeEnvFiles], ",") {
			if f = strings.TrimSpace(f); f != "" {
				envFiles = append(envFiles, abs(f))
			}
		}
	}
	noDefaultEnv := envBool(env[envComposeDisableEnv])

	var files []string
	for _, f := range opts.Files {
		files = append(files, abs(f))
	}
	capture := newLogCapture()
	if len(files) == 0 {
		// First pass, as docker compose: the .env of the start folder may
		// set COMPOSE_FILE, COMPOSE_PROFILES or COMPOSE_PROJECT_NAME.
		start := wd
		if projectDir != "" {
			start = projectDir
		}
		if err := mergeDotEnv(env, envFiles, start, noDefaultEnv); err != nil {
			return nil, nil, nil, fmt.Errorf("load project: %w", err)
		}
		if cf, ok := env[envComposeFile]; ok && cf != "" {
			sep := env[envComposePathSep]
			if sep == "" {
				sep = string(os.PathListSeparator)
			}
			for _, f := range strings.Split(cf, sep) {
				files = append(files, abs(f))
			}
		} else {
			files = discoverFiles(start, capture)
		}
		if len(files) == 0 {
			return nil, nil, nil, fmt.Errorf("load project: %w (looked for %s in %s and its parents)",
				ErrNoComposeFile, strings.Join(defaultFileNames, ", "), start)
		}
	}

	var includes []string
	listener := func(event string, meta map[string]any) {
		if event != "include" {
			return
		}
		dir, _ := meta["workingdir"].(string)
		if paths, ok := meta["path"].(types.StringList); ok {
			for _, p := range paths {
				if !filepath.IsAbs(p) && dir != "" {
					p = filepath.Join(dir, p)
				}
				includes = append(includes, p)
			}
		}
	}

	po, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(projectDir),
		func(o *cli.ProjectOptions) error {
			o.Environment = env.Clone()
			return nil
		},
		withEnvFiles(envFiles, projectDir, files, noDefaultEnv),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(opts.Profiles...),
		cli.WithName(opts.Name),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithDiscardEnvFile,
		cli.WithoutUnnecessaryResources,
	)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("load project: %w", err)
	}
	po.WithListeners(listener)

	sources := newSourceSet()
	for _, f := range files {
		sources.add(f)
	}

	var cp *types.Project
	capture.run(func() {
		cp, err = po.LoadProject(ctx)
	})
	if err != nil && opts.Native && reNoImage.MatchString(err.Error()) {
		// Natively a service needs no image: its command is what runs.
		// CheckRunnable rejects the ones that have nothing to run.
		if cerr := cli.WithConsistency(false)(po); cerr == nil {
			capture.run(func() {
				cp, err = po.LoadProject(ctx)
			})
		}
	}
	if err != nil {
		for _, f := range includes {
			sources.add(f)
		}
		return nil, nil, nil, sources.explain(err)
	}
	for _, f := range includes {
		sources.add(f)
	}
	if err := cp.CheckContainerNameUnicity(); err != nil {
		return nil, nil, nil, sources.explain(err)
	}
	logged := capture.warnings()
	for i, w := range logged {
		logged[i] = sources.locateLog(w)
	}
	return cp, sources, logged, nil
}

// withEnvFiles selects the env files for interpolation: the explicit ones,
// else the project folder's .env when it exists.
func withEnvFiles(explicit []string, projectDir string, files []string, noDefault bool) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		if len(explicit) > 0 {
			o.EnvFiles = explicit
			return nil
		}
		if noDefault {
			return nil
		}
		dir := projectDir
		if dir == "" && len(files) > 0 && files[0] != "-" {
			dir = filepath.Dir(files[0])
		}
		if dir == "" {
			return nil
		}
		dot := filepath.Join(dir, ".env")
		if st, err := os.Stat(dot); err == nil && !st.IsDir() {
			o.EnvFiles = []string{dot}
		}
		return nil
	}
}

// mergeDotEnv merges the env files (or start/.env) into env; variables
// already set win.
func mergeDotEnv(env types.Mapping, envFiles []string, start string, noDefault bool) error {
	files := envFiles
	if len(files) == 0 {
		if noDefault {
			return nil
		}
		dot := filepath.Join(start, ".env")
		st, err := os.Stat(dot)
		if err != nil || st.IsDir() {
			return nil
		}
		files = []string{dot}
	}
	m, err := dotenv.GetEnvFromFile(env, files)
	if err != nil {
		return err
	}
	env.Merge(m)
	return nil
}

// discoverFiles finds the default compose file (and override) in start or
// the nearest parent that has one.
func discoverFiles(start string, capture *logCapture) []string {
	dir := start
	for {
		found := existing(dir, defaultFileNames)
		if len(found) > 0 {
			if len(found) > 1 {
				capture.add(Warning{File: found[0], Key: "files",
					Message: fmt.Sprintf("found multiple config files with supported names: %s; using %s",
						strings.Join(found, ", "), filepath.Base(found[0]))})
			}
			files := []string{found[0]}
			if over := existing(dir, defaultOverrideNames); len(over) > 0 {
				if len(over) > 1 {
					capture.add(Warning{File: over[0], Key: "files",
						Message: fmt.Sprintf("found multiple override files with supported names: %s; using %s",
							strings.Join(over, ", "), filepath.Base(over[0]))})
				}
				files = append(files, over[0])
			}
			return files
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

func existing(dir string, names []string) []string {
	var found []string
	for _, n := range names {
		f := filepath.Join(dir, n)
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			found = append(found, f)
		}
	}
	return found
}

func envBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}

// ErrNoComposeFile is returned (wrapped) by Load when no compose file was
// given and none was found; callers that only need a project name (down -p)
// can branch on it.
var ErrNoComposeFile = errors.New("no configuration file provided: not found")

// logMu serialises loads: compose-go logs through logrus's global logger,
// which each load points at its own capture while it runs.
var logMu sync.Mutex

// logCapture collects what compose-go logs during one load, so that it
// reaches the user as berth Warnings instead of logrus lines on stderr.
type logCapture struct {
	// entries is written by the logrus hook while logMu is held.
	entries []Warning
}

func newLogCapture() *logCapture { return &logCapture{} }

func (c *logCapture) add(w Warning) { c.entries = append(c.entries, w) }

func (c *logCapture) warnings() []Warning { return c.entries }

// run calls fn with logrus's standard logger silenced and hooked to c.
func (c *logCapture) run(fn func()) {
	logMu.Lock()
	defer logMu.Unlock()
	std := logrus.StandardLogger()
	oldOut, oldHooks, oldLevel := std.Out, std.ReplaceHooks(logrus.LevelHooks{}), std.GetLevel()
	std.SetOutput(discard{})
	std.SetLevel(logrus.WarnLevel)
	std.AddHook(captureHook{c})
	defer func() {
		std.ReplaceHooks(oldHooks)
		std.SetOutput(oldOut)
		std.SetLevel(oldLevel)
	}()
	fn()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

type captureHook struct{ c *logCapture }

func (captureHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h captureHook) Fire(e *logrus.Entry) error {
	h.c.add(logWarning(e.Message))
	return nil
}

// logWarning turns a compose-go log message into a Warning, taking the
// file from a leading "path: " when there is one.
func logWarning(msg string) Warning {
	msg = strings.TrimSpace(msg)
	if file, rest, ok := strings.Cut(msg, ": "); ok && filepath.IsAbs(file) {
		key := "compose"
		if strings.Contains(rest, "`version`") {
			key = "version"
		}
		return Warning{File: file, Key: key, Message: rest}
	}
	return Warning{Key: "compose", Message: msg}
}

var _ logrus.Hook = captureHook{}
