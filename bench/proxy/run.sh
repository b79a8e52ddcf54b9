#!/bin/sh
# berth's proxy benchmark: wrk against the same Go backend directly, through
# berth's proxy (internal/proxy), through nginx and through Go's
# httputil.ReverseProxy. See bench/proxy/README.md.
#
#   bench/proxy/run.sh                          # 5 s runs, 3 rounds: about 7 minutes
#   DURATION=2s ROUNDS=1 bench/proxy/run.sh     # a quick look
#
# It installs wrk and nginx (apt-get, as root) when they are missing, prints
# the report (Markdown) and adds it at the top of bench/proxy/RESULTS.md.
set -eu
cd "$(dirname "$0")/../.."

need=""
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx"
if [ -n "$need" ]; then
	echo "bench/proxy: installing$need: apt-get update && apt-get install -y$need" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >&2
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOTOOLCHAIN=local go build -o "$tmp/proxybench" ./bench/proxy/proxybench
"$tmp/proxybench" run -d "${DURATION:-5s}" -rounds "${ROUNDS:-3}" -nginx "$nginx" -targets "${TARGETS:-direct,berth,inspected,parse-only,watched,nginx,httputil}" -out bench/proxy/RESULTS.md
