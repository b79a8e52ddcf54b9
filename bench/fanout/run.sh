#!/usr/bin/env bash
# WebSocket fan-out: berth's hub side by side with Centrifugo, same client.
# See bench/fanout/README.md.
#
#   bench/fanout/run.sh                 # every row, 20 s each, 1 repetition
#   REPS=3 bench/fanout/run.sh          # 3 repetitions (medians, min–max)
#   ROWS="1000x100 5000x20" DURATION=10 bench/fanout/run.sh
#
# Env: REPS (1), DURATION (publish seconds, 20), ROWS ("1000x100 5000x10
# 5000x20 5000x100", N×rate), SYSTEMS ("berth centrifugo"), MAXRUN (cap of one
# client run in seconds, DURATION+65), BERTH_PORT (18100), CF_PORT (18000),
# CENTRIFUGO (binary; default: built once with `go install` into
# ~/.cache/berth-bench/), FANOUT_SRC (the client's source, ../shared/fanout),
# FANOUT_FLAGS (extra client flags, for both systems), KEEP=1 (keep the
# temporary folder: binaries, server logs, client output).
#
# Writes bench/out/fanout-<UTC>.jsonl (the client's records), .meta.jsonl (one
# line per run: exit status, load average) and .md (the report, also printed).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bench/fanout"
REPS=${REPS:-1}
DURATION=${DURATION:-20}
DURATION=${DURATION%s}
ROWS=${ROWS:-"1000x100 5000x10 5000x20 5000x100"}
SYSTEMS=${SYSTEMS:-"berth centrifugo"}
MAXRUN=${MAXRUN:-$((DURATION + 65))}
BERTH_PORT=${BERTH_PORT:-18100}
CF_PORT=${CF_PORT:-18000}
FANOUT_SRC=${FANOUT_SRC:-$root/../shared/fanout}
FANOUT_FLAGS=${FANOUT_FLAGS:-}
CF_VERSION=v6.9.1

log() { echo "fanout: $*" >&2; }

# ---- processes this script started, and their cleanup ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/berth-fanout.XXXXXX")
cf_pid=""        # the Centrifugo server of the current run
engine_pid=""    # berth's engine of the current run (a session leader)
berth_env=""     # BERTH_STATE_HOME of the current run
berth_proj=""    # project folder of the current run
client_pid=""    # `timeout … fanout` (its own process group)

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

stop_client() {
	if alive "$client_pid"; then
		kill -TERM -- "-$client_pid" 2>/dev/null || kill -TERM "$client_pid" 2>/dev/null || true
		sleep 0.5
		kill -KILL -- "-$client_pid" 2>/dev/null || true
	fi
	client_pid=""
}

stop_centrifugo() {
	if alive "$cf_pid"; then
		kill -TERM "$cf_pid" 2>/dev/null || true
		for _ in $(seq 1 50); do alive "$cf_pid" || break; sleep 0.1; done
		kill -KILL "$cf_pid" 2>/dev/null || true
	fi
	[ -n "$cf_pid" ] && wait "$cf_pid" 2>/dev/null || true
	cf_pid=""
}

stop_berth() {
	if [ -n "$berth_proj" ] && alive "$engine_pid"; then
		(cd "$berth_proj" && BERTH_STATE_HOME="$berth_env" timeout 20 "$tmp/berth" down >/dev/null 2>&1) || true
	fi
	if [ -n "$engine_pid" ]; then
		# The engine is a session leader (setsid): whatever is left in its
		# session (the engine, its reaper, the service) was started by this run.
		for _ in $(seq 1 30); do alive "$engine_pid" || break; sleep 0.1; done
		local left
		left=$(ps -eo pid=,sid= | awk -v s="$engine_pid" '$2 == s { print $1 }')
		if [ -n "$left" ]; then
			log "killing what is left of berth's session $engine_pid: $(echo $left)"
			kill -KILL $left 2>/dev/null || true
		fi
	fi
	engine_pid="" berth_proj="" berth_env=""
}

