#!/usr/bin/env bash
# Set up, build, and run every test with warnings as errors: the Linux build's unit and integration
# tests, then the Windows build's tests under Wine (scripts/windows/test.sh). What CI runs (.ci/run).
# Usage: scripts/test.sh                  everything
#        scripts/test.sh [ctest args]     only the Linux tests, filtered, e.g. scripts/test.sh -L unit
#        EDGEPROV_TEST_WINDOWS=0 scripts/test.sh   everything but the Windows tests
#        EDGEPROV_TEST_PACKAGE=0 scripts/test.sh   everything but the .deb's test in a Debian chroot
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
scripts/setup-debian.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset ci
cmake --build --preset ci
ctest --preset ci "$@"
# The .deb, installed, checked, removed and purged in a fresh Debian chroot (tests/package/run.sh); not
# in a filtered run. EDGEPROV_TEST_PACKAGE=0 leaves it out.
if [ $# -eq 0 ] && [ "${EDGEPROV_TEST_PACKAGE:-1}" != 0 ]; then
  cmake --build --preset ci --target package
  tests/package/run.sh
fi
linux=$(( $(date +%s) - start ))
echo "test: the Linux build and its tests took $linux s"

# A filtered run is a quick check of the Linux build: the Windows tests need a second, cross-compiled
# build (minutes when cold) and run only in a full run.
if [ $# -gt 0 ] || [ "${EDGEPROV_TEST_WINDOWS:-1}" = 0 ]; then
  echo "test: the Windows tests under Wine were not run (scripts/windows/test.sh runs them)"
  exit 0
fi
scripts/windows/test.sh
echo "test: the Windows build and its tests under Wine took $(( $(date +%s) - start - linux )) s;" \
  "all tests passed in $(( $(date +%s) - start )) s"
