#!/bin/sh
# Reload latency (issue 3): from saving a source file to the service answering
# with the new code, and the requests that fail meanwhile, for berth
# (`up -d --watch`, proxied port and direct port), air, and the physical limit
# (the bench kills and starts the same command itself), on a Python
# http.server app and a Go net/http app (build included). See
# bench/reload/README.md.
#
#   bench/reload/run.sh              # 30 edits per app and system: about 6 minutes on 2 cores
#   EDITS=10 bench/reload/run.sh     # a quick look
#
# Settings (environment): EDITS (30), WARMUP (1), POLL (2ms),
# SETTLE (300ms), APPS (py,go), SYSTEMS (limit,berth-proxied,berth-direct,air),
# PYTHON (default: the interpreter python3 resolves to, sys.executable),
# BERTH (a berth binary to use instead of building ./cmd/berth), KEEP=1 (keep
# the temporary folder: compose files, berth state, logs, air's output).
#
# The report (Markdown) goes to stdout and to bench/out/reload-<UTC time>.md;
# progress goes to stderr.
set -eu
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local

if ! command -v python3 >/dev/null 2>&1; then
	echo "bench/reload: installing python3: apt-get update && apt-get install -y python3" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >&2
fi

# Every process the bench starts carries RELOAD_BENCH_CHILD=$tag in its
# environment (berth and air pass it on to what they start). The bench kills
# them itself; this trap is for when the bench dies.
tag="reload-$$-$(date +%s%N)"
export RELOAD_BENCH_TAG="$tag"
tmp=$(mktemp -d)
cleanup() {
	for env in /proc/[0-9]*/environ; do
		pid=${env#/proc/}
		pid=${pid%/environ}
		if { tr '\0' '\n' <"$env" | grep -qx "RELOAD_BENCH_CHILD=$tag"; } 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${BERTH:-}" ]; then
	berth=$BERTH
	rev="prebuilt binary $BERTH${BERTH_REV:+ ($BERTH_REV)}"
else
	echo "bench/reload: go build ./cmd/berth" >&2
	go build -o "$tmp/berth" ./cmd/berth
	berth=$tmp/berth
	rev="built from the working tree, $(git describe --always --dirty 2>/dev/null || echo '?')"
fi
echo "bench/reload: go install github.com/air-verse/air@v1.67.4" >&2
GOBIN=$tmp/gobin go install github.com/air-verse/air@v1.67.4
go build -o "$tmp/reloadbench" ./bench/reload/reloadbench

# The Python app runs with the interpreter itself, not a wrapper found first
# on PATH (a pyenv shim is a bash script that costs ~100-200 ms per start).
python=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}

mkdir -p bench/out
RELOAD_BENCH_BERTH_REV="$rev" "$tmp/reloadbench" \
	-berth "$berth" -air "$tmp/gobin/air" -python "$python" -appsdir bench/reload/apps \
	-edits "${EDITS:-30}" -warmup "${WARMUP:-1}" \
	-poll "${POLL:-2ms}" -settle "${SETTLE:-300ms}" \
	-apps "${APPS:-py,go}" -systems "${SYSTEMS:-limit,berth-proxied,berth-direct,air}" \
	${KEEP:+-keep} \
	-out "bench/out/reload-$(date -u +%Y%m%dT%H%M%SZ).md"
