# Admission control on the named pipe under Wine: edgeprovd.exe --console with max_connections = 8;
# pipe_probe.exe holds 8 connections, each served, and the ninth is refused at once with -32003 naming
# the limit (`connections`), its value and the caller (the SID's account), then closed; once one of the
# eight is closed a new connection is served. That is as far as Wine shows it: every Wine process has an
# administrator's token (docs/building.md), so the per-caller limits of callers that are not
# administrators (connections, requests, subscriptions, the administrators' reserve) cannot be reached
# here; they are tested with real users on Linux (integration_ipc, integration_provision) and the
# accounting is the same code (ipc/admission.cpp, unit_ipc).
. "$(dirname "$0")/../lib.sh"
pipe='\\.\pipe\edgeprov-admission-'$$
dir=$drive_c/edgeprov-admission-test
rm -rf "$dir" && mkdir -p "$dir"
cat > "$dir/config.toml" <<TOML
[provisioning]
source = "dps"
global_endpoint = "https://127.0.0.1:8443/"
id_scope = "0ne0000ADMN"
[provisioning.attestation]
method = "tpm"
[tpm]
tcti = "swtpm:host=127.0.0.1,port=2321"
[edgeprov.ipc]
endpoint = '$pipe'
max_connections = 8
admin_reserved_connections = 1
[edgeprov.state]
dir = 'C:\edgeprov-admission-test\state'
TOML
config='C:\edgeprov-admission-test\config.toml'

"$wine_run" "$EDGEPROV_WIN_BIN/edgeprovd.exe" --console --config "$config" >"$dir/daemon.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null' EXIT
status=
for _ in $(seq 60); do
  status=$(win "$EDGEPROV_WIN_BIN/edgeprovctl.exe" --endpoint "$pipe" --json status 2>/dev/null) || true
  [ -n "$status" ] && break
  kill -0 $daemon 2>/dev/null || break
  sleep 0.5
done
expect "edgeprovctl.exe status is answered over $pipe" test -n "$status"

out=$(timeout 120 "$wine_run" "$EDGEPROV_WIN_TESTS/pipe_probe.exe" "$pipe" --admission 8 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/  pipe_probe: /'
expect "pipe_probe.exe --admission 8: every check passed (exit $rc)" test "$rc" -eq 0
expect "edgeprovd.exe logged the refusal with the limit" contains "$dir/daemon.log" "limit connections of 8 reached"

interrupt $daemon
trap - EXIT
expect "Ctrl+C stops edgeprovd.exe with exit 0 (got $rc)" test "$rc" -eq 0
[ "$failures" -eq 0 ] || sed 's/^/  edgeprovd: /' "$dir/daemon.log"
finish
