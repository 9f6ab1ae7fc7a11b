# Helpers for the Windows scenarios (sourced). Run by tests/windows/run.sh, which exports WINEPREFIX
# (one booted prefix for the run), EDGEPROV_WIN_BIN (the .exe files) and EDGEPROV_WIN_TESTS.
set -euo pipefail
: "${WINEPREFIX:?run the scenarios through tests/windows/run.sh}"
: "${EDGEPROV_WIN_BIN:?run the scenarios through tests/windows/run.sh}"
wine_run=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts/windows" && pwd)/wine-run.sh
drive_c=$WINEPREFIX/drive_c
failures=0

win() { "$wine_run" "$@"; }  # win PROGRAM.exe ARGS... : under the run's Wine prefix

expect() {  # expect "what" COMMAND... : the command must succeed
  local what=$1; shift
  if "$@"; then echo "  ok: $what"; else echo "  FAILED: $what"; failures=$((failures + 1)); fi
}

contains() {  # contains FILE TEXT
  grep -qF -- "$2" "$1"
}

finish() {
  [ "$failures" -eq 0 ]
}
