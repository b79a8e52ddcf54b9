package project

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Built-in recipes: how berth runs a service that only names an official
// image it knows (postgres, redis) with the server installed on the machine.
// docs/recipes.md is the user-facing description; keep the two in step.

// recipe describes one official image berth can stand in for natively.
type recipe struct {
	// name is the recipe's name and the image's repository name.
	name string
	// server is the program the image's entrypoint accepts as command[0].
	server string
	// port is the port the image's server listens on by default.
	port int
	// dataTarget is the container folder the image keeps its data in.
	dataTarget string
	// what and install say what is missing, and how to get it, in errors.
	what, install string
}

var (
	recipePostgres = recipe{name: "postgres", server: "postgres", port: 5432, dataTarget: "/var/lib/postgresql/data",
		what: "the PostgreSQL server (postgres, initdb, psql, pg_isready)", install: "apt-get install postgresql"}
	recipeRedis = recipe{name: "redis", server: "redis-server", port: 6379, dataTarget: "/data",
		what: "the Redis server (redis-server)", install: "apt-get install redis-server"}
)

// Recipe health checks: probe quickly while the server starts (initdb takes
// a few seconds), then at a calm pace.
const (
	recipeHealthInterval      = 10 * time.Second
	recipeHealthTimeout       = 5 * time.Second
	recipeHealthRetries       = 3
	recipeHealthStartPeriod   = 60 * time.Second
	recipeHealthStartInterval = 250 * time.Millisecond
)

// initdbTarget is where the postgres image looks for its setup scripts.
const initdbTarget = "/docker-entrypoint-initdb.d"

// recipeHost is what recipe selection looks up on this machine; tests
// substitute a fake one.
type recipeHost struct {
	// uid is the user berth runs as (the engine runs as the same user).
	uid int
	// lookPath finds a program in $PATH, as exec.LookPath.
	lookPath func(string) (string, error)
	// glob lists paths matching a pattern, as filepath.Glob.
	glob func(string) ([]string, error)
	// resolve follows symbolic links, as filepath.EvalSymlinks.
	resolve func(string) (string, error)
	// isExec reports whether path is an executable file.
	isExec func(string) bool
	// userExists reports whether the system user exists.
	userExists func(string) bool
}

// systemHost looks at the real machine.
func systemHost() recipeHost {
	return recipeHost{
		uid:      os.Getuid(),
		lookPath: exec.LookPath,
		glob:     filepath.Glob,
		resolve:  filepath.EvalSymlinks,
		isExec: func(p string) bool {
			st, err := os.Stat(p)
			return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
		},
		userExists: func(name string) bool {
			_, err := user.Lookup(name)
			return err == nil
		},
	}
}

// parseImage returns the repository name of an image reference without
// registry, "library/", tag or digest ("docker.io/library/postgres:16" →
// "postgres"), and its tag.
func parseImage(ref string) (name, tag string) {
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, tag = ref[:i], ref[i+1:]
	}
	parts := strings.Split(ref, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:]
	}
	if len(parts) == 2 && parts[0] == "library" {
		parts = parts[1:]
	}
	return strings.ToLower(strings.Join(parts, "/")), tag
}

// imageRecipe returns the recipe for an image reference, if there is one.
func imageRecipe(image string) (recipe, bool) {
	name, _ := parseImage(image)
	switch name {
	case recipePostgres.name:
		return recipePostgres, true
	case recipeRedis.name:
		return recipeRedis, true
	}
	return recipe{}, false
}

// tagMajor is the leading number of an image tag ("16.2-alpine" → "16").
func tagMajor(tag string) string {
	i := 0
	for i < len(tag) && tag[i] >= '0' && tag[i] <= '9' {
		i++
	}
	return tag[:i]
}

