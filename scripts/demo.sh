#!/usr/bin/env bash
# demo.sh — run the example modules through the Orbital kernel and show
# what confinement looks like. Usage: scripts/demo.sh [ORBITAL_BIN] [WASM_DIR]
set -uo pipefail

BIN=${1:-bin/orbital}
WASM=${2:-build/wasm}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export ORBITAL_HOME=${ORBITAL_HOME:-$WORK/home}

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; code=$?; printf '  → exit code %d\n' "$code"; return 0; }

bold "hello: args, one granted env var and the clock (GREETING is requested; HOME is not, so it is dropped)"
show "$BIN" run "$WASM/hello.wasm" --env GREETING=hi --env HOME=/root --clock -- a b c

bold "shrink: host metacompute — the host opens the files, the module only sees stdin/stdout"
go run ./examples/shrink/mkpng "$WORK/photo.png" 640 480 >/dev/null
show "$BIN" run "$WASM/shrink.wasm" --in "$WORK/photo.png" --out "$WORK/small.png"
file "$WORK/small.png" 2>/dev/null || ls -l "$WORK/small.png"

bold "notes: a read-write /data area; its escape attempts are refused"
mkdir -p "$WORK/data" && echo "outside secret" > "$WORK/secret.txt"
show "$BIN" run "$WASM/notes.wasm" --dir "$WORK/data:/data:rw" -- "first note"

bold "notes without the grant: refused before it starts (deny by default)"
show "$BIN" run "$WASM/notes.wasm" -- "no data dir"

bold "spin: a runaway loop, stopped at its 1s deadline"
show "$BIN" run "$WASM/spin.wasm"

bold "sleeper: sleeping in a host call past the deadline is stopped too"
show "$BIN" run "$WASM/sleeper.wasm" --clock

bold "memhog: grows memory until the 64 MiB limit refuses"
show "$BIN" run "$WASM/memhog.wasm"

bold "recurse: unbounded recursion ends in a stack overflow, not a kernel crash"
show "$BIN" run "$WASM/recurse.wasm"

bold "badimport: a module importing a function the kernel does not provide"
show "$BIN" run "$WASM/badimport.wasm"

bold "crc (C): stdio only"
show sh -c "echo hello | '$BIN' run '$WASM/crc.wasm'"

bold "inspect: what a module declares and what its imports imply"
show "$BIN" inspect "$WASM/notes.wasm"
