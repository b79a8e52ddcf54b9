package project

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRewriteValue(t *testing.T) {
	hosts := map[string]nativeHost{
		"db":       {ports: map[int]int{5432: 5432}, main: 5432},
		"pg":       {ports: map[int]int{5432: 15432, 15432: 15432}, main: 15432},
		"postgres": {ports: map[int]int{5432: 5432}, main: 5432},
		"redis":    {ports: map[int]int{6379: 6379}, main: 6379},
		"web":      {ports: map[int]int{8000: 8080}, main: 8080},
		"api":      {ports: map[int]int{}},
	}
	tests := []struct {
		name, key, value, want string
		// wantFrom are the rewritten references, in order.
		wantFrom []string
	}{
		{"URL with user and port", "DATABASE_URL", "postgres://app:pw@db:5432/app", "postgres://app:pw@127.0.0.1:5432/app", []string{"db:5432"}},
		{"recipe port differs from the image's", "DATABASE_URL", "postgres://app:pw@pg:5432/app", "postgres://app:pw@127.0.0.1:15432/app", []string{"pg:5432"}},
		{"URL without user", "REDIS_URL", "redis://redis:6379/0", "redis://127.0.0.1:6379/0", []string{"redis:6379"}},
		{"URL host without port: the scheme's port", "REDIS_URL", "redis://redis/0", "redis://127.0.0.1:6379/0", []string{"redis"}},
		{"URL host at the end", "REDIS_URL", "redis://redis", "redis://127.0.0.1:6379", []string{"redis"}},
		{"URL host before a query", "URL", "redis://redis?db=1", "redis://127.0.0.1:6379?db=1", []string{"redis"}},
		{"user@host without port", "DATABASE_URL", "postgres://u:p@pg/app", "postgres://u:p@127.0.0.1:15432/app", []string{"pg"}},
		{"scheme with a driver", "DATABASE_URL", "postgresql+psycopg://u@db/app", "postgresql+psycopg://u@127.0.0.1:5432/app", []string{"db"}},
		{"published port differs: the proxy's", "API", "http://web:8000/health", "http://127.0.0.1:8080/health", []string{"web:8000"}},
		{"unknown scheme, no port known", "X", "tcp://api/", "tcp://127.0.0.1/", []string{"api"}},
		{"unknown scheme: the service's port", "X", "foo://web", "foo://127.0.0.1:8080", []string{"web"}},
		{"bare host:port", "BROKER", "redis:6379", "127.0.0.1:6379", []string{"redis:6379"}},
		{"a list", "HOSTS", "redis:6379,db:5432", "127.0.0.1:6379,127.0.0.1:5432", []string{"redis:6379", "db:5432"}},
		{"host:port then a path", "X", "db:5432/app", "127.0.0.1:5432/app", []string{"db:5432"}},
		{"a service named like the scheme", "DATABASE_URL", "postgres://postgres:pw@postgres:5432/postgres", "postgres://postgres:pw@127.0.0.1:5432/postgres", []string{"postgres:5432"}},
		{"JDBC", "JDBC", "jdbc:postgresql://db:5432/app", "jdbc:postgresql://127.0.0.1:5432/app", []string{"db:5432"}},
		{"two URLs", "X", "http://web:8000 http://api:9000", "http://127.0.0.1:8080 http://127.0.0.1:9000", []string{"web:8000", "api:9000"}},
		{"port not published: itself", "X", "api:9000", "127.0.0.1:9000", []string{"api:9000"}},
		{"a *HOST variable that is a service name", "DB_HOST", "db", "127.0.0.1", []string{"db"}},
		{"PGHOST", "PGHOST", "pg", "127.0.0.1", []string{"pg"}},

		// Left alone.
		{"inside a word", "X", "mydb:5432", "mydb:5432", nil},
		{"a suffix of a word", "X", "db2:5432", "db2:5432", nil},
		{"with a dash", "X", "my-db:5432", "my-db:5432", nil},
		{"a domain", "X", "db.example.com:5432", "db.example.com:5432", nil},
		{"a subdomain", "X", "postgres://u@x.db:5432/app", "postgres://u@x.db:5432/app", nil},
		{"another host", "X", "postgres://app:pw@other:5432/app", "postgres://app:pw@other:5432/app", nil},
		{"a user named like a service", "X", "postgres://db@other/app", "postgres://db@other/app", nil},
		{"a password named like a service", "X", "postgres://app:db@other:5432/app", "postgres://app:db@other:5432/app", nil},
		{"a password that looks like a port", "X", "postgres://app:db:5432@other/app", "postgres://app:db:5432@other/app", nil},
		{"an e-mail address", "X", "admin@db", "admin@db", nil},
		{"a plain word", "ROLE", "db", "db", nil},
		{"a plain word in a sentence", "X", "the db is ready", "the db is ready", nil},
		{"not a port", "X", "db:abc", "db:abc", nil},
		{"no port", "X", "db:", "db:", nil},
		{"port then letters", "X", "db:5432abc", "db:5432abc", nil},
		{"too many digits", "X", "db:123456", "db:123456", nil},
		{"other case", "X", "DB:5432", "DB:5432", nil},
		{"a path", "X", "/var/lib/db/data", "/var/lib/db/data", nil},
		{"a path segment after //", "X", "http://other//db/x", "http://other//db/x", nil},
		{"protocol-relative", "X", "//db/x", "//127.0.0.1:5432/x", []string{"db"}},
		{"empty", "X", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, done := rewriteValue(tt.key, tt.value, hosts)
			if got != tt.want {
				t.Errorf("rewriteValue(%q, %q) = %q, want %q", tt.key, tt.value, got, tt.want)
			}
			var from []string
			for _, r := range done {
				from = append(from, r.from)
			}
			if !slices.Equal(from, tt.wantFrom) {
				t.Errorf("rewrote %q, want %q", from, tt.wantFrom)
			}
		})
	}
}

