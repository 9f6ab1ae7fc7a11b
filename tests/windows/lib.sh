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

# start_emulator DIR ID_SCOPE HUB HTTPS_PORT MQTT_PORT ADMIN_PORT: the Linux dps-emulator (from
# $linux_bin) on those loopback ports, its test CA in DIR/emulator/ca.pem and its log in
# DIR/dps-emulator.log; waits up to 10 s for its three ports. Sets emulator_pid (the caller stops it).
start_emulator() {
  "$linux_bin/dps-emulator" --id-scope "$2" --hub "$3" --https "127.0.0.1:$4" --mqtt "127.0.0.1:$5" \
    --admin "127.0.0.1:$6" --cert-dir "$1/emulator" >"$1/dps-emulator.log" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 100); do tcp_open "$4" && tcp_open "$5" && tcp_open "$6" && return 0; sleep 0.1; done
  return 0
}

# need_linux_bin PROGRAM...: the scenario fails at once, saying how to build them, unless the Linux
# programs it drives are in $linux_bin (EDGEPROV_LINUX_BIN, default build/bin).
linux_bin=${EDGEPROV_LINUX_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}
need_linux_bin() {
  local exe
  for exe in "$@"; do
    [ -x "$linux_bin/$exe" ] || { echo "  FAILED: the Linux $exe is not built ($linux_bin; cmake --build build --target $*)"; exit 1; }
  done
}

# pipe_config DIR ID_SCOPE PIPE [IPC_LINES]: writes $drive_c/DIR/config.toml for `edgeprovd.exe --console`
# serving PIPE, for the scenarios that exercise the pipe and the service, not provisioning: TPM
# attestation with a swtpm TCTI nobody listens on, the state in C:\DIR\state. IPC_LINES (TOML) go under
# [edgeprov.ipc]. The directory must exist.
pipe_config() {
  cat > "$drive_c/$1/config.toml" <<TOML
[provisioning]
source = "dps"
global_endpoint = "https://127.0.0.1:8443/"
id_scope = "$2"
[provisioning.attestation]
method = "tpm"
[tpm]
tcti = "swtpm:host=127.0.0.1,port=2321"
[edgeprov.ipc]
endpoint = '$3'
${4:-}
[edgeprov.state]
dir = 'C:\\$1\\state'
TOML
}

# start_console CONFIG PIPE LOG [settled]: starts `edgeprovd.exe --console --config CONFIG` in the
# background (daemon: its pid; an EXIT trap kills it unless the scenario stops it) and waits up to 30 s
# until edgeprovctl.exe answers status on PIPE; with `settled`, also until the state has left
# `starting`. Sets status (the last answer, "" if none) and answered (1 once any answer came).
start_console() {
  "$wine_run" "$EDGEPROV_WIN_BIN/edgeprovd.exe" --console --config "$1" >"$3" 2>&1 &
  daemon=$!
  trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null' EXIT
  status= answered=
  for _ in $(seq 60); do
    # Exit code 3 is "running, not provisioned": the answer is what counts here.
    status=$(win "$EDGEPROV_WIN_BIN/edgeprovctl.exe" --endpoint "$2" --json status 2>/dev/null) || true
    if [ -n "$status" ]; then
      answered=1
      [ "${4:-}" = settled ] && [ "$(json_field "$status" state)" = starting ] || break
    fi
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.5
  done
}

# stop PID [SIGNAL]: SIGTERM (or SIGNAL: INT for edgeprovd.exe --console, as Ctrl+C), up to 20 s for the
# process to end, then SIGKILL; reaps it.
stop() {
  kill -"${2:-TERM}" "$1" 2>/dev/null || return 0
  for _ in $(seq 80); do kill -0 "$1" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

json_field() {  # json_field JSON KEY.SUBKEY…: the value, "" for null or missing
  python3 -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."): v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1" "$2" 2>/dev/null
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
