package project

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Docker's healthcheck and stop defaults, applied where the file leaves them out.
const (
	defaultHealthInterval      = 30 * time.Second
	defaultHealthTimeout       = 30 * time.Second
	defaultHealthRetries       = 3
	defaultHealthStartInterval = 5 * time.Second
	defaultStopGracePeriod     = 10 * time.Second
)

// convertProject turns compose-go's project into berth's. Every x-berth
// error of every service is reported, not only the first.
func convertProject(cp *types.Project, src *sourceSet) (*Project, error) {
	p := &Project{
		Name:         cp.Name,
		Dir:          cp.WorkingDir,
		ComposeFiles: slices.Clone(cp.ComposeFiles),
		compose:      cp,
		sources:      src,
	}
	var errs []error
	volumes := map[string]bool{}
	for _, name := range cp.ServiceNames() {
		sc := cp.Services[name]
		s, warns, err := convertService(cp, sc, src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// Built-in recipes for image-only services (recipes.go).
		if err := applyRecipe(cp, sc, &s); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, v := range s.Volumes {
			volumes[v.Volume] = true
		}
		p.Services = append(p.Services, s)
		p.Warnings = append(p.Warnings, warns...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Service names as hosts in environment values (hosts.go).
	if err := rewriteHosts(p, cp, src); err != nil {
		return nil, err
	}
	for v := range volumes {
		p.Volumes = append(p.Volumes, v)
	}
	sort.Strings(p.Volumes)
	p.Warnings = append(p.Warnings, projectWarnings(cp, src)...)
	return p, nil
}

// convertService converts one service. The error, if any, names the file
// and line of the offending x-berth key.
func convertService(cp *types.Project, sc types.ServiceConfig, src *sourceSet) (Service, []Warning, error) {
	name := sc.Name
	x, err := parseXBerth(name, withoutRewriteHosts(sc.Extensions[extensionName]), src) // rewrite_hosts: hosts.go
	if err != nil {
		return Service{}, nil, err
	}
	var warns []Warning
	warn := func(key, msg string) {
		w := src.warning(msg, "services", name, key)
		warns = append(warns, w)
	}

	s := Service{
		Name:       name,
		Image:      sc.Image,
		StdinOpen:  sc.StdinOpen,
		TTY:        sc.Tty,
		StopSignal: sc.StopSignal,
		Replicas:   sc.GetScale(),
		Profiles:   slices.Clone(sc.Profiles),
		Build:      x.Build,
		Inspect:    x.Inspect,
	}
	if s.StopSignal == "" {
		s.StopSignal = defaultStopSignal
	}
	s.StopGracePeriod = defaultStopGracePeriod
	if sc.StopGracePeriod != nil {
		s.StopGracePeriod = time.Duration(*sc.StopGracePeriod)
	}

	// Argv: compose concatenates entrypoint and command; x-berth replaces them.
	switch {
	case x.Command != nil:
		s.Argv = append(slices.Clone(x.Entrypoint), x.Command...)
	case x.Entrypoint != nil:
		s.Argv = append(slices.Clone(x.Entrypoint), sc.Command...)
	default:
		s.Argv = append(slices.Clone([]string(sc.Entrypoint)), sc.Command...)
	}
	if s.Argv == nil {
		s.Argv = []string{}
	}

	s.Environment = serviceEnvironment(sc.Environment, x.Environment)

	wd, msg := serviceWorkingDir(cp.WorkingDir, sc, x.WorkingDir)
	if msg != "" {
		warn("working_dir", msg)
	}
	s.WorkingDir = wd

	hc := sc.HealthCheck
	if x.Healthcheck != nil {
		hc = x.Healthcheck
	}
	s.Healthcheck = healthcheck(hc)

	restart, rmsg := restartPolicy(sc)
	if rmsg != "" {
		warn("restart", rmsg)
	}
	s.Restart = restart

	ports, pwarns := servicePorts(sc.Ports)
	for _, m := range pwarns {
		warn("ports", m)
	}
	s.Ports = ports

	for i, v := range sc.Volumes {
		switch v.Type {
		case types.VolumeTypeVolume:
			if v.Source == "" {
				// An anonymous volume: a fresh folder per run means nothing natively.
				warns = append(warns, src.warning("anonymous volume ignored: the service uses its own folders natively",
					"services", name, "volumes", strconv.Itoa(i)))
				continue
			}
			s.Volumes = append(s.Volumes, VolumeMount{Volume: v.Source, Target: v.Target, ReadOnly: v.ReadOnly})
		case types.VolumeTypeBind:
			// Natively the service already sees the host's files.
		default:
			warns = append(warns, src.warning(fmt.Sprintf("%s mount ignored: berth runs services natively", v.Type),
				"services", name, "volumes", strconv.Itoa(i)))
		}
	}

	if len(sc.DependsOn) > 0 {
		s.DependsOn = make(map[string]Dependency, len(sc.DependsOn))
		for dep, d := range sc.DependsOn {
			cond := d.Condition
			if cond == "" {
				cond = ConditionStarted
			}
			s.DependsOn[dep] = Dependency{Condition: cond, Required: d.Required, Restart: d.Restart}
		}
	}

	if sc.Develop != nil {
		for _, w := range sc.Develop.Watch {
			path := w.Path
			if path != "" && !filepath.IsAbs(path) {
				path = filepath.Join(cp.WorkingDir, path)
			}
			s.Watch = append(s.Watch, WatchRule{
				Path: path, Action: string(w.Action), Target: w.Target,
				Ignore: slices.Clone(w.Ignore), Include: slices.Clone(w.Include),
				Exec: slices.Clone([]string(w.Exec.Command)), InitialSync: w.InitialSync,
			})
		}
	}

	warns = append(warns, serviceWarnings(sc, src)...)

	h, err := serviceHash(s)
	if err != nil {
		return Service{}, nil, fmt.Errorf("hash service %q: %w", name, err)
	}
	s.Hash = h
	return s, warns, nil
}

// serviceEnvironment merges the resolved compose environment and
// x-berth.environment into sorted KEY=VALUE pairs. Keys whose value could
// not be resolved (a bare key absent from the environment) are left out, as
// docker leaves them unset.
func serviceEnvironment(env types.MappingWithEquals, extra map[string]string) []string {
	m := map[string]string{}
	for k, v := range env {
		if v != nil {
			m[k] = *v
		}
	}
	for k, v := range extra {
		m[k] = v
	}
	if _, ok := m[envPythonUnbuffered]; !ok {
		if _, set := env[envPythonUnbuffered]; !set {
			m[envPythonUnbuffered] = "1"
		}
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// serviceWorkingDir picks the folder the service runs in. It returns a
// warning message when the file's working_dir cannot be used natively.
func serviceWorkingDir(projectDir string, sc types.ServiceConfig, xwd string) (string, string) {
	def := projectDir
	if sc.Build != nil && sc.Build.Context != "" && !isRemoteContext(sc.Build.Context) {
		def = sc.Build.Context
		if !filepath.IsAbs(def) {
			def = filepath.Join(projectDir, def)
		}
	}
	if xwd != "" {
		if !filepath.IsAbs(xwd) {
			xwd = filepath.Join(projectDir, xwd)
		}
		return filepath.Clean(xwd), ""
	}
	wd := sc.WorkingDir
	if wd == "" {
		return def, ""
	}
	if !filepath.IsAbs(wd) {
		return filepath.Join(projectDir, wd), ""
	}
	if st, err := os.Stat(wd); err == nil && st.IsDir() {
		return filepath.Clean(wd), ""
	}
	return def, fmt.Sprintf("%q is a container path that does not exist here; running in %s (set x-berth.working_dir to choose)", wd, def)
}

func isRemoteContext(ctx string) bool {
	for _, p := range []string{"http://", "https://", "git://", "git@", "github.com/"} {
		if strings.HasPrefix(ctx, p) {
			return true
		}
	}
	return false
}

// healthcheck applies docker's defaults; nil means no healthcheck.
func healthcheck(hc *types.HealthCheckConfig) *Healthcheck {
	if hc == nil || hc.Disable || len(hc.Test) == 0 {
		return nil
	}
	test := normalizeTest(hc.Test)
	if test == nil {
		return nil
	}
	h := &Healthcheck{
		Test:          test,
		Interval:      defaultHealthInterval,
		Timeout:       defaultHealthTimeout,
		Retries:       defaultHealthRetries,
		StartInterval: defaultHealthStartInterval,
	}
	if hc.Interval != nil {
		h.Interval = time.Duration(*hc.Interval)
	}
	if hc.Timeout != nil {
		h.Timeout = time.Duration(*hc.Timeout)
	}
	if hc.Retries != nil {
		h.Retries = int(*hc.Retries)
	}
	if hc.StartPeriod != nil {
		h.StartPeriod = time.Duration(*hc.StartPeriod)
	}
	if hc.StartInterval != nil {
		h.StartInterval = time.Duration(*hc.StartInterval)
	}
	return h
}

// normalizeTest returns the test in ["CMD", ...] or ["CMD-SHELL", "..."]
// form, or nil for NONE.
func normalizeTest(t []string) []string {
	if len(t) == 0 {
		return nil
	}
	switch strings.ToUpper(t[0]) {
	case "NONE":
		return nil
	case "CMD":
		if len(t) == 1 {
			return nil
		}
		return append([]string{"CMD"}, t[1:]...)
	case "CMD-SHELL":
		if len(t) == 1 {
			return nil
		}
		return []string{"CMD-SHELL", strings.Join(t[1:], " ")}
	default:
		// A bare list is an exec form, as docker treats it.
		return append([]string{"CMD"}, t...)
	}
}

// restartPolicy reads restart: and deploy.restart_policy (restart: wins).
func restartPolicy(sc types.ServiceConfig) (RestartPolicy, string) {
	if sc.Restart != "" {
		return parseRestart(sc.Restart)
	}
	if sc.Deploy != nil && sc.Deploy.RestartPolicy != nil {
		rp := sc.Deploy.RestartPolicy
		p := RestartPolicy{Mode: RestartAlways}
		switch rp.Condition {
		case "none":
			p.Mode = RestartNo
		case "on-failure":
			p.Mode = RestartOnFailure
		case "", "any":
			p.Mode = RestartAlways
		default:
			return RestartPolicy{Mode: RestartNo}, fmt.Sprintf("unknown deploy.restart_policy.condition %q; not restarting", rp.Condition)
		}
		if rp.MaxAttempts != nil {
			p.MaxAttempts = int(*rp.MaxAttempts)
		}
		return p, ""
	}
	return RestartPolicy{Mode: RestartNo}, ""
}

// parseRestart parses compose's restart: value.
func parseRestart(v string) (RestartPolicy, string) {
	mode, arg, hasArg := strings.Cut(strings.TrimSpace(v), ":")
	switch mode {
	case RestartNo, "":
		return RestartPolicy{Mode: RestartNo}, ""
	case RestartAlways, RestartUnlessStopped:
		return RestartPolicy{Mode: mode}, ""
	case RestartOnFailure:
		p := RestartPolicy{Mode: RestartOnFailure}
		if hasArg {
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				return p, fmt.Sprintf("invalid maximum retry count %q; restarting without limit", arg)
			}
			p.MaxAttempts = n
		}
		return p, ""
	}
	return RestartPolicy{Mode: RestartNo}, fmt.Sprintf("unknown restart policy %q; not restarting", v)
}

// servicePorts converts published ports, expanding ranges.
func servicePorts(ports []types.ServicePortConfig) ([]Port, []string) {
	var out []Port
	var warns []string
	for _, pc := range ports {
		proto := pc.Protocol
		if proto == "" {
			proto = "tcp"
		}
		lo, hi, err := portRange(pc.Published)
		if err != nil {
			warns = append(warns, fmt.Sprintf("invalid published port %q: %v", pc.Published, err))
			continue
		}
		if hi > lo {
			// A published range for one target: docker picks a free port
			// from it; natively the first one is used.
			warns = append(warns, fmt.Sprintf("published range %s for target %d: using %d", pc.Published, pc.Target, lo))
		}
		out = append(out, Port{HostIP: pc.HostIP, Published: lo, Target: int(pc.Target), Protocol: proto})
	}
	return out, warns
}

func portRange(s string) (int, int, error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err := strconv.Atoi(b)
	if err != nil || hi < lo {
		return 0, 0, fmt.Errorf("bad range")
	}
	return lo, hi, nil
}

// serviceHash is the sha256 of the service's JSON with the fields that do
// not need a recreate zeroed.
func serviceHash(s Service) (string, error) {
	s.Replicas, s.Hash, s.Profiles, s.DependsOn = 0, "", nil, nil
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
