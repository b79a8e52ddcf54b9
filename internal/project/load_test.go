package project

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeProject writes files (name → content) into a new temp folder and
// returns it.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load loads the compose.yaml in a temp project made of files.
func load(t *testing.T, files map[string]string, environ ...string) (*Project, string, error) {
	t.Helper()
	dir := writeProject(t, files)
	p, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environ: append([]string{"PATH=/usr/bin:/bin"}, environ...)})
	return p, dir, err
}

func mustLoad(t *testing.T, compose string, environ ...string) (*Project, string) {
	t.Helper()
	p, dir, err := load(t, map[string]string{"compose.yaml": compose}, environ...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p, dir
}

func mustService(t *testing.T, p *Project, name string) *Service {
	t.Helper()
	s, ok := p.Service(name)
	if !ok {
		t.Fatalf("no service %q in %v", name, p.ServiceNames())
	}
	return s
}

func TestLoad_Argv(t *testing.T) {
	tests := []struct {
		name    string
		service string
		want    []string
	}{
		{"command list", "command: [python, app.py]", []string{"python", "app.py"}},
		{"command string is split like compose", `command: python -m "http.server" 8000`, []string{"python", "-m", "http.server", "8000"}},
		{"entrypoint then command", "entrypoint: [uv, run]\n    command: [app.py, --debug]", []string{"uv", "run", "app.py", "--debug"}},
		{"entrypoint string", "entrypoint: ./start.sh --fast", []string{"./start.sh", "--fast"}},
		{"image only", "", []string{}},
		{"x-berth command replaces entrypoint and command", "entrypoint: [a]\n    command: [b]\n    x-berth:\n      command: postgres -D data", []string{"postgres", "-D", "data"}},
		{"x-berth entrypoint with compose command", "command: [b, c]\n    x-berth:\n      entrypoint: [uv, run]", []string{"uv", "run", "b", "c"}},
		{"x-berth entrypoint and command", "command: [b]\n    x-berth:\n      entrypoint: [uv, run]\n      command: [x]", []string{"uv", "run", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := mustLoad(t, "services:\n  web:\n    image: app\n    "+tt.service+"\n")
			got := mustService(t, p, "web").Argv
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Argv = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoad_Environment(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		environ []string
		want    []string
	}{
		{
			name:  "map, sorted, PYTHONUNBUFFERED added",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app\n    environment:\n      ZED: z\n      ALPHA: a\n"},
			want:  []string{"ALPHA=a", "PYTHONUNBUFFERED=1", "ZED=z"},
		},
		{
			name:  "file's PYTHONUNBUFFERED wins",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app\n    environment: [PYTHONUNBUFFERED=0]\n"},
			want:  []string{"PYTHONUNBUFFERED=0"},
		},
		{
			name:    "bare key from the OS environment; missing bare key left out",
			files:   map[string]string{"compose.yaml": "services:\n  web:\n    image: app\n    environment: [FROM_OS, MISSING]\n"},
			environ: []string{"FROM_OS=yes"},
			want:    []string{"FROM_OS=yes", "PYTHONUNBUFFERED=1"},
		},
		{
			name: "env_file then environment",
			files: map[string]string{
				"compose.yaml": "services:\n  web:\n    image: app\n    env_file: web.env\n    environment:\n      B: from-compose\n",
				"web.env":      "A=from-file\nB=from-file\n",
			},
			want: []string{"A=from-file", "B=from-compose", "PYTHONUNBUFFERED=1"},
		},
		{
			name: "interpolation from .env",
			files: map[string]string{
				"compose.yaml": "services:\n  web:\n    image: app\n    environment:\n      URL: postgres://${DB_HOST:-localhost}/${DB}\n",
				".env":         "DB=app\n",
			},
			want: []string{"PYTHONUNBUFFERED=1", "URL=postgres://localhost/app"},
		},
		{
			name:  "x-berth environment overrides",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app\n    environment:\n      DB: db:5432\n    x-berth:\n      environment: [DB=localhost:5432, EXTRA=1]\n"},
			want:  []string{"DB=localhost:5432", "EXTRA=1", "PYTHONUNBUFFERED=1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := load(t, tt.files, tt.environ...)
			if err != nil {
				t.Fatal(err)
			}
			got := mustService(t, p, "web").Environment
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Environment = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoad_WorkingDir(t *testing.T) {
	existing := t.TempDir()
	tests := []struct {
		name     string
		service  string
		want     func(dir string) string
		wantWarn bool
	}{
		{"default is the project folder", "image: app", func(d string) string { return d }, false},
		{"build context", "build: ./api", func(d string) string { return filepath.Join(d, "api") }, false},
		{"relative working_dir", "image: app\n    working_dir: src", func(d string) string { return filepath.Join(d, "src") }, false},
		{"absolute working_dir that exists", "image: app\n    working_dir: " + existing, func(string) string { return existing }, false},
		{"container path falls back with a warning", "build: ./api\n\n    working_dir: /nonexistent/app", func(d string) string { return filepath.Join(d, "api") }, true},
		{"x-berth working_dir wins", "image: app\n    working_dir: /nonexistent/app\n    x-berth:\n      working_dir: backend", func(d string) string { return filepath.Join(d, "backend") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, dir := mustLoad(t, "services:\n  web:\n    "+tt.service+"\n")
			got := mustService(t, p, "web").WorkingDir
			if want := tt.want(dir); got != want {
				t.Errorf("WorkingDir = %q, want %q", got, want)
			}
			var warned bool
			for _, w := range p.Warnings {
				if w.Key == "services.web.working_dir" {
					warned = true
					if w.Line != 5 || !strings.HasSuffix(w.File, "compose.yaml") {
						t.Errorf("warning place = %s:%d, want compose.yaml:5", w.File, w.Line)
					}
				}
			}
			if warned != tt.wantWarn {
				t.Errorf("working_dir warning = %v, want %v (warnings %v)", warned, tt.wantWarn, p.Warnings)
			}
		})
	}
}

func TestLoad_Healthcheck(t *testing.T) {
	tests := []struct {
		name string
		hc   string
		want *Healthcheck
	}{
		{"none", "", nil},
		{"docker defaults", "healthcheck:\n      test: [CMD, pg_isready]", &Healthcheck{
			Test: []string{"CMD", "pg_isready"}, Interval: 30 * time.Second, Timeout: 30 * time.Second,
			Retries: 3, StartPeriod: 0, StartInterval: 5 * time.Second}},
		{"string is CMD-SHELL", "healthcheck:\n      test: curl -f localhost || exit 1\n      interval: 2s\n      timeout: 1s\n      retries: 10\n      start_period: 3s\n      start_interval: 500ms", &Healthcheck{
			Test: []string{"CMD-SHELL", "curl -f localhost || exit 1"}, Interval: 2 * time.Second, Timeout: time.Second,
			Retries: 10, StartPeriod: 3 * time.Second, StartInterval: 500 * time.Millisecond}},
		{"CMD-SHELL list", "healthcheck:\n      test: [CMD-SHELL, pg_isready -U app]", &Healthcheck{
			Test: []string{"CMD-SHELL", "pg_isready -U app"}, Interval: 30 * time.Second, Timeout: 30 * time.Second,
			Retries: 3, StartInterval: 5 * time.Second}},
		{"disable", "healthcheck:\n      disable: true", nil},
		{"NONE", "healthcheck:\n      test: [NONE]", nil},
		{"x-berth replaces", "healthcheck:\n      test: [CMD, a]\n    x-berth:\n      healthcheck:\n        test: [CMD, b]\n        retries: 1", &Healthcheck{
			Test: []string{"CMD", "b"}, Interval: 30 * time.Second, Timeout: 30 * time.Second,
			Retries: 1, StartInterval: 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// An image without a built-in recipe, which would add a health check.
			p, _ := mustLoad(t, "services:\n  db:\n    image: app\n    "+tt.hc+"\n")
			got := mustService(t, p, "db").Healthcheck
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Healthcheck = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseRestart(t *testing.T) {
	tests := []struct {
		in       string
		want     RestartPolicy
		wantWarn bool
	}{
		{"no", RestartPolicy{Mode: RestartNo}, false},
		{"always", RestartPolicy{Mode: RestartAlways}, false},
		{"unless-stopped", RestartPolicy{Mode: RestartUnlessStopped}, false},
		{"on-failure", RestartPolicy{Mode: RestartOnFailure}, false},
		{"on-failure:5", RestartPolicy{Mode: RestartOnFailure, MaxAttempts: 5}, false},
		{"on-failure:x", RestartPolicy{Mode: RestartOnFailure}, true},
		{"sometimes", RestartPolicy{Mode: RestartNo}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, warn := parseRestart(tt.in)
			if got != tt.want {
				t.Errorf("parseRestart(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if (warn != "") != tt.wantWarn {
				t.Errorf("parseRestart(%q) warning %q, want warning %v", tt.in, warn, tt.wantWarn)
			}
		})
	}
}

func TestLoad_RestartAndReplicas(t *testing.T) {
	tests := []struct {
		name         string
		service      string
		wantRestart  RestartPolicy
		wantReplicas int
	}{
		{"defaults", "", RestartPolicy{Mode: RestartNo}, 1},
		{"restart and scale", "restart: on-failure:3\n    scale: 2", RestartPolicy{Mode: RestartOnFailure, MaxAttempts: 3}, 2},
		{"deploy", "deploy:\n      replicas: 3\n      restart_policy:\n        condition: on-failure\n        max_attempts: 4", RestartPolicy{Mode: RestartOnFailure, MaxAttempts: 4}, 3},
		{"deploy any", "deploy:\n      restart_policy:\n        condition: any", RestartPolicy{Mode: RestartAlways}, 1},
		{"zero replicas", "deploy:\n      replicas: 0", RestartPolicy{Mode: RestartNo}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := mustLoad(t, "services:\n  w:\n    image: app\n    command: [run]\n    "+tt.service+"\n")
			s := mustService(t, p, "w")
			if s.Restart != tt.wantRestart {
				t.Errorf("Restart = %+v, want %+v", s.Restart, tt.wantRestart)
			}
			if s.Replicas != tt.wantReplicas {
				t.Errorf("Replicas = %d, want %d", s.Replicas, tt.wantReplicas)
			}
		})
	}
}

func TestLoad_Ports(t *testing.T) {
	tests := []struct {
		name  string
		ports string
		want  []Port
	}{
		{"short", `["8000:80"]`, []Port{{Published: 8000, Target: 80, Protocol: "tcp"}}},
		{"target only", `["3000"]`, []Port{{Published: 0, Target: 3000, Protocol: "tcp"}}},
		{"host ip and udp", `["127.0.0.1:5353:53/udp"]`, []Port{{HostIP: "127.0.0.1", Published: 5353, Target: 53, Protocol: "udp"}}},
		{"range", `["8000-8002:9000-9002"]`, []Port{
			{Published: 8000, Target: 9000, Protocol: "tcp"},
			{Published: 8001, Target: 9001, Protocol: "tcp"},
			{Published: 8002, Target: 9002, Protocol: "tcp"}}},
		{"long", "\n      - target: 80\n        published: \"8080\"\n        host_ip: 0.0.0.0", []Port{{HostIP: "0.0.0.0", Published: 8080, Target: 80, Protocol: "tcp"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := mustLoad(t, "services:\n  web:\n    image: app\n    ports: "+tt.ports+"\n")
			got := mustService(t, p, "web").Ports
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Ports = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoad_VolumesAndDeps(t *testing.T) {
	p, _ := mustLoad(t, `services:
  web:
    image: app
    command: [run]
    volumes:
      - ./src:/app/src
      - cache:/cache:ro
      - type: tmpfs
        target: /tmp
    depends_on:
      db:
        condition: service_healthy
        restart: true
      redis:
        condition: service_started
        required: false
  db:
    image: postgres
    volumes: [data:/var/lib/postgresql/data]
  redis:
    image: valkey/valkey # no built-in recipe, which would add a volume
volumes:
  data:
  cache:
  unused:
`)
	web := mustService(t, p, "web")
	if want := []VolumeMount{{Volume: "cache", Target: "/cache", ReadOnly: true}}; !reflect.DeepEqual(web.Volumes, want) {
		t.Errorf("web volumes = %+v, want %+v", web.Volumes, want)
	}
	wantDeps := map[string]Dependency{
		"db":    {Condition: ConditionHealthy, Required: true, Restart: true},
		"redis": {Condition: ConditionStarted, Required: false},
	}
	if !reflect.DeepEqual(web.DependsOn, wantDeps) {
		t.Errorf("web depends_on = %+v, want %+v", web.DependsOn, wantDeps)
	}
	if want := []string{"cache", "data"}; !reflect.DeepEqual(p.Volumes, want) {
		t.Errorf("project volumes = %q, want %q", p.Volumes, want)
	}
	var tmpfs bool
	for _, w := range p.Warnings {
		if w.Key == "services.web.volumes.2" && w.Line == 8 {
			tmpfs = true
		}
	}
	if !tmpfs {
		t.Errorf("no tmpfs warning at line 8: %v", p.Warnings)
	}
}

func TestLoad_XBerthReservedKeys(t *testing.T) {
	p, _ := mustLoad(t, "services:\n  web:\n    image: app\n    x-berth:\n      command: [npm, run, dev]\n      build: npm run build\n      inspect: true\n")
	s := mustService(t, p, "web")
	if s.Build != "npm run build" || !s.Inspect {
		t.Errorf("Build, Inspect = %q, %v; want %q, true", s.Build, s.Inspect, "npm run build")
	}
}

func TestLoad_Watch(t *testing.T) {
	p, dir := mustLoad(t, `services:
  web:
    build: .
    command: [run]
    develop:
      watch:
        - path: ./src
          action: sync+restart
          target: /app/src
          ignore: [node_modules/]
        - path: package.json
          action: rebuild
`)
	want := []WatchRule{
		{Path: filepath.Join(dir, "src"), Action: "sync+restart", Target: "/app/src", Ignore: []string{"node_modules/"}},
		{Path: filepath.Join(dir, "package.json"), Action: "rebuild"},
	}
	if got := mustService(t, p, "web").Watch; !reflect.DeepEqual(got, want) {
		t.Errorf("Watch = %+v, want %+v", got, want)
	}
}

func TestServiceHash(t *testing.T) {
	base := Service{Name: "web", Argv: []string{"run"}, WorkingDir: "/src", Replicas: 1, StopSignal: "SIGTERM"}
	h := func(s Service) string {
		t.Helper()
		got, err := serviceHash(s)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := h(base)
	if len(want) != 64 {
		t.Fatalf("hash %q is not sha256 hex", want)
	}
	same := base
	same.Replicas, same.Profiles = 3, []string{"dev"}
	same.DependsOn = map[string]Dependency{"db": {Condition: ConditionStarted}}
	if got := h(same); got != want {
		t.Errorf("hash changed with replicas, profiles or depends_on")
	}
	other := base
	other.Environment = []string{"A=1"}
	if got := h(other); got == want {
		t.Errorf("hash did not change with the environment")
	}
}

func TestCheckRunnable(t *testing.T) {
	p, _ := mustLoad(t, `services:
  web:
    image: app
    command: [run]
  db:
    image: mysql:8
  api:
    build: ./api
  cache:
    image: redis
    x-berth:
      command: redis-server --port 6380
`)
	err := p.CheckRunnable()
	var re *RunnableError
	if !errors.As(err, &re) {
		t.Fatalf("CheckRunnable = %v, want *RunnableError", err)
	}
	var names []string
	for _, s := range re.Services {
		names = append(names, s.Service)
	}
	if want := []string{"api", "db"}; !reflect.DeepEqual(names, want) {
		t.Errorf("not runnable = %q, want %q", names, want)
	}
	msg := err.Error()
	for _, want := range []string{
		`service "db" has only image "mysql:8": berth runs services natively and needs a command`,
		"compose.yaml:5)",
		"x-berth: {command: ...}",
		"install the program and set `command:`",
		`service "api" has only a build (`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

func TestLoad_Errors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		environ []string
		want    []string
	}{
		{
			name:  "malformed YAML",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app\n    command: [a\n"},
			want:  []string{"compose.yaml:4: invalid YAML: did not find expected ',' or ']' (a flow sequence that starts here)"},
		},
		{
			name:  "YAML indentation",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app\n     command: run\n"},
			want:  []string{"compose.yaml:4: invalid YAML: mapping values are not allowed in this context"},
		},
		{
			name:  "unknown service key",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app\n    comand: run\n"},
			want:  []string{"compose.yaml:4: services.web.comand: unknown key \"comand\"", `did you mean "command"?`},
		},
		{
			name:  "missing required variable",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app\n    command: [run, \"${PORT:?set PORT}\"]\n"},
			want:  []string{"compose.yaml:4: services.web.command", "required variable PORT is missing a value: set PORT"},
		},
		{
			name:  "dependency cycle",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n"},
			want:  []string{"compose.yaml:", "dependency cycle detected"},
		},
		{
			name:  "unknown depends_on service",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    depends_on:\n      - db\n"},
			want:  []string{"compose.yaml:5: services.web.depends_on.db:", `depends on undefined service "db"`},
		},
		{
			name:  "dependency hidden by a profile",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    depends_on: [db]\n  db:\n    image: x\n    profiles: [dev]\n"},
			want:  []string{"compose.yaml:4:", "--profile dev"},
		},
		{
			name:  "unknown x-berth key",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    x-berth:\n      comand: run\n"},
			want:  []string{"compose.yaml:5: services.web.x-berth.comand: unknown key \"comand\"", `did you mean "command"?`},
		},
		{
			name:  "bad x-berth value",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    x-berth:\n      inspect: maybe\n"},
			want:  []string{"compose.yaml:5: services.web.x-berth.inspect: must be true or false"},
		},
		{
			name:  "x-berth healthcheck key",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    x-berth:\n      command: run\n      healthcheck:\n        tset: [CMD, x]\n"},
			want:  []string{"compose.yaml:6: services.web.x-berth.healthcheck: unknown key \"tset\""},
		},
		{
			name:  "several x-berth errors are all reported",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    x-berth:\n      command: []\n  b:\n    image: x\n    x-berth: run\n"},
			want:  []string{"compose.yaml:5: services.a.x-berth.command: must not be empty", "compose.yaml:8: services.b.x-berth: must be a mapping, got a string"},
		},
		{
			name:  "error in an override file",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n", "compose.override.yaml": "services:\n  web:\n    foo: 1\n"},
			want:  []string{"compose.override.yaml:3: services.web.foo: unknown key"},
		},
		{
			name: "error in an included file",
			files: map[string]string{
				"compose.yaml": "include:\n  - inc/db.yaml\nservices:\n  web:\n    image: x\n",
				"inc/db.yaml":  "services:\n  db:\n    image: x\n\n    imagee: y\n",
			},
			want: []string{"db.yaml:5: services.db.imagee: unknown key"},
		},
		{
			name:  "no compose file",
			files: map[string]string{"README": "x"},
			want:  []string{"no configuration file provided"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, tt.files, tt.environ...)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoad_Warnings(t *testing.T) {
	p, _ := mustLoad(t, `version: "3.8"
services:
  web:
    image: app
    command: [run]
    user: "1000"
    cap_add: [NET_ADMIN]
    labels: [a=b]
    container_name: web
    networks: [back]
networks:
  back:
`)
	got := map[string]int{}
	for _, w := range p.Warnings {
		got[w.Key] = w.Line
	}
	want := map[string]int{
		"version":               1,
		"services.web.user":     6,
		"services.web.cap_add":  7,
		"services.web.networks": 10,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings = %v, want keys and lines %v", p.Warnings, want)
	}
}

func TestLoad_Options(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"compose.yaml":          "services:\n  web:\n    image: app\n    command: [run]\n  tool:\n    image: t\n    command: [t]\n    profiles: [tools]\n",
		"compose.override.yaml": "services:\n  web:\n    environment: [OVERRIDE=1]\n",
		"other.yaml":            "services:\n  other:\n    image: o\n    command: [o]\n",
		"custom.env":            "TAG=v2\n",
		"sub/.keep":             "",
	})
	ctx := context.Background()
	t.Run("default discovery from a subfolder, override applied", func(t *testing.T) {
		p, err := Load(ctx, LoadOptions{WorkingDir: filepath.Join(dir, "sub")})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.ServiceNames(), []string{"web"}; !reflect.DeepEqual(got, want) {
			t.Errorf("services = %q, want %q", got, want)
		}
		if len(p.ComposeFiles) != 2 || p.Name != filepath.Base(dir) && p.Name == "" {
			t.Errorf("compose files %q, name %q", p.ComposeFiles, p.Name)
		}
		if !contains(mustService(t, p, "web").Environment, "OVERRIDE=1") {
			t.Errorf("override not applied: %q", mustService(t, p, "web").Environment)
		}
		if got, want := p.ProfileNames(), []string{"tools"}; !reflect.DeepEqual(got, want) {
			t.Errorf("ProfileNames = %q, want %q", got, want)
		}
	})
	t.Run("profile, name and -f", func(t *testing.T) {
		p, err := Load(ctx, LoadOptions{WorkingDir: dir, Files: []string{"compose.yaml"}, Name: "demo", Profiles: []string{"tools"}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.ServiceNames(), []string{"tool", "web"}; !reflect.DeepEqual(got, want) {
			t.Errorf("services = %q, want %q", got, want)
		}
		if p.Name != "demo" {
			t.Errorf("name = %q", p.Name)
		}
		if len(p.Warnings) != 0 {
			t.Errorf("warnings = %v, want none", p.Warnings)
		}
	})
	t.Run("unknown profile warns", func(t *testing.T) {
		p, err := Load(ctx, LoadOptions{WorkingDir: dir, Profiles: []string{"tool"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0].Message, `profile "tool" is not used by any service`) {
			t.Errorf("warnings = %v, want one about profile \"tool\"", p.Warnings)
		}
	})
	t.Run("COMPOSE_FILE, COMPOSE_PROJECT_NAME and COMPOSE_PROFILES", func(t *testing.T) {
		p, err := Load(ctx, LoadOptions{WorkingDir: dir, Environ: []string{
			"COMPOSE_FILE=compose.yaml:other.yaml", "COMPOSE_PROJECT_NAME=envname", "COMPOSE_PROFILES=tools"}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.ServiceNames(), []string{"other", "tool", "web"}; !reflect.DeepEqual(got, want) {
			t.Errorf("services = %q, want %q", got, want)
		}
		if p.Name != "envname" {
			t.Errorf("name = %q", p.Name)
		}
	})
	t.Run("no compose file", func(t *testing.T) {
		_, err := Load(ctx, LoadOptions{WorkingDir: t.TempDir()})
		if !errors.Is(err, ErrNoComposeFile) {
			t.Errorf("Load in an empty folder = %v, want ErrNoComposeFile", err)
		}
	})
	t.Run("MarshalConfig escapes dollars and rejects unknown formats", func(t *testing.T) {
		p, err := Load(ctx, LoadOptions{WorkingDir: dir, Files: []string{"other.yaml"}, Environ: []string{"X=a$b"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{"yaml", "json"} {
			b, err := p.MarshalConfig(format)
			if err != nil || !strings.Contains(string(b), "other") {
				t.Errorf("MarshalConfig(%s) = %s, %v", format, b, err)
			}
		}
		if _, err := p.MarshalConfig("toml"); err == nil {
			t.Error("MarshalConfig(toml) succeeded")
		}
		var empty Project
		if _, err := empty.MarshalConfig("json"); !errors.Is(err, ErrNoModel) {
			t.Errorf("MarshalConfig without a model = %v, want ErrNoModel", err)
		}
	})
}
