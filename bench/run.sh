#!/bin/sh
# berth's whole-process benchmark (issue 2): berth side by side with
# supervisord and with the physical limit. See bench/README.md.
#
#   bench/run.sh            # 3 runs, a few minutes
#   RUNS=10 bench/run.sh    # 10 runs
#
# It installs supervisor (apt-get) when supervisord is missing, prints the
# report (Markdown) and saves a copy under bench/out/.
set -eu
cd "$(dirname "$0")/.."

if ! command -v supervisord >/dev/null 2>&1; then
	echo "bench: installing supervisor: apt-get update && apt-get install -y supervisor" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq supervisor >&2
fi

# Every process the bench starts carries BERTH_BENCH_CHILD=$tag in its
# environment. The bench kills them itself; this trap is for when the bench
# itself dies (SIGKILL, a crash).
tag="bench-$$-$(date +%s%N)"
export BERTH_BENCH_TAG="$tag"
cleanup() {
	for env in /proc/[0-9]*/environ; do
		pid=${env#/proc/}
		pid=${pid%/environ}
		if { tr '\0' '\n' <"$env" | grep -qx "BERTH_BENCH_CHILD=$tag"; } 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p bench/out
go run ./bench/cmd/bench -out "bench/out/results-$(date -u +%Y%m%dT%H%M%SZ).md"
