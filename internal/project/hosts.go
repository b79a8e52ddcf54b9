package project

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Service names as hosts. Under Docker, "db" resolves to the db container;
// natively every service shares the host's network and "db" resolves to
// nothing. berth rewrites references to the project's services in
// environment values to 127.0.0.1 and the port the service listens on
// natively, and says so once per rewrite. docs/hosts.md is the user-facing
// description; keep the two in step.

// rewriteHostsKey turns the rewriting off (false) in x-berth, for one
// service or, at the top level, for the whole project.
const rewriteHostsKey = "rewrite_hosts"

// nativeHost is where a service is reached natively.
type nativeHost struct {
	// ports maps a container port to the port to use natively.
	ports map[int]int
	// main is the port for a reference without one whose scheme has no
	// known default port (0: leave the port out).
	main int
}

// port returns the native port for container port p.
func (h nativeHost) port(p int) int {
	if n, ok := h.ports[p]; ok {
		return n
	}
	return p
}

// nativeHosts maps every name a service answers to under Docker (its
// service name, container_name and network aliases) to where it is
// reached natively.
func nativeHosts(p *Project, cp *types.Project) map[string]nativeHost {
	hosts := map[string]nativeHost{}
	for _, s := range p.Services {
		h := nativeHost{ports: map[int]int{}}
		if r, ok := imageRecipe(s.Image); ok && s.Recipe == r.name && s.RecipePort > 0 {
			// The recipe's server stands for the image's: its default port
			// and the recipe port both lead to it, directly.
			h.ports[r.port], h.ports[s.RecipePort] = s.RecipePort, s.RecipePort
			h.main = s.RecipePort
		}
		for _, pt := range s.Ports {
			if pt.Protocol != "" && pt.Protocol != "tcp" || pt.Target == 0 {
				continue
			}
			native := pt.Target
			if pt.Published != 0 && pt.Published != pt.Target {
				// berth's proxy owns the published port and forwards it.
				native = pt.Published
			}
			if _, ok := h.ports[pt.Target]; !ok {
				h.ports[pt.Target] = native
			}
			if h.main == 0 {
				h.main = native
			}
		}
		hosts[s.Name] = h
		if cp == nil {
			continue
		}
		sc, ok := cp.Services[s.Name]
		if !ok {
			continue
		}
		var aliases []string
		if sc.ContainerName != "" {
			aliases = append(aliases, sc.ContainerName)
		}
		for _, n := range sc.Networks {
			if n != nil {
				aliases = append(aliases, n.Aliases...)
			}
		}
		for _, a := range aliases {
			// A service's own name wins over another service's alias.
			if _, taken := hosts[a]; !taken && !p.hasService(a) {
				hosts[a] = h
			}
		}
	}
	return hosts
}

// schemePorts are the default ports of URL schemes, for a reference
// without a port ("postgres://db/app" means db:5432).
var schemePorts = map[string]int{
	"postgres": 5432, "postgresql": 5432, "psql": 5432, "pgsql": 5432, "postgis": 5432,
	"redis": 6379, "rediss": 6379,
	"mysql": 3306, "mariadb": 3306, "mysql2": 3306,
	"mongodb": 27017,
	"amqp":    5672, "amqps": 5671,
	"nats":      4222,
	"memcached": 11211, "memcache": 11211,
	"http": 80, "https": 443, "ws": 80, "wss": 443,
}

// hostRewrite is one rewrite done in a value.
type hostRewrite struct{ from, to string }

// isHostChar reports whether c can be part of a host name.
func isHostChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// rewriteValue rewrites, in one environment value, the references to hosts
// that a container would resolve:
//
//	name:PORT    as a whole token (not inside a word: "mydb:5432" is not "db")
//	://name, user@name at a URL's host position, followed by the end, '/', '?' or '#'
//
// to 127.0.0.1 and the native port. key is the variable's name: a value that
// is exactly a service name, in a variable whose name ends in HOST
// (DB_HOST=db, PGHOST=db), becomes 127.0.0.1.
func rewriteValue(key, v string, hosts map[string]nativeHost) (string, []hostRewrite) {
	if _, ok := hosts[v]; ok && strings.HasSuffix(strings.ToUpper(key), "HOST") {
		return "127.0.0.1", []hostRewrite{{v, "127.0.0.1"}}
	}
	var b strings.Builder
	var done []hostRewrite
	i := 0
	for i < len(v) {
		// A candidate host starts at a host character after a non-host one.
		if !isHostChar(v[i]) || i > 0 && (isHostChar(v[i-1]) || v[i-1] == ':') {
			b.WriteByte(v[i])
			i++
			continue
		}
		j := i
		for j < len(v) && isHostChar(v[j]) {
			j++
		}
		name := v[i:j]
		h, known := hosts[name]
		if !known {
			b.WriteString(name)
			i = j
			continue
		}
		// name:PORT
		if j < len(v) && v[j] == ':' {
			k := j + 1
			for k < len(v) && isDigit(v[k]) {
				k++
			}
			if k > j+1 && k-j-1 <= 5 && (k == len(v) || !isHostChar(v[k])) {
				p, _ := strconv.Atoi(v[j+1 : k])
				to := "127.0.0.1:" + strconv.Itoa(h.port(p))
				b.WriteString(to)
				done = append(done, hostRewrite{v[i:k], to})
				i = k
				continue
			}
		}
		// //name or user@name at a URL's host position, without a port.
		if (j == len(v) || strings.IndexByte("/?#", v[j]) >= 0) && urlHostAt(v, i) {
			to := "127.0.0.1"
			port := 0
			if def, ok := schemePorts[urlScheme(v, i)]; ok {
				port = h.port(def)
			} else {
				port = h.main
			}
			if port > 0 {
				to += ":" + strconv.Itoa(port)
			}
			b.WriteString(to)
			done = append(done, hostRewrite{name, to})
			i = j
			continue
		}
		b.WriteString(name)
		i = j
	}
	return b.String(), done
}

