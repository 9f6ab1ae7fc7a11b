#!/usr/bin/env bash
# Runs a Windows program under Wine, headless: wine-run.sh PROGRAM.exe [ARGS...]
# The CMake toolchain names this the cross-compiling emulator, so `ctest` and Catch2's test discovery run
# the Windows test executables through it. The program's exit code is passed through.
#
# Wine prefix: $WINEPREFIX when set (tests/windows/run.sh makes one per test run and keeps its
# wineserver up), else one shared prefix per user under $TMPDIR, created on first use. Creating a prefix
# takes ~15 s, so it is made once and reused; a lock keeps parallel first uses from racing.
set -euo pipefail

export WINEDEBUG=${WINEDEBUG:--all}
# No Mono or Gecko install prompts: edgeprov's programs need neither .NET nor a browser engine.
export WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
export WINEPREFIX=${WINEPREFIX:-${TMPDIR:-/tmp}/edgeprov-wine-$(id -u)}
unset DISPLAY WAYLAND_DISPLAY  # console programs only: never try to reach a display

# The marker, not system.reg: a persistent wineserver writes the registry files only when it exits.
ready=$WINEPREFIX/.edgeprov-wine-ready
if [ ! -f "$ready" ]; then
  mkdir -p "$(dirname "$WINEPREFIX")"
  (
    flock 9
    if [ ! -f "$ready" ]; then
      wineboot -i </dev/null >/dev/null 2>&1
      touch "$ready"
    fi
  ) 9>"$WINEPREFIX.lock"
fi
exec wine "$@"
