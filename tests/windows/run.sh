#!/usr/bin/env bash
# Runs the Windows build's tests under Wine, on this Linux machine:
#   1. every unit test executable of build-windows/tests/ under Wine, then
#   2. the scenarios in tests/windows/scenarios/*.sh, which start the Windows programs under Wine and
#      check them from Linux (named pipe, service manager, TPM over swtpm, ...).
# One Wine prefix for the whole run: created in a temp dir, booted once (~15-40 s), its wineserver kept
# up between tests, and removed at the end.
# Usage: tests/windows/run.sh [unit_NAME...] [SCENARIO...]
#        unit_NAME: only those unit test executables (default: all); SCENARIO (e.g. provision-dps): only
#        those scenarios (default: all). Naming only scenarios runs no unit tests.
#        EDGEPROV_WIN_BUILD: build dir (default build-windows)
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
  rm -rf "$WINEPREFIX" "$WINEPREFIX.lock" "$WINEPREFIX".failed-*
}
trap cleanup EXIT

t0=$(date +%s)
wineserver -p  # started first and persistent: stays up between test programs instead of restarting
wineboot -i </dev/null >/dev/null 2>&1
# The boot's services.exe lingers while it winds down, and a session started now can get a second
# service manager in the same prefix (then one `sc` sees a service another never heard of). Start the
# session below from a fresh server instead.
wineserver -k
wineserver -p
touch "$WINEPREFIX/.edgeprov-wine-ready"  # scripts/windows/wine-run.sh: no second boot
# Wine ends its system processes (services.exe, and the services it runs) whenever the last ordinary
# Windows process exits, and starts them again — with every automatic-start service — at the next one.
# One idle cmd.exe for the whole run keeps a single session, as on a real machine.
# Its input is a FIFO this script holds open: it ends by itself (end of input) when the run ends.
mkfifo "$WINEPREFIX/.keeper"
exec 9<>"$WINEPREFIX/.keeper"  # read-write: opening never blocks, and this script stays its writer
wine cmd.exe /k <"$WINEPREFIX/.keeper" >/dev/null 2>&1 &
keeper=$!
echo "windows tests: Wine prefix $WINEPREFIX ready in $(( $(date +%s) - t0 )) s ($(wine --version))"

export EDGEPROV_WIN_BIN="$build/bin" EDGEPROV_WIN_TESTS="$build/tests"
units=() scenarios=()
for arg in "$@"; do
  if [[ $arg == unit_* ]]; then units+=("$arg"); else scenarios+=("$arg"); fi
done
for name in "${scenarios[@]}"; do
  [ -f "$root/tests/windows/scenarios/$name.sh" ] || { echo "windows tests: no scenario $name in tests/windows/scenarios/" >&2; exit 2; }
done
# Each unit test executable runs once, whole, rather than once per test case through ctest: one Wine
# start per executable instead of ~340, and Wine hands a program its arguments in the ANSI code page,
# which cannot carry the "§" and "‖" of some test names that ctest would pass as filters.
failed_units=()
t1=$(date +%s)
for exe in "$build"/tests/unit_*.exe; do
  name=$(basename "$exe" .exe)
  if [ ${#units[@]} -eq 0 ]; then
    [ ${#scenarios[@]} -eq 0 ] || continue
  else
    [[ " ${units[*]} " == *" $name "* ]] || continue
  fi
  if out=$("$root/scripts/windows/wine-run.sh" "$exe" 2>&1); then
    echo "windows unit tests $name: $(echo "$out" | grep -a -E '^(All tests passed|test cases:)' | tr -d '\r')"
  else
    echo "$out" | tail -n 60
    echo "windows unit tests $name: FAILED"
    failed_units+=("$name")
    printf '%s\n' "$out" | grep -a -E -B2 -A12 '(FAILED|REQUIRE|CHECK|with expansion)' | tail -n 40 \
      > "$WINEPREFIX.failed-$name" || true
  fi
done
[ ${#units[@]} -eq 0 ] && [ ${#scenarios[@]} -ne 0 ] ||
  echo "windows tests: unit tests under Wine took $(( $(date +%s) - t1 )) s"

passed=0 failed_scenarios=()
for scenario in "$root"/tests/windows/scenarios/*.sh; do
  [ -e "$scenario" ] || continue
  name=$(basename "$scenario" .sh)
  [ ${#scenarios[@]} -eq 0 ] || [[ " ${scenarios[*]} " == *" $name "* ]] || continue
  t2=$(date +%s)
  if bash "$scenario"; then
    passed=$((passed + 1)); echo "windows scenario $name: passed ($(( $(date +%s) - t2 )) s)"
  else
    failed_scenarios+=("$name"); echo "windows scenario $name: FAILED ($(( $(date +%s) - t2 )) s)"
  fi
done
if [ $((passed + ${#failed_scenarios[@]})) -gt 0 ]; then
  echo "scenarios: $passed passed, ${#failed_scenarios[@]} failed"
fi
echo "windows tests: total $(( $(date +%s) - t0 )) s"
# What failed, again, last: a log read from its end (CI shows the tail) names it without scrolling back.
for name in "${failed_units[@]}"; do
  echo "windows tests: FAILED: $name; its failing checks (the whole output is above):"
  sed 's/^/  /' "$WINEPREFIX.failed-$name"
  rm -f "$WINEPREFIX.failed-$name"
done
[ ${#failed_scenarios[@]} -eq 0 ] || echo "windows tests: FAILED scenarios: ${failed_scenarios[*]} (their output is above)"
[ ${#failed_units[@]} -eq 0 ] && [ ${#failed_scenarios[@]} -eq 0 ]
