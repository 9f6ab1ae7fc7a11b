#!/usr/bin/env bash
# The demo: provisions a simulated TPM device end to end on this machine, the way docs/quickstart.md
# describes it for a real device — read the TPM, enroll it, write the configuration, start the service,
# verify. swtpm stands in for the TPM and dps-emulator for Azure DPS; both run on free loopback ports
# with their state in a temporary directory. Everything it starts is stopped, and the directory removed,
# on every exit path (success, failure, Ctrl+C).
#
# Usage: scripts/demo.sh [--keep]    --keep leaves the temporary directory (config, logs) in place
set -Eeuo pipefail
cd "$(dirname "$0")/.."

keep=0
case "${1:-}" in
  "") ;;
  --keep) keep=1 ;;
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo: unknown option '$1' (use --keep or --help)" >&2; exit 2 ;;
esac

id_scope=0ne00DEMO01
hub=edgeprov-demo-hub.azure-devices.net
device_id=edge-demo-01

step_no=0
bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { step_no=$((step_no + 1)); printf '\n%s== %d. %s%s\n' "$bold" "$step_no" "$*" "$plain"; }

demo=
logs=()            # log files shown when a step fails
pids=()            # processes this script started, stopped in reverse order
names=()

show_logs() {
  local log
  for log in "${logs[@]}"; do
    [ -s "$log" ] || continue
    echo "---- last lines of $log" >&2
    tail -n 25 "$log" >&2
  done
}

die() {
  echo >&2
  echo "demo: FAILED at step $step_no: $*" >&2
  show_logs
  exit 1
}
trap 'die "the command \`$BASH_COMMAND\` failed (exit $?)"' ERR

stop_all() {
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[$i]}
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo: ${names[$i]} (pid $pid) did not stop within 5 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  pids=()
  names=()
}

cleanup() {
  trap - ERR
  stop_all
  if [ -n "$demo" ] && [ -d "$demo" ]; then
    if [ "$keep" = 1 ]; then echo "demo: kept $demo"; else rm -rf "$demo"; fi
  fi
}
trap cleanup EXIT
trap 'echo; die "interrupted"' INT TERM

# start NAME LOG CMD... — runs CMD in the background with its output in LOG and remembers it.
start() {
  local name=$1 log=$2
  shift 2
  logs+=("$log")
  "$@" >"$log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

# Free loopback TCP ports: bound to port 0 and released. `free_ports N` prints N distinct ports;
# `free_port_pair` prints P such that P and P+1 are both free (swtpm: server P, control P+1).
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
free_port_pair() {
  python3 - <<'EOF'
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    if p >= 65535: a.close(); continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass
    finally:
        a.close(); b.close()
EOF
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# show_progress < ninja's output: its "[N/TOTAL] …" lines as one line rewritten in place on a terminal,
# or a line at each quarter otherwise (a log, CI).
show_progress() {
  local line done total shown=0 tty=0
  [ -t 1 ] && tty=1
  while IFS= read -r line; do
    [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]] || continue
    done=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]}
    if [ "$tty" = 1 ]; then
      printf '\r%d/%d build steps' "$done" "$total"
    elif [ $((4 * done / total)) -gt "$shown" ]; then
      shown=$((4 * done / total))
      echo "$done/$total build steps"
    fi
  done
  if [ "$tty" = 1 ] && [ -n "${total:-}" ]; then echo; fi
  return 0
}

# wait_for WHAT SECONDS PID TEST... — until TEST succeeds; fails if PID exits or time runs out.
wait_for() {
  local what=$1 seconds=$2 pid=$3
  shift 3
  for _ in $(seq $((seconds * 10))); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || die "$what: the process exited"
    sleep 0.1
  done
  die "$what: not ready within $seconds s"
}

json_field() {  # json_field KEY.SUBKEY… < json  — prints the value ("" for null)
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1"
}

# ---------------------------------------------------------------------------------------------------
echo "${bold}edgeprov demo${plain}: a device with a simulated TPM is provisioned end to end on this machine, with"
echo "no cloud: swtpm is the TPM, dps-emulator is Azure DPS, edgeprovd is the service and edgeprovctl drives"
echo "it, step by step as docs/quickstart.md does it for a real device."