// recipeArgs returns the server arguments of a compose command that the
// image's own entrypoint would hand to its server: none for no command,
// the rest after the server's name ("postgres -c fsync=off"), or all of a
// command that starts with an option ("-c fsync=off") or, for redis, a
// configuration file. ok is false for any other command (it runs as written).
func recipeArgs(r recipe, cmd []string) (args []string, ok bool) {
	switch {
	case len(cmd) == 0:
		return nil, true
	case path.Base(cmd[0]) == r.server:
		return slices.Clone(cmd[1:]), true
	case strings.HasPrefix(cmd[0], "-"):
		return slices.Clone(cmd), true
	case r.name == recipeRedis.name && strings.HasSuffix(cmd[0], ".conf"):
		return slices.Clone(cmd), true
	}
	return nil, false
}

// applyRecipe fills s from a built-in recipe when sc only names an image
// berth knows (no entrypoint, no x-berth command or entrypoint, and no
// command, or one the image would pass to its server) and the server is
// installed. Otherwise s is unchanged: a service with nothing to run is
// reported by CheckRunnable, with what to install.
func applyRecipe(cp *types.Project, sc types.ServiceConfig, s *Service) error {
	return applyRecipeOn(systemHost(), cp, sc, s)
}

func applyRecipeOn(h recipeHost, cp *types.Project, sc types.ServiceConfig, s *Service) error {
	r, ok := imageRecipe(sc.Image)
	if !ok || len(sc.Entrypoint) > 0 || xberthHas(sc, "command") || xberthHas(sc, "entrypoint") {
		return nil
	}
	args, ok := recipeArgs(r, sc.Command)
	if !ok {
		return nil
	}
	var changed bool
	switch r.name {
	case recipePostgres.name:
		changed = applyPostgres(h, cp, sc, s, args)
	case recipeRedis.name:
		changed = applyRedis(h, cp, sc, s, args)
	}
	if !changed {
		return nil
	}
	hash, err := serviceHash(*s)
	if err != nil {
		return fmt.Errorf("hash service %q: %w", s.Name, err)
	}
	s.Hash = hash
	return nil
}

// recipeMissing says why the recipe for image cannot run here ("" when it
// can, or when there is no recipe for image).
func recipeMissing(h recipeHost, image string) (r recipe, missing string) {
	r, ok := imageRecipe(image)
	if !ok {
		return r, ""
	}
	switch r.name {
	case recipePostgres.name:
		_, tag := parseImage(image)
		_, missing = findPostgres(h, tagMajor(tag))
	case recipeRedis.name:
		_, missing = findRedis(h)
	}
	return r, missing
}

// recipeHint is the CheckRunnable hint for a service with only image: the
// recipe's missing piece and how to install it, or "" when image has no recipe.
func recipeHint(image string) string {
	r, missing := recipeMissing(systemHost(), image)
	if missing == "" {
		return ""
	}
	return fmt.Sprintf("berth's built-in %s recipe needs %s", r.name, missing)
}

// pgBins are the PostgreSQL programs the postgres recipe runs.
type pgBins struct {
	postgres, initdb, psql, pgIsready string
	// shell runs the *.sh setup scripts (bash, as the image does, else sh).
	shell string
}

