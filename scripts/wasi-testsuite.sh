#!/usr/bin/env bash
# wasi-testsuite.sh — refresh testdata/wasi-testsuite/ from the public
# WebAssembly wasi-testsuite (Apache-2.0), branch prod/testsuite-base: the
# prebuilt Rust tests for wasm32-wasip1 and their JSON specs. The binaries
# are debug builds of ~2 MB each; their debug custom sections are stripped
# (wabt's wasm-strip: code, data and every other section are unchanged)
# and they are stored gzip-compressed, 2 MB for all of them.
#
#   scripts/wasi-testsuite.sh REPO [REV]   # REPO: a clone of WebAssembly/wasi-testsuite
set -euo pipefail
repo=${1:?usage: wasi-testsuite.sh REPO [REV]}
rev=${2:-prod/testsuite-base}
out="$(cd "$(dirname "$0")/.." && pwd)/testdata/wasi-testsuite/rust"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$repo" archive "$rev" tests/rust/testsuite/wasm32-wasip1 LICENSE | tar -x -C "$tmp"
src="$tmp/tests/rust/testsuite/wasm32-wasip1"
rm -rf "$out" && mkdir -p "$out"
for w in "$src"/*.wasm; do
	n=$(basename "$w")
	wasm-strip "$w" -o "$tmp/$n"
	gzip -9 -n -c "$tmp/$n" > "$out/$n.gz"
done
cp "$src"/*.json "$out/"
cp -r "$src/fs-tests.dir" "$out/"
cp "$tmp/LICENSE" "$out/../LICENSE"
echo "$(git -C "$repo" rev-parse "$rev") $rev" > "$out/../SOURCE"
echo "wasi-testsuite.sh: $(ls "$out"/*.wasm.gz | wc -l) tests in $out"