step "Installing the Debian packages (scripts/setup-debian.sh)"
scripts/setup-debian.sh

step "Building edgeprovd, edgeprovctl and dps-emulator (build/bin)"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
build_log=$(mktemp -t edgeprov-demo-build.XXXXXX)
logs+=("$build_log")
build_start=$SECONDS
cmake --preset default >"$build_log" 2>&1
# A failure ends in die (the ERR trap), which shows the end of the build's log.
cmake --build --preset default --target edgeprovd edgeprovctl dps-emulator 2>&1 | tee -a "$build_log" | show_progress
echo "built in $((SECONDS - build_start)) s"
rm -f "$build_log"
logs=("${logs[@]:0:${#logs[@]}-1}")
bin="$PWD/build/bin"
ctl() { "$bin/edgeprovctl" --config "$config" "$@"; }

demo=$(mktemp -d -t edgeprov-demo.XXXXXX)
chmod 0755 "$demo"
config="$demo/config.toml"
socket="$demo/edgeprov.sock"
echo "working directory: $demo"

step "Starting a simulated TPM (swtpm)"
mkdir -p "$demo/tpm"
for attempt in 1 2 3; do
  tpm_port=$(free_port_pair)
  start swtpm "$demo/swtpm.log" swtpm socket --tpm2 \
    --server "type=tcp,port=$tpm_port,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((tpm_port + 1)),bindaddr=127.0.0.1" \
    --tpmstate "dir=$demo/tpm" --flags not-need-init,startup-clear
  swtpm_pid=${pids[-1]}
  for _ in $(seq 100); do
    tcp_open $((tpm_port + 1)) && tcp_open "$tpm_port" && break
    kill -0 "$swtpm_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$swtpm_pid" 2>/dev/null && tcp_open "$tpm_port" && break
  # Another process took a port between the choice and the bind: try other ports.
  [ "$attempt" = 3 ] && die "swtpm did not start (see its log)"
  stop_all
done
tcti="swtpm:host=127.0.0.1,port=$tpm_port"
echo "swtpm (pid $swtpm_pid): TCTI $tcti, state in $demo/tpm"

step "Starting the local DPS (dps-emulator) with its test CA"
for attempt in 1 2 3; do
  read -r https_port mqtt_port admin_port <<<"$(free_ports 3)"
  start dps-emulator "$demo/dps-emulator.log" "$bin/dps-emulator" --id-scope "$id_scope" --hub "$hub" \
    --https "127.0.0.1:$https_port" --mqtt "127.0.0.1:$mqtt_port" --admin "127.0.0.1:$admin_port" \
    --cert-dir "$demo/emulator"
  emulator_pid=${pids[-1]}
  for _ in $(seq 100); do
    tcp_open "$admin_port" && tcp_open "$https_port" && break
    kill -0 "$emulator_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$emulator_pid" 2>/dev/null && tcp_open "$admin_port" && break
  [ "$attempt" = 3 ] && die "dps-emulator did not start (see its log)"
  kill -TERM "$emulator_pid" 2>/dev/null || true
  wait "$emulator_pid" 2>/dev/null || true
  pids=("${pids[@]:0:${#pids[@]}-1}")
  names=("${names[@]:0:${#names[@]}-1}")
done
admin="http://127.0.0.1:$admin_port"
ca="$demo/emulator/ca.pem"
[ -s "$ca" ] || die "the emulator did not write its test CA to $ca"
echo "dps-emulator (pid $emulator_pid): ID scope $id_scope, device API https://127.0.0.1:$https_port/, admin $admin"
echo "test CA: $ca"

step "Reading the TPM's registration id and endorsement key (edgeprovctl tpm info)"
tpm_info=$("$bin/edgeprovctl" --json tpm info --tcti "$tcti") || die "edgeprovctl tpm info failed: $tpm_info"
registration_id=$(json_field registrationId <<<"$tpm_info")
endorsement_key=$(json_field endorsementKey <<<"$tpm_info")
[ -n "$registration_id" ] && [ -n "$endorsement_key" ] || die "tpm info gave no registration id or EK: $tpm_info"
echo "Registration ID: $registration_id"
echo "Endorsement Key: ${endorsement_key:0:44}… (${#endorsement_key} base64 characters)"