// findPostgres finds the PostgreSQL programs: Debian's
// /usr/lib/postgresql/VERSION/bin (the image's major version when it is
// installed, else the highest), else $PATH. missing is non-empty when the
// recipe cannot run, and says what to install.
func findPostgres(h recipeHost, major string) (pgBins, string) {
	var b pgBins
	dir := ""
	found, _ := h.glob("/usr/lib/postgresql/*/bin/postgres")
	type version struct {
		n   int
		dir string
	}
	var versions []version
	for _, f := range found {
		d := filepath.Dir(f)
		v := filepath.Base(filepath.Dir(d))
		n, err := strconv.Atoi(v)
		if err != nil || !h.isExec(f) || !h.isExec(filepath.Join(d, "initdb")) {
			continue
		}
		if v == major {
			dir = d
		}
		versions = append(versions, version{n, d})
	}
	if dir == "" && len(versions) > 0 {
		sort.Slice(versions, func(i, j int) bool { return versions[i].n < versions[j].n })
		dir = versions[len(versions)-1].dir
	}
	if dir == "" {
		if p, err := h.lookPath("postgres"); err == nil {
			if real, err := h.resolve(p); err == nil {
				p = real
			}
			dir = filepath.Dir(p)
		}
	}
	tool := func(name string) string {
		if dir != "" {
			if p := filepath.Join(dir, name); h.isExec(p) {
				return p
			}
		}
		if p, err := h.lookPath(name); err == nil {
			return p
		}
		return ""
	}
	b.postgres, b.initdb, b.psql, b.pgIsready = tool("postgres"), tool("initdb"), tool("psql"), tool("pg_isready")
	if b.postgres == "" || b.initdb == "" || b.psql == "" || b.pgIsready == "" {
		return b, recipePostgres.what + ", which is not installed\nhint: install it (" + recipePostgres.install + ")"
	}
	b.shell = "sh"
	if p, err := h.lookPath("bash"); err == nil {
		b.shell = p
	}
	if h.uid == 0 {
		// PostgreSQL refuses to run as root: the script switches to the
		// postgres system user, as the image's entrypoint does with gosu.
		if !h.userExists("postgres") {
			return b, "a \"postgres\" system user when berth runs as root (PostgreSQL refuses to run as root)\nhint: create it (" + recipePostgres.install + " does), or run berth as a normal user"
		}
		if _, err := h.lookPath("setpriv"); err != nil {
			return b, "setpriv to run PostgreSQL as the postgres user when berth runs as root\nhint: install it (apt-get install util-linux), or run berth as a normal user"
		}
	}
	return b, ""
}

// redisBins are the Redis programs the redis recipe runs.
type redisBins struct{ server, cli string }

func findRedis(h recipeHost) (redisBins, string) {
	var b redisBins
	p, err := h.lookPath("redis-server")
	if err != nil {
		return b, recipeRedis.what + ", which is not installed\nhint: install it (" + recipeRedis.install + ")"
	}
	b.server = p
	if p, err := h.lookPath("redis-cli"); err == nil {
		b.cli = p
	}
	return b, ""
}

// applyPostgres fills s from the postgres recipe; it reports whether it did.
func applyPostgres(h recipeHost, cp *types.Project, sc types.ServiceConfig, s *Service, args []string) bool {
	_, tag := parseImage(sc.Image)
	major := tagMajor(tag)
	bins, missing := findPostgres(h, major)
	if missing != "" {
		return false
	}
	env := envMap(s.Environment)

	// The data folder: PGDATA (a container path), else the image's default.
	pgdata := recipePostgres.dataTarget
	if n, err := strconv.Atoi(major); err == nil && n >= 18 {
		pgdata = "/var/lib/postgresql/" + major + "/docker"
	}
	if v := env["PGDATA"]; v != "" && path.IsAbs(v) {
		pgdata = path.Clean(v)
	}
	data := recipeData(cp, sc, s, pgdata)

	port := recipePort(recipePostgres, sc, s.Ports)
	if n, err := strconv.Atoi(env["PGPORT"]); err == nil && n > 0 && n < 65536 {
		port = n
	}
	p := postgresScript{
		image: sc.Image, bins: bins, data: data, port: port,
		root: h.uid == 0, init: initdbSources(sc),
	}
	s.Argv = append([]string{"/bin/sh", "-c", p.script(), "berth-postgres"}, args...)
	s.Recipe, s.RecipePort = recipePostgres.name, port
	// libpq clients run in the service (the file's own healthcheck, say
	// `pg_isready -U postgres`, or `berth exec db psql -U postgres`) find the
	// server, and log in, where the image's socket would let them in.
	s.Environment = setDefaultEnv(s.Environment, "PGHOST", "127.0.0.1")
	s.Environment = setDefaultEnv(s.Environment, "PGPORT", strconv.Itoa(port))
	if pw := env["POSTGRES_PASSWORD"]; pw != "" {
		s.Environment = setDefaultEnv(s.Environment, "PGPASSWORD", pw)
	}
	if sc.StopSignal == "" {
		// As the image's STOPSIGNAL: a fast shutdown, which does not wait
		// for clients to disconnect.
		s.StopSignal = "SIGINT"
	}
	if sc.HealthCheck == nil && !xberthHas(sc, "healthcheck") {
		test := fmt.Sprintf(`%s -q -h 127.0.0.1 -p %d -U "${POSTGRES_USER:-postgres}"`, shq(bins.pgIsready), port)
		s.Healthcheck = recipeHealthcheck([]string{"CMD-SHELL", test})
	}
	return true
}

