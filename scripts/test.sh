#!/usr/bin/env bash
# Set up, build, and run every test with warnings as errors: the Linux build's unit and integration
# tests, each fuzz harness for a bounded time (tests/fuzz/run.sh), then the Windows build's tests under
# Wine (scripts/windows/test.sh). What CI runs (.ci/run).
# Usage: scripts/test.sh                  everything
#        scripts/test.sh [ctest args]     only the Linux tests, filtered, e.g. scripts/test.sh -L unit
#        EDGEPROV_TEST_WINDOWS=0 scripts/test.sh   everything but the Windows tests
#        EDGEPROV_TEST_PACKAGE=0 scripts/test.sh   everything but the .deb's test in a Debian chroot
#        EDGEPROV_FUZZ_SECONDS=N          seconds per fuzz harness (default 20; 0 skips fuzzing)
# Each part says how long it took; docs/building.md says what each costs on a fresh 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
mark=$SECONDS
took() {  # took WHAT: how long since the previous mark
  echo "test: $1 took $((SECONDS - mark)) s"
  mark=$SECONDS
}
scripts/setup-debian.sh  # installs what is missing, then names any program of the list that is not on PATH
took "the set-up"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset ci
cmake --build --preset ci
took "the Linux build"
ctest --preset ci "$@"
took "the Linux tests"
# The .deb, installed, checked, removed and purged in a fresh Debian chroot (tests/package/run.sh); not
# in a filtered run. EDGEPROV_TEST_PACKAGE=0 leaves it out.
# It needs root (debootstrap, mount, chroot), as CI has.
if [ $# -eq 0 ] && [ "${EDGEPROV_TEST_PACKAGE:-1}" != 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    cmake --build --preset ci --target package
    tests/package/run.sh
    took "the package's test in a fresh Debian chroot"
  else
    echo "test: the package's test was not run: it needs root (sudo tests/package/run.sh after cmake --build build --target package)"
  fi
fi
linux=$((SECONDS - start))

# A filtered run is a quick check of the Linux build: fuzzing and the Windows tests need builds of their
# own (minutes when cold) and run only in a full run.
if [ $# -gt 0 ]; then
  echo "test: fuzzing and the Windows tests under Wine were not run (tests/fuzz/run.sh, scripts/windows/test.sh); all passed in $linux s"
  exit 0
fi
fuzz_seconds=${EDGEPROV_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" != 0 ]; then
  # Its own build (clang, build-fuzz/): the harnesses and the libraries they link, nothing else.
  cmake --preset fuzz
  cmake --build --preset fuzz
  took "the fuzz build"
  tests/fuzz/run.sh "$fuzz_seconds"
  took "fuzzing"
fi
linux=$((SECONDS - start))

if [ "${EDGEPROV_TEST_WINDOWS:-1}" = 0 ]; then
  echo "test: the Windows tests under Wine were not run (scripts/windows/test.sh runs them); all passed in $linux s"
  exit 0
fi
scripts/windows/test.sh
echo "test: the Windows set-up, build and tests under Wine took $((SECONDS - start - linux)) s;" \
  "all tests passed in $((SECONDS - start)) s"