step "Creating the individual TPM enrollment (the portal step, through the emulator's admin API)"
enrollment=$(cat <<JSON
{"registrationId":"$registration_id","deviceId":"$device_id",
 "attestation":{"type":"tpm","tpm":{"endorsementKey":"$endorsement_key"}},
 "capabilities":{"iotEdge":true},"provisioningStatus":"enabled",
 "initialTwin":{"tags":{"environment":"demo"}}}
JSON
)
echo "curl -X PUT $admin/enrollments/$registration_id …"
answer=$(curl -sS --fail-with-body -X PUT "$admin/enrollments/$registration_id" \
  -H 'Content-Type: application/json' -d "$enrollment") || die "the emulator refused the enrollment: $answer"
echo "enrollment created: device id $(json_field deviceId <<<"$answer"), etag $(json_field etag <<<"$answer")"

step "Writing the configuration (edgeprovctl init)"
ctl --endpoint "$socket" init --scope-id "$id_scope" --global-endpoint "https://127.0.0.1:$https_port/" \
  --tcti "$tcti" --trusted-ca "$ca" --state-dir "$demo/state"
mkdir -p "$demo/state"
echo "---- $config"
cat "$config"

step "Starting the service (edgeprovd --config $config)"
start edgeprovd "$demo/edgeprovd.log" "$bin/edgeprovd" --config "$config"
daemon_pid=${pids[-1]}
wait_for "edgeprovd listening on $socket" 10 "$daemon_pid" test -S "$socket"
echo "edgeprovd (pid $daemon_pid) listens on $socket"

step "Waiting until the device is provisioned (edgeprovctl wait --timeout 60)"
code=0
ctl wait --timeout 60 || code=$?
[ "$code" = 0 ] || { ctl status || true; die "edgeprovctl wait exited $code: the device is not provisioned"; }

step "Verifying (edgeprovctl status, identity show, the hub key)"
ctl status
status=$(ctl status --json)
got_hub=$(json_field assignment.hub <<<"$status")
got_device=$(json_field assignment.deviceId <<<"$status")
[ "$(json_field state <<<"$status")" = provisioned ] || die "state is not provisioned"
[ "$got_hub" = "$hub" ] || die "assigned hub is '$got_hub', expected '$hub'"
[ "$got_device" = "$device_id" ] || die "device id is '$got_device', expected '$device_id'"

# The hub key DPS sent was imported into the TPM: a hub SAS token signed there must pass the emulator's
# hub check (what connecting to the IoT hub would prove). The token is a secret: it is never printed.
echo
echo "\$ edgeprovctl identity show"
ctl identity show
token=$(ctl identity sas-token --lifetime 600) || die "edgeprovctl identity sas-token failed"
check=$(python3 -c 'import json,sys; print(json.dumps({"token": sys.stdin.read().strip()}))' <<<"$token" |
        curl -sS --fail-with-body -X POST "$admin/hubSasCheck" -H 'Content-Type: application/json' --data-binary @-) ||
  die "the emulator's hub check failed: $check"
unset token
[ "$(json_field valid <<<"$check")" = True ] ||
  die "the hub refused the SAS token signed in the TPM: $(json_field reason <<<"$check")"
echo "hub check: a SAS token for $got_hub/devices/$got_device (edgeprovctl identity sas-token), signed in the"
echo "TPM with the hub key DPS sent, is accepted by the emulator's POST /hubSasCheck"

echo
echo "---- what edgeprovd logged"
tail -n 30 "$demo/edgeprovd.log"
echo "---- what the emulator saw"
grep -E ' (https|mqtt) ' "$demo/dps-emulator.log" || true

step "Stopping edgeprovd, dps-emulator and swtpm"
stop_all
printf '\ndemo: the simulated TPM device %s is provisioned to %s as %s\n' "$registration_id" "$got_hub" "$got_device"
