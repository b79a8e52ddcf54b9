#!/bin/sh
# Vendors the dashboard's front-end libraries from the npm registry into
# internal/server/web/vendor/ as ES modules (and xterm.js's stylesheet), at
# pinned versions, after checking each package's checksum (the registry's
# sha512 "integrity"). The one change made to a file: hooks.mjs imports
# "./preact.mjs" instead of "preact" (xterm.js and its fit addon import
# nothing). The
# vendored files are committed: `go build` alone gives a complete binary, and
# this script is only run to change a version (or, with -check, by the tests'
# reviewers to confirm that vendor/ is what the pins give).
#
#   internal/server/web/vendor.sh          # fetch, verify, copy
#   internal/server/web/vendor.sh -check   # verify that vendor/ matches the pins
#
# Needs node and npm (to fetch tarballs and hash them) and tar.
set -eu
cd "$(dirname "$0")"

# name version sha512-integrity (from `npm view NAME@VERSION dist.integrity`)
pins='
preact 11.2.0 sha512-/HfHI/7N84e6GrWBJ3J280z3mLaRJiDcSvj/A+y/4AbLnND/1UlGHe1sR6oYuTGwId0nP7dqDU9OnLxMPZ7xBg==
htm 3.1.1 sha512-983Vyg8NwUE7JkZ6NmOqpCZ+sh1bKv2iYTlUkzlWmA5JD2acKoxd4KVxbMmxX/85mtfdnDmTFoNKcg5DGAvxNQ==
@xterm/xterm 6.0.0 sha512-TQwDdQGtwwDt+2cgKDLn0IRaSxYu1tSUjgKarSDkUM0ZNiSRXFpjxEsvc/Zgc5kq5omJ+V0a8/kIM2WD3sMOYg==
@xterm/addon-fit 0.11.0 sha512-jYcgT6xtVYhnhgxh3QgYDnnNMYTcf8ElbxxFzX0IZo+vabQqSPAjC3c1wJrKB5E19VwQei89QCiZZP86DCPF7g==
'

# Files taken from each package: "package-path vendor-name". The variable is
# files_ and the package's name with every character other than a letter or
# a digit made "_" (@xterm/xterm: files__xterm_xterm).
files_preact='dist/preact.mjs preact.mjs
hooks/dist/hooks.mjs hooks.mjs
LICENSE preact.LICENSE'
files_htm='dist/htm.mjs htm.mjs
LICENSE htm.LICENSE'
files__xterm_xterm='lib/xterm.mjs xterm.mjs
css/xterm.css xterm.css
LICENSE xterm.LICENSE'
files__xterm_addon_fit='lib/addon-fit.mjs xterm-addon-fit.mjs
LICENSE xterm-addon-fit.LICENSE'

check=0
[ "${1:-}" = "-check" ] && check=1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out="$tmp/vendor"
mkdir -p "$out"

echo "$pins" | while read -r name version integrity; do
	[ -n "$name" ] || continue
	dir="$tmp/$name"
	mkdir -p "$dir"
	(cd "$dir" && npm pack --silent "$name@$version" >/dev/null)
	tgz=$(ls "$dir"/*.tgz)
	got=$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
	if [ "$got" != "$integrity" ]; then
		echo "vendor.sh: $name@$version: checksum mismatch: got $got, want $integrity" >&2
		exit 1
	fi
	tar xzf "$tgz" -C "$dir"
	key=$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '_')
	eval "list=\$files_$key"
	echo "$list" | while read -r src dst; do
		cp "$dir/package/$src" "$out/$dst"
	done
	# The browser resolves no bare specifiers without an import map (which
	# the page's CSP would have to allow inline): point hooks at preact.mjs.
	if [ "$name" = preact ]; then
		sed -i 's#from"preact"#from"./preact.mjs"#g' "$out/hooks.mjs"
		if grep -q 'from"preact' "$out/hooks.mjs"; then
			echo "vendor.sh: hooks.mjs still imports a bare \"preact\"" >&2
			exit 1
		fi
	fi
	echo "vendor.sh: $name@$version ok" >&2
done

{
	echo "# Vendored by vendor.sh; do not edit. name version integrity"
	echo "$pins" | sed '/^$/d'
} >"$out/VERSIONS"

if [ $check = 1 ]; then
	if diff -r "$out" vendor >&2; then
		echo "vendor.sh: vendor/ matches the pins" >&2
	else
		echo "vendor.sh: vendor/ differs from a fresh vendoring: run internal/server/web/vendor.sh" >&2
		exit 1
	fi
	exit 0
fi
rm -rf vendor
cp -r "$out" vendor
echo "vendor.sh: wrote $(pwd)/vendor" >&2
