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

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }  # tcp_open PORT: something listens there

free_ports() {  # free_ports N: N distinct free loopback ports, then P with P+1 also free (for swtpm)
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]; b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1)); break
    except OSError: pass
    finally: a.close(); b.close()
print(" ".join(str(s.getsockname()[1]) for s in socks), p)
PY
}

# start_swtpm STATE_DIR PORT [LOG]: a Linux TPM 2.0 simulator on 127.0.0.1:PORT (its control channel on
# PORT+1), already started up, so a TCTI can use it at once. Sets swtpm_pid (the caller stops it) and
# waits up to 5 s for the port; the caller checks it with tcp_open. Output goes to LOG (default: the
# state directory's swtpm.log).
start_swtpm() {
  swtpm socket --tpm2 --tpmstate dir="$1" --flags not-need-init,startup-clear \
    --server type=tcp,port="$2",bindaddr=127.0.0.1 --ctrl type=tcp,port=$(($2 + 1)),bindaddr=127.0.0.1 \
    >>"${3:-$1/swtpm.log}" 2>&1 &
  swtpm_pid=$!
  for _ in $(seq 50); do tcp_open "$2" && return 0; sleep 0.1; done
  return 0
}

# interrupt PID: Ctrl+C (SIGINT) to a console program under Wine, as an operator stops edgeprovd.exe
# --console; waits up to 10 s for it and sets rc to its exit code.
interrupt() {
  kill -INT "$1"
  for _ in $(seq 40); do kill -0 "$1" 2>/dev/null || break; sleep 0.25; done
  wait "$1" && rc=0 || rc=$?
}

finish() {
  [ "$failures" -eq 0 ]
}
