#!/usr/bin/env bash
# Runs the Windows build's tests under Wine, on this Linux machine:
#   1. every unit test executable of build-windows/ through ctest (each .exe runs under Wine), then
#   2. the scenarios in tests/windows/scenarios/*.sh, which start the Windows programs under Wine and
#      check them from Linux (named pipe, service manager, TPM over swtpm, ...).
# One Wine prefix for the whole run: created in a temp dir, booted once (~15-40 s), its wineserver kept
# up between tests, and removed at the end.
# Usage: tests/windows/run.sh [ctest args...]     EDGEPROV_WIN_BUILD: build dir (default build-windows)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EDGEPROV_WIN_BUILD:-$root/build-windows}
[ -d "$build" ] || { echo "windows tests: no $build; build first: cmake --preset windows && cmake --build --preset windows" >&2; exit 2; }

export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
WINEPREFIX=$(mktemp -d "${TMPDIR:-/tmp}/edgeprov-wine.XXXXXX")
export WINEPREFIX
keeper=
cleanup() {
  [ -n "$keeper" ] && kill "$keeper" 2>/dev/null
  wineserver -k 2>/dev/null || true
  rm -rf "$WINEPREFIX" "$WINEPREFIX.lock"
}
trap cleanup EXIT

t0=$(date +%s)
wineserver -p  # started first and persistent: stays up between test programs instead of restarting
wineboot -i </dev/null >/dev/null 2>&1
touch "$WINEPREFIX/.edgeprov-wine-ready"  # scripts/windows/wine-run.sh: no second boot
# Wine ends its system processes (services.exe, and the services it runs) whenever the last ordinary
# Windows process exits, and starts them again — with every automatic-start service — at the next one.
# One idle cmd.exe for the whole run keeps a single session, as on a real machine.
# Its input is a FIFO this script holds open: it ends by itself (end of input) when the run ends.
mkfifo "$WINEPREFIX/.keeper"
wine cmd.exe /k <"$WINEPREFIX/.keeper" >/dev/null 2>&1 &
keeper=$!
exec 9>"$WINEPREFIX/.keeper"
echo "windows tests: Wine prefix $WINEPREFIX ready in $(( $(date +%s) - t0 )) s ($(wine --version))"

export EDGEPROV_WIN_BIN="$build/bin" EDGEPROV_WIN_TESTS="$build/tests"
failed=0
t1=$(date +%s)
ctest --test-dir "$build" --output-on-failure -j2 "$@" || failed=1
echo "windows tests: ctest under Wine took $(( $(date +%s) - t1 )) s"

passed=0 scenario_failed=0
for scenario in "$root"/tests/windows/scenarios/*.sh; do
  [ -e "$scenario" ] || continue
  name=$(basename "$scenario" .sh)
  t2=$(date +%s)
  if bash "$scenario"; then
    passed=$((passed + 1)); echo "windows scenario $name: passed ($(( $(date +%s) - t2 )) s)"
  else
    scenario_failed=$((scenario_failed + 1)); echo "windows scenario $name: FAILED ($(( $(date +%s) - t2 )) s)"
  fi
done
if [ $((passed + scenario_failed)) -gt 0 ]; then
  echo "scenarios: $passed passed, $scenario_failed failed"
fi
echo "windows tests: total $(( $(date +%s) - t0 )) s"
[ "$failed" -eq 0 ] && [ "$scenario_failed" -eq 0 ]
