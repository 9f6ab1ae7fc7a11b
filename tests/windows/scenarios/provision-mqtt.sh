# DPS over MQTT under Wine: edgeprovd.exe (Paho MQTT C/C++ cross-built static, TLS by the Windows OpenSSL
# build) provisions against the Linux dps-emulator's MQTT port, TLS verified against the emulator's test
# CA read through a Z:\ path:
#   - a symmetric-key individual enrollment, whose hub SAS token passes the emulator's POST /hubSasCheck;
#   - a member of a symmetric-key enrollment group configured with the group key (--group-key), which
#     edgeprovd derives the device key from: the hub check accepts only the derived key;
#   - an X.509 device (certificate made here with openssl) in the enrollment group of its CA;
#   - a server certificate its trusted CA did not sign: refused, the state `failed` naming the cause;
#   - an MQTT connection the emulator drops right after CONNACK (fault injection): the attempt fails as a
#     network error and the next one, on a new connection, is assigned, as on Linux.
# Every registration must reach the emulator over MQTT and none over HTTPS; no key appears in a log.
. "$(dirname "$0")/../lib.sh"
ctl=$EDGEPROV_WIN_BIN/edgeprovctl.exe
id_scope=0ne00WINMQT
hub=edgeprov-wine-mqtt.azure-devices.net
individual_key=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
group_key=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
work=$(mktemp -d)
dir=$drive_c/edgeprov-mqtt-test-$$
wdir='C:\edgeprov-mqtt-test-'$$
rm -rf "$dir" && mkdir -p "$dir"

need_linux_bin dps-emulator

pids=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[$i]}"; done
  rm -rf "$work" "$dir"
}
trap cleanup EXIT

read -r https_port mqtt_port admin_port _ <<<"$(free_ports 3)"
start_emulator "$work" "$id_scope" "$hub" "$https_port" "$mqtt_port" "$admin_port"
pids+=("$emulator_pid")
admin=http://127.0.0.1:$admin_port
expect "dps-emulator listens on $mqtt_port (MQTT) and $admin_port (admin)" tcp_open "$mqtt_port"
winpath() { echo "Z:${1//\//\\}"; }  # Wine maps Z:\ to /
ca=$(winpath "$work/emulator/ca.pem")

admin_put() {  # admin_put PATH JSON: the emulator's admin API, like the portal
  curl -sS --fail-with-body -X PUT "$admin$1" -H 'Content-Type: application/json' -d "$2" >/dev/null
}

# The five devices run side by side, each with its own config, state dir, pipe and edgeprovd.exe: the
# checks then wait for each in turn, so the scenario takes about as long as its slowest device.
declare -A daemon
# start NAME INIT-ARGS…: edgeprovctl.exe init (MQTT to the emulator, a state dir and pipe of its own) into
# C:\…\NAME\config.toml, then edgeprovd.exe --console in the background, its log in $dir/NAME.log.
start() {
  local name=$1 out rc; shift
  mkdir -p "$dir/$name"
  out=$(win "$ctl" --config "$(config_of "$name")" --endpoint '\\.\pipe\edgeprov-mqtt-test-'$$-$name init \
    --scope-id "$id_scope" --global-endpoint "https://localhost:$https_port/" --transport mqtt \
    --mqtt-port "$mqtt_port" --state-dir "$wdir\\$name\\state" "$@" 2>&1) && rc=0 || rc=$?
  expect "$name: edgeprovctl.exe init --transport mqtt writes its config (exit $rc)" test "$rc" -eq 0
  [ "$rc" -eq 0 ] || echo "$out" | sed 's/^/  init: /'
  "$wine_run" "$EDGEPROV_WIN_BIN/edgeprovd.exe" --console --config "$(config_of "$name")" >"$dir/$name.log" 2>&1 &
  daemon[$name]=$!
  pids+=("$!")
}
config_of() { echo "$wdir\\$1\\config.toml"; }