cleanup() {
	stop_client
	stop_centrifugo
	stop_berth
	if [ "${KEEP:-0}" = 1 ]; then
		log "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- build ----
cd "$root"
log "building berth and the client into $tmp"
go build -o "$tmp/berth" ./cmd/berth
(cd "$FANOUT_SRC" && GOTOOLCHAIN=local go build -o "$tmp/fanout" .)

cf_note=""
if [[ " $SYSTEMS " == *" centrifugo "* ]]; then
	if [ -z "${CENTRIFUGO:-}" ]; then
		gobin="${XDG_CACHE_HOME:-$HOME/.cache}/berth-bench/centrifugo-$CF_VERSION"
		CENTRIFUGO="$gobin/centrifugo"
		if [ ! -x "$CENTRIFUGO" ]; then
			log "building Centrifugo $CF_VERSION into $gobin (once; several minutes on 2 cores)"
			mkdir -p "$gobin"
			if ! GOTOOLCHAIN=local GOBIN="$gobin" go install "github.com/centrifugal/centrifugo/v6@$CF_VERSION" >"$tmp/centrifugo-build.log" 2>&1; then
				cf_note="Centrifugo $CF_VERSION did not build with $(go version | cut -d' ' -f3) and GOTOOLCHAIN=local: $(tail -3 "$tmp/centrifugo-build.log" | tr '\n' ' ')"
				log "$cf_note; measuring berth alone"
				SYSTEMS=berth
			fi
		fi
	fi
fi

# ---- file descriptors: every process needs N + a few ----
maxn=0
for row in $ROWS; do n=${row%x*}; [ "$n" -gt "$maxn" ] && maxn=$n; done
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((maxn + 256)) ]; then
	echo "fanout: ulimit -Hn is $hard; N=$maxn needs at least $((maxn + 256)) open files per process" >&2
	exit 1
fi
if [ "$hard" = unlimited ]; then ulimit -n $((maxn + 4096)); else ulimit -n "$hard"; fi

mkdir -p "$root/bench/out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/bench/out/fanout-$stamp.jsonl"
meta="$out"; meta="${meta%.jsonl}.meta.jsonl"
report="${out%.jsonl}.md"
: >"$out"; : >"$meta"
mkdir -p "$tmp/logs"

# syscw PID: write system calls PID has made so far (/proc/PID/io)
syscw() {
	local v
	v=$(awk '$1 == "syscw:" { print $2 }' "/proc/$1/io" 2>/dev/null) || true
	echo "${v:-0}"
}

# ---- one client run ----
# run_client SYSTEM N RATE REP SERVER_PID fanout-flags...
run_client() {
	local system=$1 n=$2 rate=$3 rep=$4 spid=$5
	shift 5
	local label="$system-n$n-r$rate-rep$rep" load1 rc w0 w1
	load1=$(cut -d' ' -f1 /proc/loadavg)
	w0=$(syscw "$spid")
	set +e
	# setsid: the client, its publisher (sh, berth publish) in a group of their own
	setsid -w timeout --kill-after=5 $((MAXRUN + 30)) "$tmp/fanout" "$@" \
		-n "$n" -rate "$rate" -duration "${DURATION}s" -max-run "${MAXRUN}s" \
		-server-pid "$spid" -json "$out" -label "$label" $FANOUT_FLAGS \
		>"$tmp/logs/$label.out" 2>&1 &
	client_pid=$!
	wait "$client_pid"
	rc=$?
	set -e
	client_pid=""
	w1=$(syscw "$spid")
	printf '{"label":"%s","system":"%s","n":%d,"rate":%s,"rep":%d,"rc":%d,"load1":%s,"server_pid":%d,"srv_write_syscalls":%d}\n' \
		"$label" "$system" "$n" "$rate" "$rep" "$rc" "$load1" "$spid" $((w1 - w0)) >>"$meta"
	log "$label: exit $rc (3 = capped at ${MAXRUN}s), load average before $load1"
	grep -E '^(deliveries|latency|server RSS|CPU)' "$tmp/logs/$label.out" | sed 's/^/    /' >&2 || true
	grep -E 'first (dial|publish|read) error|ABORTED' "$tmp/logs/$label.out" | sed 's/^/    /' >&2 || true
}

