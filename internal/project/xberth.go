package project

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// xBerth is the x-berth service extension: a native recipe for a service.
// See docs/x-berth.md. It is decoded by berth itself from the raw (already
// interpolated) value compose-go keeps in the service's extensions: berth
// does not register it with compose-go's WithExtension, so that `config`
// prints it exactly as docker compose does and a top-level x-berth (which
// WithExtension would decode into the same type) is left alone.
type xBerth struct {
	// Command replaces the service's argv entirely (entrypoint too). nil means unset.
	Command []string
	// Entrypoint replaces the compose entrypoint; with Command it prefixes it.
	Entrypoint []string
	// Environment is added to (and overrides) the service's environment.
	Environment map[string]string
	// WorkingDir is where the service runs natively (relative to the project folder).
	WorkingDir string
	// Healthcheck replaces the service's healthcheck (compose syntax).
	Healthcheck *types.HealthCheckConfig
	// Build is a native build command, run by the watch/rebuild work.
	Build string
	// Inspect puts the HTTP inspector in front of the service's published ports.
	Inspect bool
}

// xBerthKeys are the keys x-berth accepts; anything else is an error.
var xBerthKeys = []string{"build", "command", "entrypoint", "environment", "healthcheck", "inspect", "working_dir"}

var healthcheckKeys = []string{"disable", "interval", "retries", "start_interval", "start_period", "test", "timeout"}

// parseXBerth decodes a service's x-berth value. Errors name the file and
// line of the offending key.
func parseXBerth(service string, raw any, src *sourceSet) (xBerth, error) {
	var x xBerth
	if raw == nil {
		return x, nil
	}
	base := []string{"services", service, extensionName}
	fail := func(msg string, keys ...string) error {
		return src.errorAt(msg, append(append([]string{}, base...), keys...)...)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return x, fail(fmt.Sprintf("must be a mapping, got %s", typeName(raw)))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		v := m[k]
		var err error
		switch k {
		case "command":
			x.Command, err = shellCommand(v)
			if err == nil && len(x.Command) == 0 {
				err = errors.New("must not be empty")
			}
		case "entrypoint":
			x.Entrypoint, err = shellCommand(v)
		case "environment":
			x.Environment, err = environment(v)
		case "working_dir":
			s, ok := v.(string)
			if !ok {
				err = fmt.Errorf("must be a string, got %s", typeName(v))
			}
			x.WorkingDir = s
		case "healthcheck":
			x.Healthcheck, err = healthcheckConfig(v)
		case "build":
			s, ok := v.(string)
			if !ok {
				err = fmt.Errorf("must be a string (a native build command), got %s", typeName(v))
			}
			x.Build = s
		case "inspect":
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("must be true or false, got %s", typeName(v))
			}
			x.Inspect = b
		default:
			hint := ""
			if best, d := nearest(xBerthKeys, k); d <= 2 {
				hint = fmt.Sprintf("did you mean %q? ", best)
			}
			err = fmt.Errorf("unknown key %q (%sx-berth accepts %s)", k, hint, strings.Join(xBerthKeys, ", "))
		}
		if err != nil {
			errs = append(errs, fail(err.Error(), k))
		}
	}
	return x, errors.Join(errs...)
}

// shellCommand decodes a string (split as compose splits it) or a list.
func shellCommand(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	var cmd types.ShellCommand
	switch v.(type) {
	case string, []any:
	default:
		return nil, fmt.Errorf("must be a string or a list of strings, got %s", typeName(v))
	}
	if err := loader.Transform(v, &cmd); err != nil {
		return nil, err
	}
	if cmd == nil {
		cmd = types.ShellCommand{}
	}
	return []string(cmd), nil
}

// environment decodes a mapping or a KEY=VALUE list.
func environment(v any) (map[string]string, error) {
	switch v.(type) {
	case map[string]any, []any:
	default:
		return nil, fmt.Errorf("must be a mapping or a list of KEY=VALUE, got %s", typeName(v))
	}
	var env types.MappingWithEquals
	if err := loader.Transform(v, &env); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(env))
	for k, val := range env {
		if val == nil {
			return nil, fmt.Errorf("%q has no value (write %s=VALUE)", k, k)
		}
		out[k] = *val
	}
	return out, nil
}

// healthcheckConfig decodes compose's healthcheck syntax.
func healthcheckConfig(v any) (*types.HealthCheckConfig, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a mapping, got %s", typeName(v))
	}
	for k := range m {
		if !contains(healthcheckKeys, k) {
			return nil, fmt.Errorf("unknown key %q (healthcheck accepts %s)", k, strings.Join(healthcheckKeys, ", "))
		}
	}
	var hc types.HealthCheckConfig
	if err := loader.Transform(m, &hc); err != nil {
		return nil, err
	}
	return &hc, nil
}

// nearest returns the candidate closest to s and its edit distance.
func nearest(candidates []string, s string) (string, int) {
	best, bestD := "", int(^uint(0)>>1)
	for _, c := range candidates {
		if d := editDistance(c, s); d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