func TestNativeHosts(t *testing.T) {
	p := &Project{Services: []Service{
		{Name: "db", Image: "postgres:16", Recipe: "postgres", RecipePort: 15432, Ports: []Port{{Published: 5433, Target: 5432, Protocol: "tcp"}}},
		{Name: "cache", Image: "redis", Recipe: "redis", RecipePort: 6379},
		{Name: "web", Ports: []Port{{Published: 8080, Target: 8000, Protocol: "tcp"}, {Published: 9000, Target: 9000, Protocol: "tcp"}, {Published: 53, Target: 53, Protocol: "udp"}}},
		{Name: "dyn", Ports: []Port{{Target: 3000, Protocol: "tcp"}}},
		{Name: "plain"},
	}}
	got := nativeHosts(p, nil)
	want := map[string]nativeHost{
		// The recipe's server stands for the image's port, directly.
		"db":    {ports: map[int]int{5432: 15432, 15432: 15432}, main: 15432},
		"cache": {ports: map[int]int{6379: 6379}, main: 6379},
		"web":   {ports: map[int]int{8000: 8080, 9000: 9000}, main: 8080},
		"dyn":   {ports: map[int]int{3000: 3000}, main: 3000},
		"plain": {ports: map[int]int{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("nativeHosts =\n%+v\nwant\n%+v", got, want)
	}
}

const hostsCompose = `name: hosts
services:
  db:
    image: app
    command: [db]
    ports: ["5433:5432"]
  cache:
    image: app
    command: [cache]
    container_name: the-cache
    expose: ["6379"]
  web:
    image: app
    command: [web]
    environment:
      DATABASE_URL: postgres://app:pw@db:5432/app
      CACHE: the-cache:6379
      OTHER: mydb:5432
    x-berth:
      environment:
        REDIS_URL: redis://cache/0
  worker:
    image: app
    command: [worker]
    environment:
      - DATABASE_URL=postgres://app:pw@db:5432/app
`

func TestLoad_RewriteHosts(t *testing.T) {
	p, _ := mustLoad(t, hostsCompose)
	web, worker := mustService(t, p, "web"), mustService(t, p, "worker")
	for _, kv := range []string{
		"DATABASE_URL=postgres://app:pw@127.0.0.1:5433/app",
		"CACHE=127.0.0.1:6379",
		"OTHER=mydb:5432",
		"REDIS_URL=redis://127.0.0.1:6379/0",
	} {
		if !slices.Contains(web.Environment, kv) {
			t.Errorf("web environment = %q, want %q in it", web.Environment, kv)
		}
	}
	if !slices.Contains(worker.Environment, "DATABASE_URL=postgres://app:pw@127.0.0.1:5433/app") {
		t.Errorf("worker environment = %q, want DATABASE_URL rewritten", worker.Environment)
	}

	// One warning per distinct rewrite, at its first place.
	got := map[string]string{}
	lines := map[string]int{}
	for _, w := range p.Warnings {
		if strings.HasPrefix(w.Message, "rewrote ") {
			got[w.Key] = w.Message
			lines[w.Key] = w.Line
		}
	}
	const tail = "(service names do not resolve natively"
	want := map[string]string{
		"services.web.environment.DATABASE_URL":      "rewrote db:5432 → 127.0.0.1:5433 " + tail + "; also in worker DATABASE_URL; x-berth: {rewrite_hosts: false} keeps it)",
		"services.web.environment.CACHE":             "rewrote the-cache:6379 → 127.0.0.1:6379 " + tail + "; x-berth: {rewrite_hosts: false} keeps it)",
		"services.web.x-berth.environment.REDIS_URL": "rewrote cache → 127.0.0.1:6379 " + tail + "; x-berth: {rewrite_hosts: false} keeps it)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rewrite warnings =\n%q\nwant\n%q", got, want)
	}
	if want := map[string]int{
		"services.web.environment.DATABASE_URL":      16,
		"services.web.environment.CACHE":             17,
		"services.web.x-berth.environment.REDIS_URL": 21,
	}; !reflect.DeepEqual(lines, want) {
		t.Errorf("warning lines = %v, want %v", lines, want)
	}

	// compose-go's model, which `berth config` prints, keeps what the file says.
	if v := p.compose.Services["web"].Environment["DATABASE_URL"]; v == nil || *v != "postgres://app:pw@db:5432/app" {
		t.Errorf("compose model DATABASE_URL = %v, want it unchanged", v)
	}
}

func TestLoad_RewriteHostsOptOut(t *testing.T) {
	const services = `services:
  db:
    image: app
    command: [db]
  web:
    image: app
    command: [web]
    environment:
      URL: postgres://db:5432/app
WEBX
  worker:
    image: app
    command: [worker]
    environment:
      URL: postgres://db:5432/app
`
	tests := []struct {
		name, top, webx     string
		wantWeb, wantWorker bool
	}{
		{"on by default", "", "", true, true},
		{"off for a service", "", "    x-berth:\n      rewrite_hosts: false\n", false, true},
		{"off for the project", "x-berth:\n  rewrite_hosts: false\n", "", false, false},
		{"a service turns it back on", "x-berth:\n  rewrite_hosts: false\n", "    x-berth:\n      rewrite_hosts: true\n      command: [web2]\n", true, false},
		{"a top-level x-berth of anchors is fine", "x-berth:\n  common: &c {a: b}\n", "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := mustLoad(t, tt.top+strings.Replace(services, "WEBX\n", tt.webx, 1))
			for _, c := range []struct {
				service string
				want    bool
			}{{"web", tt.wantWeb}, {"worker", tt.wantWorker}} {
				s := mustService(t, p, c.service)
				rewritten := slices.Contains(s.Environment, "URL=postgres://127.0.0.1:5432/app")
				if rewritten != c.want {
					t.Errorf("%s rewritten = %v, want %v (%q)", c.service, rewritten, c.want, s.Environment)
				}
			}
			if strings.Contains(tt.webx, "web2") {
				if web := mustService(t, p, "web"); !slices.Equal(web.Argv, []string{"web2"}) {
					t.Errorf("web argv = %q: rewrite_hosts must not hide the rest of x-berth", web.Argv)
				}
			}
		})
	}
}

func TestLoad_RewriteHostsErrors(t *testing.T) {
	tests := []struct{ name, compose, want string }{
		{"service", "services:\n  web:\n    image: app\n    command: [web]\n    x-berth:\n      rewrite_hosts: \"no\"\n",
			`compose.yaml:6: services.web.x-berth.rewrite_hosts: must be true or false, got a string`},
		{"project", "x-berth:\n  rewrite_hosts: 0\nservices:\n  web:\n    image: app\n    command: [web]\n",
			`compose.yaml:2: x-berth.rewrite_hosts: must be true or false, got a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, map[string]string{"compose.yaml": tt.compose})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoad_RewriteHostsHash(t *testing.T) {
	const compose = "services:\n  db:\n    image: app\n    command: [db]\n    ports: [\"${P}:5432\"]\n  web:\n    image: app\n    command: [web]\n    environment:\n      URL: postgres://db:5432/app\n"
	a, _ := mustLoad(t, compose, "P=5433")
	b, _ := mustLoad(t, compose, "P=5434")
	if mustService(t, a, "web").Hash == mustService(t, b, "web").Hash {
		t.Error("web's hash did not change when the address it was rewritten to did")
	}
}