// applyRedis fills s from the redis recipe; it reports whether it did.
func applyRedis(h recipeHost, cp *types.Project, sc types.ServiceConfig, s *Service, args []string) bool {
	bins, missing := findRedis(h)
	if missing != "" {
		return false
	}
	data := recipeData(cp, sc, s, recipeRedis.dataTarget)
	port := recipePort(recipeRedis, sc, s.Ports)
	conf := ""
	if len(args) > 0 && strings.HasSuffix(args[0], ".conf") {
		conf = hostPath(sc, args[0])
		args = args[1:]
	}
	// The file's own --port wins (redis applies the last one).
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--port" {
			if n, err := strconv.Atoi(args[i+1]); err == nil && n > 0 && n < 65536 {
				port = n
			}
		}
	}
	r := redisScript{image: sc.Image, bins: bins, data: data, port: port, conf: conf}
	s.Argv = append([]string{"/bin/sh", "-c", r.script(), "berth-redis"}, args...)
	s.Recipe, s.RecipePort = recipeRedis.name, port
	if sc.HealthCheck == nil && !xberthHas(sc, "healthcheck") && bins.cli != "" {
		// NOAUTH: the server answers, it only wants the password the file set.
		test := fmt.Sprintf("%s -h 127.0.0.1 -p %d ping | grep -Eq 'PONG|NOAUTH'", shq(bins.cli), port)
		s.Healthcheck = recipeHealthcheck([]string{"CMD-SHELL", test})
	}
	return true
}

func recipeHealthcheck(test []string) *Healthcheck {
	return &Healthcheck{
		Test: test, Interval: recipeHealthInterval, Timeout: recipeHealthTimeout, Retries: recipeHealthRetries,
		StartPeriod: recipeHealthStartPeriod, StartInterval: recipeHealthStartInterval,
	}
}

// recipeData returns a shell word for the folder that backs the container
// folder target: the named volume or bind mount at target (or above it),
// else an implicit named volume berth adds to s, so that the data lives
// until `down -v` like any named volume's.
func recipeData(cp *types.Project, sc types.ServiceConfig, s *Service, target string) string {
	best := -1
	for i, v := range sc.Volumes {
		if v.Type != types.VolumeTypeVolume && v.Type != types.VolumeTypeBind || v.Source == "" {
			continue
		}
		t := path.Clean(v.Target)
		if t != target && !strings.HasPrefix(target, strings.TrimSuffix(t, "/")+"/") {
			continue
		}
		if best < 0 || len(t) > len(path.Clean(sc.Volumes[best].Target)) {
			best = i
		}
	}
	if best >= 0 {
		v := sc.Volumes[best]
		rel := strings.TrimPrefix(target, strings.TrimSuffix(path.Clean(v.Target), "/"))
		if v.Type == types.VolumeTypeBind {
			return shq(filepath.Join(v.Source, filepath.FromSlash(rel)))
		}
		return `"$` + volumeEnvName(v.Source) + rel + `"`
	}
	name := implicitVolumeName(cp, s.Name)
	s.Volumes = append(s.Volumes, VolumeMount{Volume: name, Target: target})
	return `"$` + volumeEnvName(name) + `"`
}