# await NAME: edgeprovctl.exe wait --timeout 60 for NAME's outcome; sets config, wait_rc and status (the
# `status` document `--json wait` ends with, or `status --json` after a wait that did not end provisioned).
await() {
  config=$(config_of "$1")
  status=$(win "$ctl" --config "$config" --json wait --timeout 60 2>/dev/null) && wait_rc=0 || wait_rc=$?
  [ "$wait_rc" -eq 0 ] || status=$(win "$ctl" --config "$config" --json status 2>/dev/null) || true
}

provisioned() {  # provisioned NAME REGISTRATION-ID: the checks every successful case shares
  local name=$1 id=$2 registration
  expect "$name: edgeprovctl.exe wait: provisioned (exit $wait_rc)" test "$wait_rc" -eq 0
  expect "$name: status: state provisioned, source dps (got $(json_field "$status" state), $(json_field "$status" source))" \
    test "$(json_field "$status" state)/$(json_field "$status" source)" = provisioned/dps
  expect "$name: status: transport mqtt (got $(json_field "$status" provisioning.transport))" \
    test "$(json_field "$status" provisioning.transport)" = mqtt
  expect "$name: status: the hub the emulator assigned ($hub)" test "$(json_field "$status" assignment.hub)" = "$hub"
  registration=$(curl -sS "$admin/registrations/$id" 2>/dev/null) || true
  expect "$name: the emulator has $id assigned, as device $(json_field "$registration" deviceId)" \
    test "$(json_field "$registration" assignedHub)" = "$hub" -a \
    "$(json_field "$registration" deviceId)" = "$(json_field "$status" assignment.deviceId)"
  expect "$name: the emulator's log shows $id connected and registered over MQTT" \
    grep -qE "mqtt connect $id accepted" "$work/dps-emulator.log"
  expect "$name: and no HTTPS request for $id" bash -c "! grep -qE 'https [a-z]+ $id ' '$work/dps-emulator.log'"
}

hub_sas_check() {  # hub_sas_check NAME: edgeprovctl.exe identity sas-token passes POST /hubSasCheck
  local check
  # The token is a secret: it goes straight from edgeprovctl.exe to the hub check, never to the output.
  check=$(win "$ctl" --config "$config" identity sas-token --lifetime 600 2>/dev/null | tr -d '\r' |
    python3 -c 'import json, sys; print(json.dumps({"token": sys.stdin.read().strip()}))' |
    curl -sS -X POST "$admin/hubSasCheck" -H 'Content-Type: application/json' --data-binary @- 2>&1) || true
  expect "$1: the SAS token of edgeprovctl.exe identity sas-token passes POST /hubSasCheck" \
    test "$(json_field "$check" valid)" = True
  [ "$(json_field "$check" valid)" = True ] || echo "  hubSasCheck: $check"
}

# The portal's part: the enrollments, the X.509 device's certificate, and the fault.
admin_put /enrollments/mqtt-wine-single \
  "{\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{\"primaryKey\":\"$individual_key\"}}}"
admin_put /enrollments/mqtt-wine-dropped \
  "{\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{\"primaryKey\":\"$individual_key\"}}}"
admin_put /enrollmentGroups/fleet \
  "{\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{\"primaryKey\":\"$group_key\"}}}"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/fleet-ca.key" \
  -out "$work/fleet-ca.pem" -subj /CN=edgeprov-wine-fleet-ca -days 2 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/device.key" \
  -out "$work/device.csr" -subj /CN=mqtt-wine-x509 >/dev/null 2>&1
openssl x509 -req -in "$work/device.csr" -CA "$work/fleet-ca.pem" -CAkey "$work/fleet-ca.key" \
  -CAcreateserial -out "$work/device.pem" -days 2 >/dev/null 2>&1
expect "openssl made a device certificate for mqtt-wine-x509 signed by a fleet CA" \
  bash -c "openssl verify -CAfile '$work/fleet-ca.pem' '$work/device.pem' >/dev/null"
admin_put /enrollmentGroups/x509-fleet "$(python3 -c 'import json, sys
print(json.dumps({"attestation": {"type": "x509", "x509": {"signingCertificates": {"primary": {"certificate": open(sys.argv[1]).read()}}}}}))' "$work/fleet-ca.pem")"
curl -sS --fail-with-body -X POST "$admin/faults" -H 'Content-Type: application/json' \
  -d '{"type":"mqttDropAfterConnack","count":1,"registrationId":"mqtt-wine-dropped","transport":"mqtt"}' >/dev/null

