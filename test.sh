#!/usr/bin/env bash
# Runs every berth test on a fresh machine: installs what the tests need,
# then go vet and the whole suite under the race detector.
#   bash test.sh            everything (what CI runs)
#   bash test.sh -short     the fast inner loop (skips long scripts and the corpus)
set -euo pipefail
cd "$(dirname "$0")"
export GOTOOLCHAIN=local

# Debian packages the tests use; installed only when missing.
need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v sh >/dev/null 2>&1 || need+=(dash)
# Built-in recipes are tested against the real servers.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# berth share is tested against a real OpenSSH server.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
# The dashboard is tested in a real browser.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ((${#need[@]})); then
  apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi

go vet ./...
go test -race -count=1 "$@" ./...
