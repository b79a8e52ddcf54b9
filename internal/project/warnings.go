package project

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/compose-spec/compose-go/v2/types"
)

// unsupportedServiceKeys are the service keys berth cannot honour natively
// and says so (once, with file:line). Keys missing here are either honoured
// or ignored silently because ignoring them changes nothing a developer
// relies on (labels, container_name, image, pull_policy, logging, ...).
// docs/compose-compat.md lists every key; keep the two in step.
var unsupportedServiceKeys = map[string]string{
	// Identity and privileges: the process runs as the user running berth.
	"user":                "the service runs as the user running berth",
	"userns_mode":         "user namespaces need a container; the service runs as the user running berth",
	"group_add":           "the service runs with the groups of the user running berth",
	"privileged":          "the service runs with the privileges of the user running berth",
	"cap_add":             "capabilities need a container; the service has those of the user running berth",
	"cap_drop":            "capabilities need a container; the service has those of the user running berth",
	"security_opt":        "security options need a container",
	"credential_spec":     "credential specs need a Windows container",
	"devices":             "device mappings need a container; the service sees the host's devices",
	"device_cgroup_rules": "cgroup rules need a container",
	"gpus":                "GPU reservations need a container; the service sees the host's GPUs",
	"sysctls":             "kernel parameters need a container",
	"ulimits":             "limits are inherited from berth; set them in your shell",
	"umask":               "the service inherits berth's umask",
	"cgroup":              "cgroup namespaces need a container",
	"cgroup_parent":       "cgroups need a container",
	"pid":                 "PID namespaces need a container",
	"ipc":                 "IPC namespaces need a container",
	"uts":                 "UTS namespaces need a container",
	"isolation":           "isolation technologies need a container",
	"runtime":             "container runtimes do not apply natively",
	"init":                "berth supervises the process itself (it reaps children); no init is added",
	"oom_kill_disable":    "OOM settings need a container",
	"oom_score_adj":       "OOM settings need a container",
	"read_only":           "a read-only root filesystem needs a container",
	"shm_size":            "the service uses the host's /dev/shm",
	"storage_opt":         "storage options need a container",
	"mac_address":         "the service uses the host's network",
	"use_api_socket":      "no Docker API socket is mounted natively",
	// Resources: not enforced.
	"cpus":            "CPU limits are not enforced natively",
	"cpu_count":       "CPU limits are not enforced natively",
	"cpu_percent":     "CPU limits are not enforced natively",
	"cpu_period":      "CPU limits are not enforced natively",
	"cpu_quota":       "CPU limits are not enforced natively",
	"cpu_rt_period":   "CPU limits are not enforced natively",
	"cpu_rt_runtime":  "CPU limits are not enforced natively",
	"cpu_shares":      "CPU limits are not enforced natively",
	"cpuset":          "CPU pinning is not enforced natively",
	"mem_limit":       "memory limits are not enforced natively",
	"mem_reservation": "memory limits are not enforced natively",
	"memswap_limit":   "memory limits are not enforced natively",
	"mem_swappiness":  "memory limits are not enforced natively",
	"pids_limit":      "PID limits are not enforced natively",
	"blkio_config":    "I/O limits are not enforced natively",
	// Network: every service shares the host's network.
	"network_mode":   "services share the host's network; reach other services on localhost",
	"networks":       "services share the host's network; reach other services on localhost, not by service name",
	"links":          "services share the host's network; reach other services on localhost, not by alias",
	"external_links": "services share the host's network; reach other services on localhost",
	"extra_hosts":    "host entries need a container; the service uses the host's /etc/hosts",
	"dns":            "the service uses the host's resolver",
	"dns_opt":        "the service uses the host's resolver",
	"dns_search":     "the service uses the host's resolver",
	"hostname":       "the service sees the host's name",
	"domainname":     "the service sees the host's domain name",
	// Files that a container would see.
	"tmpfs":        "tmpfs mounts need a container; the service writes to the host's folders",
	"volumes_from": "the service already sees the host's files",
	"secrets":      "secrets are not mounted under /run/secrets natively; read the source file directly",
	"configs":      "configs are not mounted natively; read the source file directly",
	// Features berth does not run (yet).
	"provider":   "provider services are not run natively",
	"models":     "models are not run natively",
	"pre_start":  "lifecycle hooks are not run natively",
	"post_start": "lifecycle hooks are not run natively",
	"pre_stop":   "lifecycle hooks are not run natively",
}

// unsupportedDeployKeys are deploy: keys berth says it ignores.
var unsupportedDeployKeys = map[string]string{
	"resources": "resource limits are not enforced natively",
}

// serviceWarnings reports the keys of sc that berth cannot honour.
func serviceWarnings(sc types.ServiceConfig, src *sourceSet) []Warning {
	set := setKeys(sc)
	var keys []string
	for k := range set {
		if _, ok := unsupportedServiceKeys[k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Warning
	for _, k := range keys {
		if k == "networks" && onlyDefaultNetwork(sc.Networks) {
			continue
		}
		out = append(out, src.warning(unsupportedServiceKeys[k], "services", sc.Name, k))
	}
	if sc.Deploy != nil {
		d := setKeys(sc.Deploy)
		for _, k := range sortedKeys(unsupportedDeployKeys) {
			if v, ok := d[k]; ok && !isEmptyJSON(v) {
				out = append(out, src.warning(unsupportedDeployKeys[k], "services", sc.Name, "deploy", k))
			}
		}
	}
	return out
}

// projectWarnings reports top-level sections berth does not run.
func projectWarnings(cp *types.Project, src *sourceSet) []Warning {
	var out []Warning
	for _, name := range sortedKeys(cp.Jobs) {
		out = append(out, src.warning("jobs are not run natively; use `berth run` with a service", "jobs", name))
	}
	known := map[string]bool{}
	for _, sc := range cp.AllServices() {
		for _, pr := range sc.Profiles {
			known[pr] = true
		}
	}
	for _, pr := range cp.Profiles {
		if pr != "" && pr != "*" && !known[pr] {
			out = append(out, Warning{Key: "profiles",
				Message: fmt.Sprintf("profile %q is not used by any service (check --profile and COMPOSE_PROFILES)", pr)})
		}
	}
	for _, name := range sortedKeys(cp.Models) {
		out = append(out, src.warning("models are not run natively", "models", name))
	}
	return out
}

func onlyDefaultNetwork(n map[string]*types.ServiceNetworkConfig) bool {
	for k, v := range n {
		if k != "default" {
			return false
		}
		if v != nil && (len(v.Aliases) > 0 || v.Ipv4Address != "" || v.Ipv6Address != "") {
			return false
		}
	}
	return true
}

// setKeys returns the keys v sets, as compose-go marshals them (zero values
// are omitted there).
func setKeys(v any) map[string]json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil
	}
	for k, raw := range m {
		if isEmptyJSON(raw) {
			delete(m, k)
		}
	}
	return m
}

func isEmptyJSON(raw json.RawMessage) bool {
	switch string(raw) {
	case "null", "{}", "[]", `""`, "0", "false":
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
