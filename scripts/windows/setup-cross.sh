#!/usr/bin/env bash
# Installs what the Windows cross-build and its tests need on Debian 12: the windows lines of
# scripts/debian-packages.txt — the mingw-w64 cross compiler, Wine (runs the Windows programs here), NSIS
# (the installer) and what scripts/windows/build-deps.sh needs (it reads Debian sources through its own
# apt configuration, so no deb-src entry is added to the system) — with the base and linux lines it
# builds on (scripts/setup-debian.sh). Then checks that every program they list is on PATH. Idempotent;
# one line per step, apt's own output in a log whose path is printed only if a step fails.
# Usage: scripts/windows/setup-cross.sh [--check]   (--check: only check, install nothing)
set -euo pipefail
. "$(dirname "$0")/../lib/packages.sh"

case "${1:-}" in
  "") install_sets setup-cross base linux windows ;;
  --check) check_programs setup-cross base linux windows ;;
  *) echo "setup-cross: unknown option '$1' (use --check, or nothing)" >&2; exit 2 ;;
esac