# 1. symmetric key, individual enrollment; 2. a member of a symmetric-key group, given the group key, from
# which edgeprovd.exe derives its device key; 3. X.509, the registration id being the certificate's CN;
# 4. a trusted CA that did not sign the server's certificate; 5. the first MQTT connection dropped.
start single --attestation symmetric-key --registration-id mqtt-wine-single --symmetric-key "$individual_key" \
  --trusted-ca "$ca"
start group --attestation symmetric-key --registration-id mqtt-wine-member --symmetric-key "$group_key" \
  --group-key --trusted-ca "$ca"
start x509 --attestation x509 --identity-cert "$(winpath "$work/device.pem")" \
  --identity-pk "$(winpath "$work/device.key")" --trusted-ca "$ca"
start untrusted --attestation symmetric-key --registration-id mqtt-wine-untrusted \
  --symmetric-key "$individual_key" --trusted-ca "$(winpath "$work/fleet-ca.pem")"
start dropped --attestation symmetric-key --registration-id mqtt-wine-dropped --symmetric-key "$individual_key" \
  --trusted-ca "$ca"

await single
provisioned single mqtt-wine-single
hub_sas_check single

await group
provisioned group mqtt-wine-member
expect "group: the emulator registered mqtt-wine-member through the enrollment group fleet" \
  test "$(json_field "$(curl -sS "$admin/registrations/mqtt-wine-member")" enrollmentGroupId)" = fleet
hub_sas_check group

await x509
provisioned x509 mqtt-wine-x509
expect "x509: the emulator registered mqtt-wine-x509 through the group x509-fleet" \
  test "$(json_field "$(curl -sS "$admin/registrations/mqtt-wine-x509")" enrollmentGroupId)" = x509-fleet

# TLS is verified: the emulator's server certificate is refused, and the state says why.
await untrusted
expect "untrusted: edgeprovctl.exe wait: failed (exit 3, got $wait_rc)" test "$wait_rc" -eq 3
message=$(json_field "$status" lastAttempt.error.message)
expect "untrusted: status: state failed (got $(json_field "$status" state))" test "$(json_field "$status" state)" = failed
expect "untrusted: the error says the DPS server certificate is not trusted by the configured CA ($message)" \
  grep -qF "is not trusted" <<<"$message"
expect "untrusted: no MQTT CONNECT reached the emulator" \
  bash -c "! grep -q 'mqtt connect mqtt-wine-untrusted' '$work/dps-emulator.log'"

# The drop right after CONNACK: a network error, then a new connection and the assignment. Counted
# from the emulator's log, the fault's use and the status, not timed.
await dropped
provisioned dropped mqtt-wine-dropped
expect "dropped: the emulator dropped the first connection (injected)" \
  grep -q "mqtt connect mqtt-wine-dropped dropped after CONNACK (injected)" "$work/dps-emulator.log"
expect "dropped: the fault is used up" test "$(curl -sS "$admin/faults")" = "[]"
expect "dropped: status: two attempts, the second assigned (got $(json_field "$status" attempts), $(json_field "$status" lastAttempt.outcome))" \
  test "$(json_field "$status" attempts)/$(json_field "$status" lastAttempt.outcome)" = 2/assigned
expect "dropped: edgeprovd.exe logged the dropped connection as a network error to retry" \
  grep -q "dropped the MQTT connection\|closed the MQTT connection" "$dir/dropped.log"

for name in "${!daemon[@]}"; do stop "${daemon[$name]}" INT; done

# No key reached a log: not the enrollment keys, not edgeprovd.exe's, not the emulator's.
for key in "$individual_key" "$group_key"; do
  expect "no log holds the key ${key:0:6}…" bash -c "! grep -qF -- '$key' '$dir'/*.log '$work/dps-emulator.log'"
done

if [ "$failures" -ne 0 ]; then
  for log in "$dir"/*.log "$work/dps-emulator.log"; do
    [ -f "$log" ] && tail -n 30 "$log" | sed "s|^|  $(basename "$log"): |"
  done
fi
finish
