package engine

import (
	"time"

	"github.com/berth-dev/berth/internal/project"
)

// UpRequest asks the engine to run a project (or bring a running one in line
// with a changed file).
type UpRequest struct {
	Project *project.Project `json:"project"`
	// Services limits up to these services and their dependencies (empty: all).
	Services []string `json:"services,omitempty"`
	// Scale overrides replicas per service (--scale web=3).
	Scale map[string]int `json:"scale,omitempty"`
	// NoDeps starts Services without their dependencies.
	NoDeps bool `json:"no_deps,omitempty"`
	// ForceRecreate recreates services even when their configuration is unchanged.
	ForceRecreate bool `json:"force_recreate,omitempty"`
	// BaseEnv is the environment services inherit before their own
	// (the environment of the CLI that asked).
	BaseEnv []string `json:"base_env,omitempty"`
	// Watch applies the services' develop.watch rules until the engine stops.
	Watch bool `json:"watch,omitempty"`
	// Inspect turns the HTTP inspector on for these services (berth up
	// --inspect), besides those whose x-berth.inspect is true.
	Inspect []string `json:"inspect,omitempty"`
	// InspectBodyCap sets how many bytes of each body the inspector keeps
	// from now on (berth up --inspect-body-cap): 0 leaves it as it is, a
	// negative value keeps none.
	InspectBodyCap int `json:"inspect_body_cap,omitempty"`
}

// UpResult says what Up did to each service.
type UpResult struct {
	Created   []string `json:"created,omitempty"`
	Recreated []string `json:"recreated,omitempty"`
	Scaled    []string `json:"scaled,omitempty"`
	Unchanged []string `json:"unchanged,omitempty"`
	// Orphans are running services the new file no longer has.
	Orphans []string `json:"orphans,omitempty"`
}

// StopRequest names services (empty: all) and an optional grace override.
type StopRequest struct {
	Services []string `json:"services,omitempty"`
	// Timeout overrides stop_grace_period when non-nil.
	Timeout *time.Duration `json:"timeout,omitempty"`
}

// KillRequest signals services' process groups.
type KillRequest struct {
	Services []string `json:"services,omitempty"`
	Signal   string   `json:"signal,omitempty"`
}

// DownRequest stops everything and ends the engine.
type DownRequest struct {
	Volumes       bool           `json:"volumes,omitempty"`
	RemoveOrphans bool           `json:"remove_orphans,omitempty"`
	Timeout       *time.Duration `json:"timeout,omitempty"`
}

// Replica states.
const (
	StateCreated      = "created"
	StateWaiting      = "waiting"
	StateRunning      = "running"
	StateRestarting   = "restarting"
	StateCrashLooping = "crash-looping"
	StateExited       = "exited"
)

// Publisher is a published port, with docker compose's field names.
type Publisher struct {
	URL           string `json:"URL"`
	TargetPort    int    `json:"TargetPort"`
	PublishedPort int    `json:"PublishedPort"`
	Protocol      string `json:"Protocol"`
}

// ReplicaStatus is one row of `ps`; the capitalised names are docker compose's.
type ReplicaStatus struct {
	Name       string      `json:"Name"`
	Project    string      `json:"Project"`
	Service    string      `json:"Service"`
	Replica    int         `json:"Replica"`
	Command    string      `json:"Command"`
	State      string      `json:"State"`
	Health     string      `json:"Health"`
	ExitCode   int         `json:"ExitCode"`
	Status     string      `json:"Status"`
	Publishers []Publisher `json:"Publishers"`
	// berth's own fields.
	Pid          int       `json:"Pid,omitempty"`
	Restarts     int       `json:"Restarts"`
	StartedAt    time.Time `json:"StartedAt,omitzero"`
	FinishedAt   time.Time `json:"FinishedAt,omitzero"`
	WaitingFor   string    `json:"WaitingFor,omitempty"`
	HealthOutput string    `json:"HealthOutput,omitempty"`
	// TTY says the replica runs on a terminal (berth attach works).
	TTY   bool   `json:"TTY"`
	Error string `json:"Error,omitempty"`
	// Inspected says the HTTP inspector records the service's traffic.
	Inspected bool `json:"Inspected,omitempty"`
}

// Event is one thing that happened in the project, in the shape of
// `docker compose events --json`.
type Event struct {
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"`
	Action     string            `json:"action"`
	ID         string            `json:"id"`
	Service    string            `json:"service"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Process is one row of `top`.
type Process struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	Pid     int    `json:"pid"`
	PPid    int    `json:"ppid"`
	Command string `json:"command"`
}
