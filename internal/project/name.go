package project

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"go.yaml.in/yaml/v4"
)

// QuickName returns the project name that Load would find, without loading
// and validating the whole project, when it can be read plainly: from -p,
// COMPOSE_PROJECT_NAME, a literal top-level `name:` in the compose files, or
// their folder. ok is false when the name depends on something only a full
// load resolves (interpolation, --env-file, a .env that sets the name, a
// --project-directory); the caller then uses Load. Verbs that only talk to
// a running engine use it to find the engine fast.
func QuickName(opts LoadOptions) (name string, ok bool) {
	if opts.Name != "" {
		return loader.NormalizeProjectName(opts.Name), true
	}
	env := map[string]string{}
	for _, kv := range opts.Environ {
		if k, v, found := strings.Cut(kv, "="); found {
			env[k] = v
		}
	}
	if v := env["COMPOSE_PROJECT_NAME"]; v != "" {
		return loader.NormalizeProjectName(v), true
	}
	if len(opts.EnvFiles) > 0 || opts.ProjectDir != "" || env[envComposeFile] != "" {
		return "", false
	}
	wd := opts.WorkingDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return "", false
		}
	}
	files := append([]string(nil), opts.Files...)
	if len(files) == 0 {
		files = discoverFiles(wd, &logCapture{})
	}
	if len(files) == 0 || files[0] == "-" {
		return "", false
	}
	for i, f := range files {
		if !filepath.IsAbs(f) {
			files[i] = filepath.Join(wd, f)
		}
	}
	dir := filepath.Dir(files[0])
	if b, err := os.ReadFile(filepath.Join(dir, ".env")); err == nil && strings.Contains(string(b), "COMPOSE_PROJECT_NAME") {
		return "", false
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", false
		}
		var top struct {
			Name    string `yaml:"name"`
			Include any    `yaml:"include"`
		}
		if yaml.Unmarshal(b, &top) != nil || top.Include != nil || strings.Contains(top.Name, "$") {
			return "", false
		}
		if top.Name != "" {
			name = top.Name
		}
	}
	if name == "" {
		name = filepath.Base(dir)
	}
	name = loader.NormalizeProjectName(name)
	return name, name != ""
}
