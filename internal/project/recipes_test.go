package project

import (
	"context"
	"os/exec"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// fakeHost is a machine with the given executable files (and the postgres
// user when root is set).
func fakeHost(uid int, files ...string) recipeHost {
	set := map[string]bool{}
	for _, f := range files {
		set[f] = true
	}
	return recipeHost{
		uid: uid,
		lookPath: func(name string) (string, error) {
			for _, dir := range []string{"/usr/local/bin", "/usr/bin", "/bin"} {
				if p := dir + "/" + name; set[p] {
					return p, nil
				}
			}
			return "", exec.ErrNotFound
		},
		glob: func(pattern string) ([]string, error) {
			var out []string
			for f := range set {
				if ok, _ := path.Match(pattern, f); ok {
					out = append(out, f)
				}
			}
			slices.Sort(out)
			return out, nil
		},
		resolve:    func(p string) (string, error) { return p, nil },
		isExec:     func(p string) bool { return set[p] },
		userExists: func(name string) bool { return name == "postgres" },
	}
}

// debianPostgres are the programs Debian's postgresql-VERSION installs.
func debianPostgres(version string) []string {
	dir := "/usr/lib/postgresql/" + version + "/bin/"
	return []string{dir + "postgres", dir + "initdb", dir + "psql", dir + "pg_isready"}
}

var (
	hostRedis = []string{"/usr/bin/redis-server", "/usr/bin/redis-cli"}
	hostTools = []string{"/usr/bin/setpriv", "/usr/bin/bash"}
)

// recipeProject loads compose (with environ for interpolation) from a new
// temp folder.
type recipeProject struct {
	t   *testing.T
	cp  *types.Project
	src *sourceSet
}

func loadRecipeProject(t *testing.T, compose string, environ ...string) recipeProject {
	t.Helper()
	dir := writeProject(t, map[string]string{"compose.yaml": compose})
	cp, src, _, err := loadCompose(context.Background(), LoadOptions{WorkingDir: dir, Environ: environ})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return recipeProject{t, cp, src}
}

// convert converts service name on host h, as convertProject does.
func (rp recipeProject) convert(h recipeHost, name string) Service {
	t := rp.t
	t.Helper()
	sc, ok := rp.cp.Services[name]
	if !ok {
		t.Fatalf("no service %q", name)
	}
	s, _, err := convertService(rp.cp, sc, rp.src)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	if err := applyRecipeOn(h, rp.cp, sc, &s); err != nil {
		t.Fatalf("applyRecipe: %v", err)
	}
	return s
}

func TestParseImage(t *testing.T) {
	tests := []struct{ ref, name, tag string }{
		{"postgres", "postgres", ""},
		{"postgres:16", "postgres", "16"},
		{"postgres:16.2-alpine", "postgres", "16.2-alpine"},
		{"library/postgres:15", "postgres", "15"},
		{"docker.io/library/postgres:15-bookworm", "postgres", "15-bookworm"},
		{"docker.io/postgres", "postgres", ""},
		{"localhost:5000/redis:7", "redis", "7"},
		{"redis@sha256:abcd", "redis", ""},
		{"redis:7-alpine@sha256:abcd", "redis", "7-alpine"},
		{"bitnami/postgresql:16", "bitnami/postgresql", "16"},
		{"ghcr.io/acme/postgres:16", "acme/postgres", "16"},
	}
	for _, tt := range tests {
		name, tag := parseImage(tt.ref)
		if name != tt.name || tag != tt.tag {
			t.Errorf("parseImage(%q) = %q, %q; want %q, %q", tt.ref, name, tag, tt.name, tt.tag)
		}
	}
}

func TestImageRecipe(t *testing.T) {
	tests := []struct {
		image string
		want  string
	}{
		{"postgres", "postgres"},
		{"postgres:16-alpine", "postgres"},
		{"docker.io/library/postgres:17", "postgres"},
		{"redis:7", "redis"},
		{"mirror.gcr.io/library/redis", "redis"},
		{"postgis/postgis:16-3.4", ""},
		{"bitnami/redis", ""},
		{"mypostgres", ""},
		{"", ""},
	}
	for _, tt := range tests {
		r, _ := imageRecipe(tt.image)
		if r.name != tt.want {
			t.Errorf("imageRecipe(%q) = %q, want %q", tt.image, r.name, tt.want)
		}
	}
}

func TestRecipeArgs(t *testing.T) {
	tests := []struct {
		name   string
		r      recipe
		cmd    []string
		want   []string
		wantOK bool
	}{
		{"no command", recipePostgres, nil, nil, true},
		{"server and options", recipePostgres, []string{"postgres", "-c", "fsync=off"}, []string{"-c", "fsync=off"}, true},
		{"options only", recipePostgres, []string{"-c", "log_statement=all"}, []string{"-c", "log_statement=all"}, true},
		{"server by path", recipeRedis, []string{"/usr/local/bin/redis-server", "--appendonly", "yes"}, []string{"--appendonly", "yes"}, true},
		{"redis config file", recipeRedis, []string{"/usr/local/etc/redis/redis.conf"}, []string{"/usr/local/etc/redis/redis.conf"}, true},
		{"a shell runs as written", recipePostgres, []string{"sh", "-c", "postgres"}, nil, false},
		{"another program runs as written", recipeRedis, []string{"redis-cli", "ping"}, nil, false},
		{"a config file is not postgres's", recipePostgres, []string{"my.conf"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := recipeArgs(tt.r, tt.cmd)
			if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("recipeArgs(%q) = %q, %v; want %q, %v", tt.cmd, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestFindPostgres(t *testing.T) {
	tests := []struct {
		name         string
		uid          int
		files        []string
		major        string
		wantPostgres string
		wantMissing  string
	}{
		{"highest version", 1000, append(debianPostgres("15"), debianPostgres("17")...), "", "/usr/lib/postgresql/17/bin/postgres", ""},
		{"the image's version when installed", 1000, append(debianPostgres("15"), debianPostgres("17")...), "15", "/usr/lib/postgresql/15/bin/postgres", ""},
		{"highest when the image's is not installed", 1000, append(debianPostgres("15"), debianPostgres("17")...), "16", "/usr/lib/postgresql/17/bin/postgres", ""},
		{"versions sort as numbers", 1000, append(debianPostgres("9"), debianPostgres("10")...), "", "/usr/lib/postgresql/10/bin/postgres", ""},
		{"PATH", 1000, []string{"/usr/local/bin/postgres", "/usr/local/bin/initdb", "/usr/bin/psql", "/usr/bin/pg_isready"}, "", "/usr/local/bin/postgres", ""},
		{"not installed", 1000, []string{"/usr/bin/psql"}, "", "", "not installed\nhint: install it (apt-get install postgresql)"},
		{"client only", 1000, []string{"/usr/bin/psql", "/usr/bin/pg_isready"}, "", "", "apt-get install postgresql"},
		{"root needs setpriv", 0, debianPostgres("15"), "", "", "setpriv"},
		{"root with setpriv", 0, append(debianPostgres("15"), hostTools...), "", "/usr/lib/postgresql/15/bin/postgres", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, missing := findPostgres(fakeHost(tt.uid, tt.files...), tt.major)
			if tt.wantMissing != "" {
				if !strings.Contains(missing, tt.wantMissing) {
					t.Errorf("missing = %q, want it to contain %q", missing, tt.wantMissing)
				}
				return
			}
			if missing != "" || b.postgres != tt.wantPostgres {
				t.Errorf("findPostgres = %q, %q; want %q", b.postgres, missing, tt.wantPostgres)
			}
		})
	}
}

func TestApplyRecipe_Postgres(t *testing.T) {
	host := fakeHost(1000, append(debianPostgres("16"), hostTools...)...)
	tests := []struct {
		name    string
		host    recipeHost
		compose string
		environ []string
		// wantRecipe "" means the recipe does not apply.
		wantRecipe string
		wantPort   int
		// wantArgs are the server arguments after the script.
		wantArgs    []string
		wantVolumes []VolumeMount
		// wantScript are lines the script must contain.
		wantScript []string
		wantHealth []string
		wantEnv    []string
		wantStop   string
	}{
		{
			name: "image only: an implicit volume and the default port",
			host: host, compose: "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: pw\n",
			wantRecipe: "postgres", wantPort: 5432,
			wantVolumes: []VolumeMount{{Volume: "berth-db-data", Target: "/var/lib/postgresql/data"}},
			wantScript: []string{
				`export PGDATA="$BERTH_VOLUME_BERTH_DB_DATA"`,
				"port=5432",
				`sock="${BERTH_STATE_DIR:-/tmp}/run/${BERTH_SERVICE:-postgres}-$port"`,
				`exec $as /usr/lib/postgresql/16/bin/postgres -D "$PGDATA" -k "$sock" -p "$port" -c listen_addresses=127.0.0.1 "$@"`,
			},
			wantHealth: []string{"CMD-SHELL", `/usr/lib/postgresql/16/bin/pg_isready -q -h 127.0.0.1 -p 5432 -U "${POSTGRES_USER:-postgres}"`},
			wantEnv:    []string{"PGHOST=127.0.0.1", "PGPASSWORD=pw", "PGPORT=5432", "POSTGRES_PASSWORD=pw"},
			wantStop:   "SIGINT",
		},
		{
			name: "named volume at the data folder; the exposed port",
			host: host, compose: "services:\n  db:\n    image: postgres\n    expose: [\"${P}\"]\n    volumes: [pgdata:/var/lib/postgresql/data]\nvolumes:\n  pgdata:\n",
			environ:    []string{"P=15432"},
			wantRecipe: "postgres", wantPort: 15432,
			wantVolumes: []VolumeMount{{Volume: "pgdata", Target: "/var/lib/postgresql/data"}},
			wantScript:  []string{`export PGDATA="$BERTH_VOLUME_PGDATA"`, "port=15432"},
		},
		{
			name: "PGDATA below the volume; PGPORT; the file's healthcheck and stop signal",
			host: host, compose: `services:
  db:
    image: postgres:16-alpine
    stop_signal: SIGTERM
    environment:
      PGDATA: /var/lib/postgresql/data/pgdata
      PGPORT: "6543"
    ports: ["5432:5432"]
    volumes: [db-data:/var/lib/postgresql/data]
    healthcheck:
      test: pg_isready -U postgres
volumes:
  db-data:
`,
			wantRecipe: "postgres", wantPort: 6543,
			wantVolumes: []VolumeMount{{Volume: "db-data", Target: "/var/lib/postgresql/data"}},
			wantScript:  []string{`export PGDATA="$BERTH_VOLUME_DB_DATA/pgdata"`, "port=6543"},
			wantHealth:  []string{"CMD-SHELL", "pg_isready -U postgres"},
			wantEnv:     []string{"PGDATA=/var/lib/postgresql/data/pgdata", "PGHOST=127.0.0.1", "PGPORT=6543"},
			wantStop:    "SIGTERM",
		},
		{
			name: "a bind mount for data; setup scripts from a folder and a file",
			host: host, compose: `services:
  db:
    image: postgres
    command: postgres -c fsync=off
    volumes:
      - ./data/pg:/var/lib/postgresql/data
      - ./initdb:/docker-entrypoint-initdb.d:ro
      - ./seed.sql:/docker-entrypoint-initdb.d/zz-seed.sql
`,
			wantRecipe: "postgres", wantPort: 5432, wantArgs: []string{"-c", "fsync=off"},
			wantScript: []string{
				"export PGDATA={dir}/data/pg",
				"	for f in {dir}/initdb/* {dir}/seed.sql; do",
				`	$as /usr/lib/postgresql/16/bin/postgres -D "$PGDATA" -k "$sock" -p "$port" -c listen_addresses= "$@" &`,
			},
		},
		{
			name: "postgres 18 keeps its data under /var/lib/postgresql",
			host: fakeHost(1000, debianPostgres("18")...), compose: "services:\n  db:\n    image: postgres:18\n    volumes: [pg:/var/lib/postgresql]\nvolumes:\n  pg:\n",
			wantRecipe: "postgres", wantPort: 5432,
			wantVolumes: []VolumeMount{{Volume: "pg", Target: "/var/lib/postgresql"}},
			wantScript:  []string{`export PGDATA="$BERTH_VOLUME_PG/18/docker"`},
		},
		{
			name: "root: the server runs as the postgres user",
			host: fakeHost(0, append(debianPostgres("16"), hostTools...)...), compose: "services:\n  db:\n    image: postgres\n",
			wantRecipe: "postgres", wantPort: 5432,
			wantScript: []string{
				"	as='setpriv --reuid=postgres --regid=postgres --init-groups --'",
				`	find "$PGDATA" "$sock" ! -user postgres -exec chown postgres:postgres {} +`,
			},
		},
		{name: "x-berth command wins", host: host, compose: "services:\n  db:\n    image: postgres\n    x-berth:\n      command: sleep 1\n"},
		{name: "x-berth entrypoint wins", host: host, compose: "services:\n  db:\n    image: postgres\n    x-berth:\n      entrypoint: [sleep]\n    command: [\"1\"]\n"},
		{name: "an entrypoint runs as written", host: host, compose: "services:\n  db:\n    image: postgres\n    entrypoint: [sh, -c, 'exit 0']\n"},
		{name: "another command runs as written", host: host, compose: "services:\n  db:\n    image: postgres\n    command: psql -c 'select 1'\n"},
		{name: "not installed", host: fakeHost(1000, "/usr/bin/psql"), compose: "services:\n  db:\n    image: postgres\n"},
		{name: "another image", host: host, compose: "services:\n  db:\n    image: mysql:8\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := loadRecipeProject(t, tt.compose, tt.environ...)
			before, s := rp.convert(fakeHost(1000), "db"), rp.convert(tt.host, "db")
			if tt.wantRecipe == "" {
				if !reflect.DeepEqual(s, before) {
					t.Errorf("the recipe changed the service:\n got %+v\nwant %+v", s, before)
				}
				return
			}
			if s.Recipe != tt.wantRecipe || s.RecipePort != tt.wantPort {
				t.Errorf("Recipe, RecipePort = %q, %d; want %q, %d", s.Recipe, s.RecipePort, tt.wantRecipe, tt.wantPort)
			}
			if len(s.Argv) < 4 || s.Argv[0] != "/bin/sh" || s.Argv[1] != "-c" || s.Argv[3] != "berth-postgres" {
				t.Fatalf("Argv = %q, want /bin/sh -c SCRIPT berth-postgres ARGS...", s.Argv)
			}
			if got := s.Argv[4:]; !slices.Equal(got, tt.wantArgs) {
				t.Errorf("server arguments = %q, want %q", got, tt.wantArgs)
			}
			if tt.wantVolumes != nil && !reflect.DeepEqual(s.Volumes, tt.wantVolumes) {
				t.Errorf("Volumes = %+v, want %+v", s.Volumes, tt.wantVolumes)
			}
			dir := before.WorkingDir
			for _, line := range tt.wantScript {
				line = strings.ReplaceAll(line, "{dir}", dir)
				if !slices.Contains(strings.Split(s.Argv[2], "\n"), line) {
					t.Errorf("script has no line %q:\n%s", line, s.Argv[2])
				}
			}
			if tt.wantHealth != nil && (s.Healthcheck == nil || !slices.Equal(s.Healthcheck.Test, tt.wantHealth)) {
				t.Errorf("Healthcheck = %+v, want test %q", s.Healthcheck, tt.wantHealth)
			}
			for _, kv := range tt.wantEnv {
				if !slices.Contains(s.Environment, kv) {
					t.Errorf("Environment = %q, want %q in it", s.Environment, kv)
				}
			}
			if !slices.IsSorted(s.Environment) {
				t.Errorf("Environment is not sorted: %q", s.Environment)
			}
			if tt.wantStop != "" && s.StopSignal != tt.wantStop {
				t.Errorf("StopSignal = %q, want %q", s.StopSignal, tt.wantStop)
			}
			if s.Hash == before.Hash {
				t.Errorf("Hash did not change with the recipe")
			}
		})
	}
}

func TestApplyRecipe_Redis(t *testing.T) {
	host := fakeHost(0, hostRedis...)
	tests := []struct {
		name       string
		host       recipeHost
		compose    string
		wantRecipe string
		wantPort   int
		wantArgs   []string
		wantVols   []VolumeMount
		wantScript []string
		wantHealth bool
	}{
		{
			name: "image only", host: host, compose: "services:\n  cache:\n    image: redis:7\n",
			wantRecipe: "redis", wantPort: 6379, wantHealth: true,
			wantVols: []VolumeMount{{Volume: "berth-cache-data", Target: "/data"}},
			wantScript: []string{
				`data="$BERTH_VOLUME_BERTH_CACHE_DATA"`,
				`exec /usr/bin/redis-server --port 6379 --bind 127.0.0.1 --dir "$data" "$@"`,
			},
		},
		{
			name: "the file's command: its arguments win, its --port is the port", host: host,
			compose:    "services:\n  cache:\n    image: redis:7-alpine\n    command: redis-server --appendonly yes --port 7000\n    volumes: [redis-data:/data]\nvolumes:\n  redis-data:\n",
			wantRecipe: "redis", wantPort: 7000, wantHealth: true,
			wantArgs:   []string{"--appendonly", "yes", "--port", "7000"},
			wantVols:   []VolumeMount{{Volume: "redis-data", Target: "/data"}},
			wantScript: []string{`data="$BERTH_VOLUME_REDIS_DATA"`},
		},
		{
			name: "a configuration file from a bind mount", host: host,
			compose:    "services:\n  cache:\n    image: redis\n    command: [/usr/local/etc/redis/redis.conf]\n    volumes: [./redis.conf:/usr/local/etc/redis/redis.conf:ro]\n",
			wantRecipe: "redis", wantPort: 6379, wantHealth: true,
			wantScript: []string{`exec /usr/bin/redis-server {dir}/redis.conf --port 6379 --bind 127.0.0.1 --dir "$data" "$@"`},
		},
		{
			name: "no redis-cli, no health check", host: fakeHost(1000, "/usr/bin/redis-server"),
			compose:    "services:\n  cache:\n    image: redis\n    expose: [\"6380\"]\n",
			wantRecipe: "redis", wantPort: 6380,
		},
		{name: "not installed", host: fakeHost(1000), compose: "services:\n  cache:\n    image: redis\n"},
		{name: "another command", host: host, compose: "services:\n  cache:\n    image: redis\n    command: redis-cli -h other ping\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := loadRecipeProject(t, tt.compose)
			before, s := rp.convert(fakeHost(1000), "cache"), rp.convert(tt.host, "cache")
			if tt.wantRecipe == "" {
				if !reflect.DeepEqual(s, before) {
					t.Errorf("the recipe changed the service:\n got %+v\nwant %+v", s, before)
				}
				return
			}
			if s.Recipe != tt.wantRecipe || s.RecipePort != tt.wantPort {
				t.Errorf("Recipe, RecipePort = %q, %d; want %q, %d", s.Recipe, s.RecipePort, tt.wantRecipe, tt.wantPort)
			}
			if len(s.Argv) < 4 || s.Argv[0] != "/bin/sh" || s.Argv[3] != "berth-redis" {
				t.Fatalf("Argv = %q, want /bin/sh -c SCRIPT berth-redis ARGS...", s.Argv)
			}
			if got := s.Argv[4:]; !slices.Equal(got, tt.wantArgs) {
				t.Errorf("server arguments = %q, want %q", got, tt.wantArgs)
			}
			if tt.wantVols != nil && !reflect.DeepEqual(s.Volumes, tt.wantVols) {
				t.Errorf("Volumes = %+v, want %+v", s.Volumes, tt.wantVols)
			}
			for _, line := range tt.wantScript {
				line = strings.ReplaceAll(line, "{dir}", before.WorkingDir)
				if !slices.Contains(strings.Split(s.Argv[2], "\n"), line) {
					t.Errorf("script has no line %q:\n%s", line, s.Argv[2])
				}
			}
			if got := s.Healthcheck != nil; got != tt.wantHealth {
				t.Errorf("Healthcheck = %+v, want one: %v", s.Healthcheck, tt.wantHealth)
			} else if got {
				want := []string{"CMD-SHELL", "/usr/bin/redis-cli -h 127.0.0.1 -p " + strconv.Itoa(tt.wantPort) + " ping | grep -Eq 'PONG|NOAUTH'"}
				if !slices.Equal(s.Healthcheck.Test, want) {
					t.Errorf("Healthcheck.Test = %q, want %q", s.Healthcheck.Test, want)
				}
			}
			if s.StopSignal != "SIGTERM" {
				t.Errorf("StopSignal = %q, want SIGTERM (redis saves on it)", s.StopSignal)
			}
		})
	}
}

func TestImplicitVolumeName(t *testing.T) {
	host := fakeHost(1000, hostRedis...)
	s := loadRecipeProject(t, "services:\n  cache:\n    image: redis\n  other:\n    image: app\n    command: [run]\n    volumes: [berth-cache-data:/x]\nvolumes:\n  berth-cache-data:\n").convert(host, "cache")
	if want := []VolumeMount{{Volume: "berth-cache-data-2", Target: "/data"}}; !reflect.DeepEqual(s.Volumes, want) {
		t.Errorf("Volumes = %+v, want %+v (a name the project does not use)", s.Volumes, want)
	}
}

// TestRecipeScripts_Syntax checks the generated scripts with sh -n (the
// shell only parses them).
func TestRecipeScripts_Syntax(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	scripts := map[string]string{
		"postgres as root": postgresScript{image: "postgres", bins: pgBins{postgres: "/p/postgres", initdb: "/p/initdb", psql: "/p/psql", pgIsready: "/p/pg_isready", shell: "sh"},
			data: `"$BERTH_VOLUME_X"`, port: 5432, root: true,
			init: []initdbSource{{path: "/a b/init", dir: true}, {path: "/it's.sql"}}}.script(),
		"postgres": postgresScript{image: "postgres", bins: pgBins{postgres: "/p/postgres", initdb: "/p/initdb", psql: "/p/psql", pgIsready: "/p/pg_isready", shell: "sh"},
			data: "/d", port: 5432}.script(),
		"redis": redisScript{image: "redis", bins: redisBins{server: "/r/redis-server"}, data: `"$BERTH_VOLUME_X"`, port: 6379, conf: "/c/redis.conf"}.script(),
	}
	for name, script := range scripts {
		out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput()
		if err != nil {
			t.Errorf("%s: sh -n: %v\n%s\n%s", name, err, out, script)
		}
	}
}

func TestCheckRunnable_RecipeHint(t *testing.T) {
	e := &RunnableError{Services: []NotRunnable{{
		Service: "db", Image: "postgres:16", File: "compose.yaml", Line: 3,
		Recipe: "berth's built-in postgres recipe needs " + recipePostgres.what + ", which is not installed\nhint: install it (apt-get install postgresql)",
	}}}
	want := `service "db" has only image "postgres:16": berth's built-in postgres recipe needs the PostgreSQL server (postgres, initdb, psql, pg_isready), which is not installed
hint: install it (apt-get install postgresql), or add ` + "`x-berth: {command: ...}`" + ` to the service (compose.yaml:3)`
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if _, missing := recipeMissing(fakeHost(1000), "redis:7"); !strings.Contains(missing, "apt-get install redis-server") {
		t.Errorf("redis missing = %q, want the package to install", missing)
	}
	if r, missing := recipeMissing(fakeHost(1000), "nginx"); r.name != "" || missing != "" {
		t.Errorf("nginx: recipe %q, missing %q; want none", r.name, missing)
	}
}
