package project

import (
	"strconv"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Project is berth's own, runtime-oriented view of a loaded compose project.
// It is plain data: JSON-serializable, so the CLI can load a project and hand
// it to a running engine over the API.
type Project struct {
	// Name is the compose project name (-p, COMPOSE_PROJECT_NAME, name:, or the folder).
	Name string `json:"name"`
	// Dir is the absolute project folder.
	Dir string `json:"dir"`
	// ComposeFiles are the absolute paths of the files that were loaded.
	ComposeFiles []string `json:"compose_files"`
	// Services holds every enabled service (after profiles), sorted by name.
	Services []Service `json:"services"`
	// Volumes lists the named volumes that services use, sorted.
	Volumes []string `json:"volumes,omitempty"`
	// Warnings are keys berth cannot honour natively, found while loading.
	Warnings []Warning `json:"warnings,omitempty"`

	// compose is compose-go's model, kept for MarshalConfig. It is not sent
	// over the API: a Project decoded from JSON has none.
	compose *types.Project
	// sources are the parsed compose files, for lines in later errors.
	sources *sourceSet
}

// Service is one compose service as berth runs it natively.
type Service struct {
	Name string `json:"name"`
	// Image is the image the compose file names, if any (informational natively).
	Image string `json:"image,omitempty"`
	// Argv is the program and its arguments: entrypoint followed by command,
	// as compose concatenates them. Empty means the service has nothing to run
	// natively (see Validate).
	Argv []string `json:"argv"`
	// Environment is the service's own environment (environment + env_file +
	// x-berth.environment), without the OS environment. Sorted KEY=VALUE.
	Environment []string `json:"environment,omitempty"`
	// WorkingDir is the absolute folder the service runs in.
	WorkingDir string `json:"working_dir"`
	// StopSignal is the signal name sent to stop the service (default SIGTERM).
	StopSignal string `json:"stop_signal"`
	// StopGracePeriod is how long to wait after StopSignal before SIGKILL (default 10s).
	StopGracePeriod time.Duration `json:"stop_grace_period"`
	// StdinOpen and TTY are recorded for attach (the service then runs on a PTY).
	StdinOpen bool `json:"stdin_open,omitempty"`
	TTY       bool `json:"tty,omitempty"`
	// DependsOn maps each dependency's name to how this service depends on it.
	DependsOn map[string]Dependency `json:"depends_on,omitempty"`
	// Healthcheck is nil when the service has none (or it is disabled).
	Healthcheck *Healthcheck `json:"healthcheck,omitempty"`
	// Restart is the restart policy.
	Restart RestartPolicy `json:"restart"`
	// Replicas is the number of replicas to run (deploy.replicas, scale, --scale). Default 1; 0 is allowed.
	Replicas int `json:"replicas"`
	// Ports are the published ports.
	Ports []Port `json:"ports,omitempty"`
	// Volumes are the named volumes the service mounts.
	Volumes []VolumeMount `json:"volumes,omitempty"`
	// Profiles are the profiles the service belongs to.
	Profiles []string `json:"profiles,omitempty"`
	// Build is x-berth.build: a native build command (a shell command line)
	// that the watch/rebuild work runs before (re)starting the service.
	Build string `json:"build,omitempty"`
	// Watch are the develop.watch rules, for the watch/rebuild work.
	Watch []WatchRule `json:"watch,omitempty"`
	// Inspect is x-berth.inspect: put the HTTP inspector in front of the
	// service's published ports.
	Inspect bool `json:"inspect,omitempty"`
	// Hash identifies the service's effective configuration: it changes when
	// anything that needs a recreate changes (not when Replicas changes).
	Hash string `json:"hash"`
	// Recipe names the built-in recipe that fills Argv (and, unless the file
	// sets one, Healthcheck) of a service that only names an image berth
	// knows: "postgres" or "redis" (see docs/recipes.md). Empty otherwise.
	Recipe string `json:"recipe,omitempty"`
	// RecipePort is the TCP port the recipe's server listens on, on 127.0.0.1.
	RecipePort int `json:"recipe_port,omitempty"`
}

// Dependency is one depends_on entry.
type Dependency struct {
	// Condition is service_started, service_healthy or service_completed_successfully.
	Condition string `json:"condition"`
	// Required false means a missing or failing dependency is only a warning.
	Required bool `json:"required"`
	// Restart true means this service restarts when the dependency is restarted by berth.
	Restart bool `json:"restart,omitempty"`
}

// Dependency conditions, as compose spells them.
const (
	ConditionStarted               = "service_started"
	ConditionHealthy               = "service_healthy"
	ConditionCompletedSuccessfully = "service_completed_successfully"
)

// Healthcheck is compose's healthcheck with defaults applied.
type Healthcheck struct {
	// Test is in compose's list form: ["CMD", prog, args...] or ["CMD-SHELL", "cmd"].
	Test          []string      `json:"test"`
	Interval      time.Duration `json:"interval"`
	Timeout       time.Duration `json:"timeout"`
	Retries       int           `json:"retries"`
	StartPeriod   time.Duration `json:"start_period"`
	StartInterval time.Duration `json:"start_interval"`
}

// RestartPolicy is compose's restart: no, always, on-failure[:N], unless-stopped.
type RestartPolicy struct {
	Mode string `json:"mode"`
	// MaxAttempts bounds on-failure restarts; 0 means unbounded.
	MaxAttempts int `json:"max_attempts,omitempty"`
}

// Restart modes.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartOnFailure     = "on-failure"
	RestartUnlessStopped = "unless-stopped"
)

