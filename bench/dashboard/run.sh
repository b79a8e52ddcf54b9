#!/bin/sh
# The dashboard benchmark: see bench/dashboard/README.md.
#
#   bench/dashboard/run.sh [flags of `go run ./bench/dashboard -h`]
#
# It installs chromium (apt-get) when it is missing, prints the report
# (Markdown) and saves a copy under bench/out/.
set -eu
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && ! command -v google-chrome >/dev/null 2>&1; then
	echo "bench: installing chromium: apt-get update && apt-get install -y chromium" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi

mkdir -p bench/out
export GOTOOLCHAIN=local
go build -o bench/out/dashboard-bench ./bench/dashboard
exec bench/out/dashboard-bench -out "bench/out/dashboard-$(date -u +%Y%m%dT%H%M%SZ).md" "$@"