// implicitVolumeName names the volume that stands for the image's anonymous
// data volume: berth-SERVICE-data, unless the project already has that name.
func implicitVolumeName(cp *types.Project, service string) string {
	taken := map[string]bool{}
	if cp != nil {
		for name := range cp.Volumes {
			taken[name] = true
		}
		for _, sc := range cp.Services {
			for _, v := range sc.Volumes {
				taken[v.Source] = true
			}
		}
	}
	base := "berth-" + service + "-data"
	name := base
	for i := 2; taken[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	return name
}

// volumeEnvName is the variable the engine hands a named volume's folder
// in: BERTH_VOLUME_<NAME>, upper-cased, other characters as '_'. It must
// stay equal to engine.VolumeEnvName (this package imports no engine).
func volumeEnvName(volume string) string {
	var b strings.Builder
	b.WriteString("BERTH_VOLUME_")
	for _, r := range strings.ToUpper(volume) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// recipePort is the port the recipe's server listens on: the container port
// the file publishes or exposes (the image's default when it is among them,
// else the first), else the image's default.
func recipePort(r recipe, sc types.ServiceConfig, ports []Port) int {
	var candidates []int
	for _, p := range ports {
		if p.Protocol == "" || p.Protocol == "tcp" {
			candidates = append(candidates, p.Target)
		}
	}
	for _, e := range sc.Expose {
		num, proto, _ := strings.Cut(e, "/")
		if proto != "" && proto != "tcp" {
			continue
		}
		num, _, _ = strings.Cut(num, "-")
		if n, err := strconv.Atoi(num); err == nil && n > 0 && n < 65536 {
			candidates = append(candidates, n)
		}
	}
	if len(candidates) == 0 || slices.Contains(candidates, r.port) {
		return r.port
	}
	return candidates[0]
}

// initdbSource is a host folder or file mounted at (or into) /docker-entrypoint-initdb.d.
type initdbSource struct {
	path string
	dir  bool
}

// initdbSources are the host folders and files the file mounts at (or
// into) /docker-entrypoint-initdb.d: folders first (their files run in name
// order), then single files in the order of their names in the container.
func initdbSources(sc types.ServiceConfig) []initdbSource {
	var dirs, files []initdbSource
	var names []string
	for _, v := range sc.Volumes {
		if v.Type != types.VolumeTypeBind || v.Source == "" {
			continue
		}
		t := path.Clean(v.Target)
		switch {
		case t == initdbTarget:
			dirs = append(dirs, initdbSource{path: v.Source, dir: true})
		case path.Dir(t) == initdbTarget:
			files = append(files, initdbSource{path: v.Source})
			names = append(names, path.Base(t))
		}
	}
	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return names[idx[a]] < names[idx[b]] })
	out := dirs
	for _, i := range idx {
		out = append(out, files[i])
	}
	return out
}

// hostPath maps a container path under a bind mount to the host path.
func hostPath(sc types.ServiceConfig, p string) string {
	for _, v := range sc.Volumes {
		if v.Type != types.VolumeTypeBind || v.Source == "" {
			continue
		}
		t := path.Clean(v.Target)
		if p == t {
			return v.Source
		}
		if strings.HasPrefix(p, t+"/") {
			return filepath.Join(v.Source, filepath.FromSlash(strings.TrimPrefix(p, t+"/")))
		}
	}
	return p
}

