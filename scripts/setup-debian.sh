#!/usr/bin/env bash
# Installs the Debian 12 packages edgeprov's Linux build, tests and demo need: the base and linux lines of
# scripts/debian-packages.txt (Catch2 v3 from bookworm-backports), then checks that every program those
# lines list is on PATH. Idempotent: a second run installs nothing. One line per step; apt's own output
# goes to a log whose path is printed only if a step fails.
# Usage: scripts/setup-debian.sh           install what is missing (as root, or through sudo)
#        scripts/setup-debian.sh --check   only check: name each missing program and its package
set -euo pipefail
. "$(dirname "$0")/lib/packages.sh"

case "${1:-}" in
  "") install_sets setup base linux ;;
  --check) check_programs setup base linux ;;
  *) echo "setup: unknown option '$1' (use --check, or nothing)" >&2; exit 2 ;;
esac
