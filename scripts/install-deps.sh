#!/usr/bin/env bash
# install-deps.sh — install the toolchains used to build Orbital's guest
# modules (examples/) on Debian 12 (bookworm). Run as root. Idempotent:
# packages that are already installed are left alone and `apt-get update`
# only runs when something actually has to be installed.
#
#   scripts/install-deps.sh            # C/WAT guest toolchains + make
#   scripts/install-deps.sh chromium   # ... plus chromium (browser tests) and Xvfb (X11 display tests)
#   scripts/install-deps.sh media      # ... plus ffmpeg (the camera driver's video and V4L2 sources)
#
# Go itself is expected to be installed already (see go.mod for the version).
#
# binaryen is deliberately NOT installed: when wasm-opt is on PATH, clang
# runs it automatically after linking, and Debian 12's wasm-opt rejects
# the bulk-memory instructions that -mbulk-memory emits.
set -euo pipefail

PACKAGES=(clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt make)

for arg in "$@"; do
	case "$arg" in
	chromium) PACKAGES+=(chromium xvfb) ;;
	media) PACKAGES+=(ffmpeg) ;;
	-h | --help)
		sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "install-deps.sh: unknown argument: $arg (accepted: chromium, media)" >&2
		exit 2
		;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (apt-get install)" >&2
	exit 1
fi

# Which of the wanted packages are not installed yet?
missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "install ok installed" ]; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps.sh: all packages already installed: ${PACKAGES[*]}"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive

# Refresh the package lists only when they are missing or the candidate
# for one of the missing packages is unknown (fresh image, stale lists).
need_update=0
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
	need_update=1
else
	for p in "${missing[@]}"; do
		cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
		if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
			need_update=1
			break
		fi
	done
fi
if [ "$need_update" -eq 1 ]; then
	echo "install-deps.sh: apt-get update"
	apt-get update
fi

echo "install-deps.sh: installing ${missing[*]}"
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
	# Lists that are present but stale can point at files the mirror no
	# longer has: refresh once and retry.
	[ "$need_update" -eq 1 ] && exit 1
	echo "install-deps.sh: install failed; apt-get update and retry"
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Sanity check: the tools the Makefile uses.
for tool in clang wasm-ld wat2wasm make; do
	command -v "$tool" >/dev/null || {
		echo "install-deps.sh: $tool not found after install" >&2
		exit 1
	}
done
echo "install-deps.sh: done"
