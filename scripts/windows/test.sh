#!/usr/bin/env bash
# The Windows test command: install the cross toolchain and Wine, cross-build the dependencies (cached in
# ${EDGEPROV_WIN_DEPS:-/var/cache/edgeprov-win-deps}; minutes when cold, seconds when warm; Paho MQTT from
# the repository's vendor/, or from $EDGEPROV_VENDOR_DIR), build edgeprov for x86_64 Windows (preset
# `windows`, build-windows/) and its installer, build the Linux edgeprovctl and dps-emulator the TPM and
# provisioning scenarios use (build/), and run the Windows tests under Wine.
# Usage: scripts/windows/test.sh [unit_NAME...]   e.g. scripts/windows/test.sh unit_config (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."

mark=$SECONDS
took() {  # took WHAT: how long since the previous mark
  echo "windows test: $1 took $((SECONDS - mark)) s"
  mark=$SECONDS
}
scripts/windows/setup-cross.sh  # with the packages of scripts/setup-debian.sh: the Windows build shares its headers
took "the set-up"
scripts/windows/build-deps.sh
took "the dependencies"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
# The cross-builds yield to the Linux work on a shared machine.
nice -n 10 cmake --preset windows
nice -n 10 cmake --build --preset windows
took "the Windows build"
nice -n 10 cmake --build --preset windows --target package   # build-windows/edgeprov-<version>-win64.exe
took "the installer"
[ -f build/build.ninja ] || nice -n 10 cmake --preset default
nice -n 10 cmake --build build --target edgeprovctl dps-emulator
took "the Linux edgeprovctl and dps-emulator"
EDGEPROV_LINUX_BIN="$PWD/build/bin" tests/windows/run.sh "$@"
took "the tests under Wine"