// Port is one published port.
type Port struct {
	// HostIP is the address to bind on the host ("" means all, natively 127.0.0.1 is not implied).
	HostIP string `json:"host_ip,omitempty"`
	// Published is the host port (0 when the file leaves it to the engine).
	Published int `json:"published"`
	// Target is the port the service listens on.
	Target   int    `json:"target"`
	Protocol string `json:"protocol"`
}

// VolumeMount is a named volume mounted into a service.
type VolumeMount struct {
	// Volume is the named volume (a folder under berth's state folder natively).
	Volume string `json:"volume"`
	// Target is the container path the compose file names (informational natively).
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// WatchRule is one develop.watch entry. Natively the service already sees
// the files, so "sync" needs no copy; the watch work decides what each
// action means (restart, run Build then restart, run Exec).
type WatchRule struct {
	// Path is the absolute host path to watch.
	Path string `json:"path"`
	// Action is sync, rebuild, restart, sync+restart or sync+exec.
	Action string `json:"action"`
	// Target is the container path of sync actions (informational natively).
	Target  string   `json:"target,omitempty"`
	Ignore  []string `json:"ignore,omitempty"`
	Include []string `json:"include,omitempty"`
	// Exec is the command of sync+exec, as an argv.
	Exec        []string `json:"exec,omitempty"`
	InitialSync bool     `json:"initial_sync,omitempty"`
}

// Warning is something in the compose file berth cannot honour natively.
// It never fails a load; it is printed once, with its place.
type Warning struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Key     string `json:"key"`
	Message string `json:"message"`
}

// String formats the warning as "file:line: key: message".
func (w Warning) String() string {
	place := displayPath(w.File)
	if place != "" && w.Line > 0 {
		place += ":" + strconv.Itoa(w.Line)
	}
	if place != "" {
		return place + ": " + w.Key + ": " + w.Message
	}
	return w.Key + ": " + w.Message
}

// Service returns the service with the given name.
func (p *Project) Service(name string) (*Service, bool) {
	for i := range p.Services {
		if p.Services[i].Name == name {
			return &p.Services[i], true
		}
	}
	return nil, false
}

// ServiceNames returns the service names in file order (sorted).
func (p *Project) ServiceNames() []string {
	names := make([]string, len(p.Services))
	for i, s := range p.Services {
		names[i] = s.Name
	}
	return names
}