// urlHostAt reports whether the host name at v[i:] is at a URL's host
// position: right after "://" (or "//" starting the value), or after "@" in
// a token that has "://" before it.
func urlHostAt(v string, i int) bool {
	if i == 2 && v[:2] == "//" || i >= 3 && v[i-3:i] == "://" {
		return true
	}
	if i >= 1 && v[i-1] == '@' {
		start := strings.LastIndexAny(v[:i], " \t,;\"'") + 1
		return strings.Contains(v[start:i], "://")
	}
	return false
}

// urlScheme returns the known scheme of the URL whose host starts at v[i:]
// ("postgresql+psycopg://" → "postgresql"), or "".
func urlScheme(v string, i int) string {
	sep := strings.LastIndex(v[:i], "://")
	if sep < 0 {
		return ""
	}
	start := sep
	for start > 0 && (isHostChar(v[start-1]) || v[start-1] == '+') {
		start--
	}
	for _, part := range strings.Split(strings.ToLower(v[start:sep]), "+") {
		if _, ok := schemePorts[part]; ok {
			return part
		}
	}
	return ""
}

// rewriteHosts rewrites service names in every service's environment (see
// rewriteValue) unless x-berth's rewrite_hosts is false for the service or
// the project, and adds one warning per distinct rewrite, at its first place.
func rewriteHosts(p *Project, cp *types.Project, src *sourceSet) error {
	project, err := rewriteHostsSetting(cp.Extensions[extensionName], src, extensionName)
	if err != nil {
		return err
	}
	hosts := nativeHosts(p, cp)
	type place struct{ service, key string }
	places := map[hostRewrite][]place{}
	var order []hostRewrite
	for i := range p.Services {
		s := &p.Services[i]
		enabled := project
		if sc, ok := cp.Services[s.Name]; ok {
			set, err := rewriteHostsSetting(sc.Extensions[extensionName], src, "services", s.Name, extensionName)
			if err != nil {
				return err
			}
			if set != nil {
				enabled = set
			}
		}
		if enabled != nil && !*enabled {
			continue
		}
		changed := false
		for j, kv := range s.Environment {
			k, v, _ := strings.Cut(kv, "=")
			nv, done := rewriteValue(k, v, hosts)
			if len(done) == 0 {
				continue
			}
			s.Environment[j], changed = k+"="+nv, true
			for _, r := range done {
				if _, seen := places[r]; !seen {
					order = append(order, r)
				}
				places[r] = append(places[r], place{s.Name, k})
			}
		}
		if changed {
			h, err := serviceHash(*s)
			if err != nil {
				return fmt.Errorf("hash service %q: %w", s.Name, err)
			}
			s.Hash = h
		}
	}
	for _, r := range order {
		ps := places[r]
		first := ps[0]
		keys := []string{"services", first.service, "environment", first.key}
		if sc, ok := cp.Services[first.service]; ok && xberthEnvHas(sc, first.key) {
			keys = []string{"services", first.service, extensionName, "environment", first.key}
		}
		msg := fmt.Sprintf("rewrote %s → %s (service names do not resolve natively", r.from, r.to)
		if len(ps) > 1 {
			var also []string
			for _, pl := range ps[1:] {
				also = append(also, pl.service+" "+pl.key)
			}
			msg += "; also in " + strings.Join(also, ", ")
		}
		msg += "; x-berth: {rewrite_hosts: false} keeps it)"
		p.Warnings = append(p.Warnings, src.warning(msg, keys...))
	}
	return nil
}

// rewriteHostsSetting reads rewrite_hosts from an x-berth value found at
// keys: nil when it is not set. A top-level x-berth that is not a mapping
// (anchors kept there) has none.
func rewriteHostsSetting(raw any, src *sourceSet, keys ...string) (*bool, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, nil
	}
	v, ok := m[rewriteHostsKey]
	if !ok {
		return nil, nil
	}
	b, ok := v.(bool)
	if !ok {
		return nil, src.errorAt(fmt.Sprintf("must be true or false, got %s", typeName(v)), append(keys, rewriteHostsKey)...)
	}
	return &b, nil
}

// withoutRewriteHosts returns a service's raw x-berth value without
// rewrite_hosts, which rewriteHosts reads itself. The value compose-go keeps
// is never modified: `berth config` prints it as written.
func withoutRewriteHosts(raw any) any {
	m, ok := raw.(map[string]any)
	if !ok {
		return raw
	}
	if _, ok := m[rewriteHostsKey]; !ok {
		return raw
	}
	out := make(map[string]any, len(m)-1)
	for k, v := range m {
		if k != rewriteHostsKey {
			out[k] = v
		}
	}
	return out
}

// xberthEnvHas reports whether the service's x-berth.environment sets key.
func xberthEnvHas(sc types.ServiceConfig, key string) bool {
	m, ok := sc.Extensions[extensionName].(map[string]any)
	if !ok {
		return false
	}
	env, err := environment(m["environment"])
	if err != nil {
		return false
	}
	_, ok = env[key]
	return ok
}

func (p *Project) hasService(name string) bool {
	_, ok := p.Service(name)
	return ok
}