// xberthHas reports whether the service's x-berth mapping sets key.
func xberthHas(sc types.ServiceConfig, key string) bool {
	m, ok := sc.Extensions[extensionName].(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}

// envMap reads sorted KEY=VALUE pairs.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// setDefaultEnv adds KEY=VALUE to the sorted env unless KEY is set.
func setDefaultEnv(env []string, key, value string) []string {
	if _, ok := envMap(env)[key]; ok {
		return env
	}
	env = append(env, key+"="+value)
	sort.Strings(env)
	return env
}

// shq quotes s for the shell: as is when it is plainly safe, else in single quotes.
func shq(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=+,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// postgresScript is the /bin/sh script of the postgres recipe. The file's
// server arguments follow it as "$@".
type postgresScript struct {
	image string
	bins  pgBins
	// data is a shell word for the data folder.
	data string
	port int
	// root adds the switch to the postgres system user.
	root bool
	// init are the host folders and files mounted at /docker-entrypoint-initdb.d.
	init []initdbSource
}

// script renders the script. It does what the image's docker-entrypoint.sh
// does, natively: initialise an empty data folder once (initdb, the
// database, the setup scripts, on a temporary socket-only server), then
// exec the server on 127.0.0.1.
func (p postgresScript) script() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# berth recipe %q for image %s (docs/recipes.md): what the image's", "postgres", p.image)
	w("# entrypoint does, natively. The file's server arguments follow as \"$@\".")
	w("set -eu")
	w("export PGDATA=%s", p.data)
	w("port=%d", p.port)
	w("# The server's Unix socket, in a private folder: berth's state folder,")
	w("# unless that makes the socket's path too long (108 bytes at most).")
	w(`sock="${BERTH_STATE_DIR:-/tmp}/run/${BERTH_SERVICE:-postgres}-$port"`)
	w(`[ "${#sock}" -le 90 ] || sock="/tmp/berth-postgres-$(id -u)-$port"`)
	w(`user="${POSTGRES_USER:-postgres}"`)
	w(`db="${POSTGRES_DB:-$user}"`)
	w(`mkdir -p "$PGDATA" "$sock"`)
	w("as=")
	if p.root {
		w(`if [ "$(id -u)" = 0 ]; then`)
		w("	# PostgreSQL refuses to run as root: run the server as the postgres user.")
		w(`	find "$PGDATA" "$sock" ! -user postgres -exec chown postgres:postgres {} +`)
		w("	as='setpriv --reuid=postgres --regid=postgres --init-groups --'")
		reach := `"$PGDATA" "$sock"`
		for _, src := range p.init {
			reach += " " + shq(src.path)
		}
		// ls, not test -r: access(2) ignores capabilities of non-root users.
		w("	reach() { for f in %s; do $as ls -- \"$f\" >/dev/null 2>&1 || return 1; done; }", reach)
		w("	# A folder above (berth's state folder, /root) may be closed to that user:")
		w("	# then let the server pass folder permissions, as root would.")
		w("	for cap in dac_read_search dac_override; do")
		w("		reach && break")
		w(`		as="setpriv --reuid=postgres --regid=postgres --init-groups --inh-caps=+$cap --ambient-caps=+$cap --"`)
		w("	done")
		w(`	reach || { echo "berth: postgres: the postgres user cannot reach $PGDATA; set BERTH_STATE_HOME to a folder it can reach, or run berth as a normal user" >&2; exit 1; }`)
		w("fi")
	}
	w(`chmod 700 "$PGDATA" "$sock"`)
	w(`if [ ! -s "$PGDATA/PG_VERSION" ]; then`)
	w(`	auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"`)
	w(`	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then`)
	w(`		echo "berth: postgres: the database is uninitialized and POSTGRES_PASSWORD is not set: set it, or POSTGRES_HOST_AUTH_METHOD=trust (as the image requires)" >&2`)
	w("		exit 1")
	w("	fi")
	w("	pwfile=")
	w(`	if [ -n "${POSTGRES_PASSWORD:-}" ]; then`)
	w(`		pwfile="$sock/pwfile"`)
	w(`		(umask 077; printf '%%s\n' "$POSTGRES_PASSWORD" > "$pwfile")`)
	w(`		[ -z "$as" ] || chown postgres:postgres "$pwfile"`)
	w("	fi")
	w("	# Trust on the private socket, passwords over TCP (every native client")
	w("	# connects through 127.0.0.1, as other containers do through the network).")
	w(`	eval '$as %s --username="$user" ${pwfile:+--pwfile="$pwfile"} --encoding=UTF8 --auth-local=trust --auth-host="$auth" '"${POSTGRES_INITDB_ARGS:-}"`, shq(p.bins.initdb))
	w(`	rm -f "$pwfile"`)
	w("	# A temporary server on the socket only, for the setup.")
	w(`	$as %s -D "$PGDATA" -k "$sock" -p "$port" -c listen_addresses= "$@" &`, shq(p.bins.postgres))
	w("	pid=$!")
	w(`	until %s -q -h "$sock" -p "$port" -U "$user" -d postgres; do`, shq(p.bins.pgIsready))
	w(`		kill -0 "$pid" 2>/dev/null || { echo "berth: postgres: the temporary server exited" >&2; exit 1; }`)
	w("		sleep 0.1")
	w("	done")
	w("	# The setup scripts' own psql finds the temporary server through these.")
	w(`	export PGHOST="$sock" PGPORT="$port" PGUSER="$user" PGDATABASE="$db" PGPASSWORD="${POSTGRES_PASSWORD:-}"`)
	w(`	sql() { %s -v ON_ERROR_STOP=1 --no-password --no-psqlrc "$@"; }`, shq(p.bins.psql))
	w(`	if [ "$db" != postgres ]; then`)
	w(`		echo 'CREATE DATABASE :"db";' | sql --dbname postgres --set db="$db"`)
	w("	fi")
	if len(p.init) > 0 {
		var srcs []string
		for _, src := range p.init {
			if src.dir {
				srcs = append(srcs, shq(src.path)+"/*")
			} else {
				srcs = append(srcs, shq(src.path))
			}
		}
		w("	for f in %s; do", strings.Join(srcs, " "))
		w(`		[ -f "$f" ] || continue`)
		w(`		case "$f" in`)
		w(`		*.sh)     echo "berth: postgres: running $f"; if [ -x "$f" ]; then $as "$f"; else $as %s "$f"; fi ;;`, shq(p.bins.shell))
		w(`		*.sql)    echo "berth: postgres: running $f"; sql --dbname "$db" -f "$f" ;;`)
		w(`		*.sql.gz) echo "berth: postgres: running $f"; gunzip -c "$f" | sql --dbname "$db" ;;`)
		w(`		*.sql.xz) echo "berth: postgres: running $f"; xz -dc "$f" | sql --dbname "$db" ;;`)
		w(`		*)        echo "berth: postgres: ignoring $f" ;;`)
		w("		esac")
		w("	done")
	}
	w("	unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD")
	w(`	kill -INT "$pid"`)
	w(`	wait "$pid"`)
	w("	echo 'berth: postgres: init process complete; ready for start up.'")
	w("fi")
	w(`exec $as %s -D "$PGDATA" -k "$sock" -p "$port" -c listen_addresses=127.0.0.1 "$@"`, shq(p.bins.postgres))
	return b.String()
}

// redisScript is the /bin/sh script of the redis recipe. The file's server
// arguments follow it as "$@", after berth's, so that they win.
type redisScript struct {
	image string
	bins  redisBins
	// data is a shell word for the data folder.
	data string
	port int
	// conf is the configuration file the file names first, if any.
	conf string
}

func (r redisScript) script() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# berth recipe %q for image %s (docs/recipes.md). The file's server", "redis", r.image)
	w("# arguments follow as \"$@\" and win over berth's.")
	w("set -eu")
	w("data=%s", r.data)
	w(`mkdir -p "$data"`)
	conf := ""
	if r.conf != "" {
		conf = " " + shq(r.conf)
	}
	w(`exec %s%s --port %d --bind 127.0.0.1 --dir "$data" "$@"`, shq(r.bins.server), conf, r.port)
	return b.String()
}