run_berth() {
	local n=$1 rate=$2 rep=$3
	if port_busy "$BERTH_PORT"; then echo "fanout: port $BERTH_PORT is busy (set BERTH_PORT)" >&2; exit 1; fi
	berth_proj="$tmp/berth-n$n-r$rate-rep$rep"
	berth_env="$berth_proj/state"
	mkdir -p "$berth_proj"
	printf 'name: fan\nservices:\n  idle:\n    command: sleep 100000\n' >"$berth_proj/compose.yaml"
	(cd "$berth_proj" && BERTH_STATE_HOME="$berth_env" "$tmp/berth" up -d --port "$BERTH_PORT") \
		>"$tmp/logs/berth-n$n-r$rate-rep$rep.up.log" 2>&1
	engine_pid=$(cat "$berth_env/fan/engine.pid")
	local url token
	url=$(cd "$berth_proj" && BERTH_STATE_HOME="$berth_env" "$tmp/berth" dashboard --url)
	token=${url#*token=}
	sleep 1 # as for Centrifugo: let the fresh server settle before the baseline RSS sample
	local pub="cd '$berth_proj' && BERTH_STATE_HOME='$berth_env' exec '$tmp/berth' publish --stream \"\$BENCH_STREAM\""
	run_client berth "$n" "$rate" "$rep" "$engine_pid" -proto berth \
		-url "ws://127.0.0.1:$BERTH_PORT/api/ws?token=$token" -channel topic/bench \
		-pub-mode stdin -pub-cmd "$pub"
	cp "$berth_env/fan/engine.log" "$tmp/logs/berth-n$n-r$rate-rep$rep.engine.log" 2>/dev/null || true
	stop_berth
}

# Same steps and flags as ../shared/fanout/run-centrifugo.sh.
run_centrifugo() {
	local n=$1 rate=$2 rep=$3
	if port_busy "$CF_PORT"; then echo "fanout: port $CF_PORT is busy (set CF_PORT)" >&2; exit 1; fi
	"$CENTRIFUGO" -c "$FANOUT_SRC/centrifugo.json" --http_server.port "$CF_PORT" \
		>"$tmp/logs/centrifugo-n$n-r$rate-rep$rep.server.log" 2>&1 &
	cf_pid=$!
	for _ in $(seq 1 50); do
		curl -sf "http://127.0.0.1:$CF_PORT/health" >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep 1
	run_client centrifugo "$n" "$rate" "$rep" "$cf_pid" -proto centrifugo \
		-url "ws://127.0.0.1:$CF_PORT/connection/websocket" \
		-api "http://127.0.0.1:$CF_PORT/api" -api-key bench-api-key -channel bench:fanout
	stop_centrifugo
}

# ---- the runs: fresh server per run; the order of the systems alternates
# from one repetition to the next ----
t0=$(date +%s)
for rep in $(seq 1 "$REPS"); do
	order=$SYSTEMS
	if [ $((rep % 2)) = 0 ]; then order=$(echo "$SYSTEMS" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }'); fi
	for row in $ROWS; do
		n=${row%x*} rate=${row#*x}
		for system in $order; do
			log "rep $rep/$REPS: $system N=$n rate=$rate/s for ${DURATION}s"
			"run_$system" "$n" "$rate" "$rep"
			sleep 2 # let TIME_WAIT sockets and the CPU calm down between runs
		done
	done
done
elapsed=$(( $(date +%s) - t0 ))

# ---- the report ----
{
	echo "# WebSocket fan-out: berth vs Centrifugo"
	echo
	echo "- date: $(date -u)"
	echo "- berth: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown) ($(go version | cut -d' ' -f3-))"
	[[ " $SYSTEMS " == *" centrifugo "* ]] && echo "- centrifugo: $("$CENTRIFUGO" version 2>/dev/null | head -1)"
	[ -n "$cf_note" ] && echo "- centrifugo: NOT MEASURED: $cf_note"
	echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- command: REPS=$REPS DURATION=$DURATION ROWS=\"$ROWS\" SYSTEMS=\"$SYSTEMS\" bench/fanout/run.sh (${elapsed}s)"
	echo "- raw: bench/out/$(basename "$out"), bench/out/$(basename "$meta")"
	echo
	echo '```'
	free -h
	echo '```'
	echo
	python3 "$here/table.py" "$out" "$meta"
	echo
	echo "Every figure of the client, median (min–max) per system and N×R (\`aggregate.py\`):"
	echo
	python3 "$FANOUT_SRC/aggregate.py" "$out"
} >"$report"
cat "$report"
log "report: $report"
