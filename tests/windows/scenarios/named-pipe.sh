# The named-pipe endpoint under Wine: edgeprovd.exe --console serves `status` on \\.\pipe\… to
# edgeprovctl.exe; pipe_probe.exe then drives it with pipelined requests, 64 concurrent clients, an
# oversized line, garbage and idle clients, and reads the pipe's DACL back; a second edgeprovd.exe on the
# same pipe must refuse to start (FILE_FLAG_FIRST_PIPE_INSTANCE); Ctrl+C stops the first one cleanly.
. "$(dirname "$0")/../lib.sh"
pipe='\\.\pipe\edgeprov-test-'$$
dir=$drive_c/edgeprov-pipe-test
rm -rf "$dir" && mkdir -p "$dir"
pipe_config edgeprov-pipe-test 0ne0000PIPE "$pipe"
config='C:\edgeprov-pipe-test\config.toml'

# The pipe answers from the start; the state leaves "starting" once the TPM has answered or failed.
start_console "$config" "$pipe" "$dir/first.log" settled
expect "edgeprovctl.exe status is answered over $pipe" test -n "$answered"
# No TPM listens at the configured swtpm port: the service is trying, or waiting to try again.
state=$(json_field "$status" state)
expect "the state is provisioning or retrying (got $state)" test "$state" = provisioning -o "$state" = retrying
expect "the id scope is the configured one" test "$(json_field "$status" provisioning.idScope)" = 0ne0000PIPE
expect "the tcti is the configured one" test "$(json_field "$status" tpm.tcti)" = "swtpm:host=127.0.0.1,port=2321"

out=$(timeout 120 "$wine_run" "$EDGEPROV_WIN_TESTS/pipe_probe.exe" "$pipe" 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/  pipe_probe: /'
expect "pipe_probe.exe: every check passed (exit $rc)" test "$rc" -eq 0
# Exactly what named_pipe_windows.cpp sets. Windows maps GENERIC_ALL to the pipe's FILE_ALL_ACCESS ("FA")
# when it stores the DACL; Wine 8.0 keeps it as given ("GA"). Either is the same DACL.
dacl=$(echo "$out" | sed -n 's/^dacl: //p' | tr -d '\r')
expect "the DACL read back is the one the code set ($dacl)" \
  test "$dacl" = 'D:P(D;;GA;;;NU)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;AU)' \
    -o "$dacl" = 'D:P(D;;FA;;;NU)(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x12019b;;;AU)'

out=$(timeout 60 "$wine_run" "$EDGEPROV_WIN_BIN/edgeprovd.exe" --console --config "$config" 2>&1) && rc=0 || rc=$?
expect "a second edgeprovd.exe on the same pipe refuses to start (exit $rc)" test "$rc" -eq 1
expect "and says another edgeprovd is listening" contains <(echo "$out") "another edgeprovd is already listening on $pipe"
status=$(win "$EDGEPROV_WIN_BIN/edgeprovctl.exe" --endpoint "$pipe" --json status 2>/dev/null) || true
expect "the first one still answers" test -n "$status"

interrupt $daemon
trap - EXIT
expect "Ctrl+C (SIGINT) stops edgeprovd.exe with exit 0 (got $rc)" test "$rc" -eq 0
expect "after logging that it stopped" contains "$dir/first.log" "stopped"
out=$(win "$EDGEPROV_WIN_BIN/edgeprovctl.exe" --endpoint "$pipe" status 2>&1) && rc=0 || rc=$?
expect "then the pipe is gone: edgeprovctl.exe exits 4 (got $rc)" test "$rc" -eq 4
[ "$failures" -eq 0 ] || sed 's/^/  edgeprovd: /' "$dir/first.log"
finish
