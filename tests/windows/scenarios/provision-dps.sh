# End to end under Wine: edgeprovd.exe provisions a Linux swtpm's device against the Linux dps-emulator
# (TPM attestation over HTTPS, TLS verified against the emulator's test CA read through a Z:\ path).
# The TPM is read and enrolled from Linux (edgeprovctl tpm info, the admin API's PUT /enrollments/{id});
# edgeprovctl.exe init writes the configuration; edgeprovd.exe --console registers; edgeprovctl.exe
# wait / status --json show the hub and device id the emulator assigned; a SAS token from
# edgeprovctl.exe identity sas-token (signed in the TPM with the hub key DPS sent) passes the emulator's
# POST /hubSasCheck; with the emulator stopped, a restarted edgeprovd.exe is provisioned from its cache.
. "$(dirname "$0")/../lib.sh"
ctl=$EDGEPROV_WIN_BIN/edgeprovctl.exe
id_scope=0ne00WINE01
hub=edgeprov-wine-hub.azure-devices.net
device_id=edge-wine-$$
pipe='\\.\pipe\edgeprov-dps-test-'$$
dir=$drive_c/edgeprov-dps-test-$$
winconfig='C:\edgeprov-dps-test-'$$'\config.toml'
work=$(mktemp -d)
rm -rf "$dir" && mkdir -p "$dir"

need_linux_bin dps-emulator edgeprovctl

pids=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[$i]}"; done
  rm -rf "$work" "$dir"
}
trap cleanup EXIT

read -r https_port mqtt_port admin_port tpm_port <<<"$(free_ports 3)"
mkdir -p "$work/tpm"
start_swtpm "$work/tpm" "$tpm_port" "$work/swtpm.log"
pids+=("$swtpm_pid")
start_emulator "$work" "$id_scope" "$hub" "$https_port" "$mqtt_port" "$admin_port"
emulator=$emulator_pid
pids+=($emulator)
tcti="swtpm:host=127.0.0.1,port=$tpm_port"
admin=http://127.0.0.1:$admin_port
expect "swtpm listens on $tpm_port" tcp_open "$tpm_port"
expect "dps-emulator listens on $https_port (device API) and $admin_port (admin)" tcp_open "$https_port"
ca=$work/emulator/ca.pem
wca="Z:${ca//\//\\}"  # Wine maps Z:\ to /

# The portal's step: read the TPM's registration id and EK, and enroll it.
info=$("$linux_bin/edgeprovctl" --json tpm info --tcti "$tcti" 2>&1) || true
registration_id=$(json_field "$info" registrationId)
ek=$(json_field "$info" endorsementKey)
expect "the Linux edgeprovctl tpm info reads the registration id ($registration_id) and EK" test -n "$registration_id" -a -n "$ek"
enrollment="{\"registrationId\":\"$registration_id\",\"deviceId\":\"$device_id\",
  \"attestation\":{\"type\":\"tpm\",\"tpm\":{\"endorsementKey\":\"$ek\"}},\"capabilities\":{\"iotEdge\":true}}"
answer=$(curl -sS --fail-with-body -X PUT "$admin/enrollments/$registration_id" -H 'Content-Type: application/json' \
  -d "$enrollment" 2>&1) && rc=0 || rc=$?
expect "the emulator takes the enrollment (curl exit $rc)" test "$rc" -eq 0

out=$(win "$ctl" --config "$winconfig" --endpoint "$pipe" init --scope-id "$id_scope" \
  --global-endpoint "https://localhost:$https_port/" --tcti "$tcti" --trusted-ca "$wca" \
  --state-dir 'C:\edgeprov-dps-test-'$$'\state' 2>&1) && rc=0 || rc=$?
expect "edgeprovctl.exe init writes $winconfig (exit $rc)" test "$rc" -eq 0
# The writer keeps file references as file:// URIs: Z:\tmp\…\ca.pem becomes file:///Z:/tmp/…/ca.pem.
expect "the config names the CA as file:///Z:$ca" contains "$dir/config.toml" "trusted_ca = \"file:///Z:$ca\""
[ "$rc" -eq 0 ] || echo "$out" | sed 's/^/  init: /'

"$wine_run" "$EDGEPROV_WIN_BIN/edgeprovd.exe" --console --config "$winconfig" >"$dir/first.log" 2>&1 &
daemon=$!
pids+=($daemon)
out=$(win "$ctl" --config "$winconfig" wait --timeout 60 2>&1) && rc=0 || rc=$?
expect "edgeprovctl.exe wait --timeout 60: provisioned (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || echo "$out" | sed 's/^/  wait: /'
status=$(win "$ctl" --config "$winconfig" --json status 2>/dev/null) || true
expect "status: state provisioned (got $(json_field "$status" state))" test "$(json_field "$status" state)" = provisioned
expect "status: source dps (got $(json_field "$status" source))" test "$(json_field "$status" source)" = dps
expect "status: the hub the emulator assigned ($hub)" test "$(json_field "$status" assignment.hub)" = "$hub"
expect "status: the device id enrolled ($device_id)" test "$(json_field "$status" assignment.deviceId)" = "$device_id"
expect "status: the TPM's registration id" test "$(json_field "$status" provisioning.registrationId)" = "$registration_id"
registrations=$(curl -sS "$admin/registrations/$registration_id" 2>/dev/null) || true
expect "the emulator has the registration assigned to $hub" test "$(json_field "$registrations" assignedHub)" = "$hub"

# The token is a secret: it goes straight from edgeprovctl.exe to the hub check, never to the output.
check=$(win "$ctl" --config "$winconfig" identity sas-token --lifetime 600 2>/dev/null | tr -d '\r' |
  python3 -c 'import json, sys; print(json.dumps({"token": sys.stdin.read().strip()}))' |
  curl -sS -X POST "$admin/hubSasCheck" -H 'Content-Type: application/json' --data-binary @- 2>&1) || true
expect "the SAS token edgeprovctl.exe identity sas-token prints passes POST /hubSasCheck" \
  test "$(json_field "$check" valid)" = True
[ "$(json_field "$check" valid)" = True ] || echo "  hubSasCheck: $check"

stop "$daemon" INT
stop "$emulator"
expect "edgeprovd.exe stopped after logging so" contains "$dir/first.log" stopped

# Restart with DPS gone: the cached assignment is enough.
"$wine_run" "$EDGEPROV_WIN_BIN/edgeprovd.exe" --console --config "$winconfig" >"$dir/second.log" 2>&1 &
daemon=$!
pids+=($daemon)
out=$(win "$ctl" --config "$winconfig" wait --timeout 60 2>&1) && rc=0 || rc=$?
expect "after a restart with the emulator stopped, wait: provisioned (exit $rc)" test "$rc" -eq 0
status=$(win "$ctl" --config "$winconfig" --json status 2>/dev/null) || true
expect "status: state provisioned (got $(json_field "$status" state))" test "$(json_field "$status" state)" = provisioned
expect "status: source cache (got $(json_field "$status" source))" test "$(json_field "$status" source)" = cache
expect "status: the same hub and device id" \
  test "$(json_field "$status" assignment.hub)/$(json_field "$status" assignment.deviceId)" = "$hub/$device_id"
stop "$daemon" INT

if [ "$failures" -ne 0 ]; then
  for log in "$dir/first.log" "$dir/second.log" "$work/dps-emulator.log"; do
    [ -f "$log" ] && tail -n 30 "$log" | sed "s|^|  $(basename "$log"): |"
  done
fi
finish
