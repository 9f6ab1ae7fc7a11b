#!/usr/bin/env bash
# Set up, build, and run every test (unit and integration) with warnings as errors.
# Usage: scripts/test.sh [extra ctest args]    e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-debian.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset ci
cmake --build --preset ci
ctest --preset ci "$@"
