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
pipe_config edgeprov-admission-test 0ne0000ADMN "$pipe" "max_connections = 8
admin_reserved_connections = 1"
config='C:\edgeprov-admission-test\config.toml'

start_console "$config" "$pipe" "$dir/daemon.log"
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
