# [edgeprov.ipc] identity_principals on Windows: edgeprovd.exe resolves each name to a SID
# (LookupAccountNameW) when it starts. A name Windows does not know stops it with exit code 78 and a
# message that names the key, the name and the fix; built-in groups, DOMAIN\NAME and the account the
# programs run as are found, and the service starts and answers. Whether such an account may then call
# identity.* cannot be seen under Wine: every Wine process has an administrator's token
# (docs/building.md), and the access rules themselves are unit-tested (unit_ipc).
. "$(dirname "$0")/../lib.sh"
pipe='\\.\pipe\edgeprov-principals-'$$
dir=$drive_c/edgeprov-principals-test
config='C:\edgeprov-principals-test\config.toml'
rm -rf "$dir" && mkdir -p "$dir"
write_config() {  # write_config TOML-ARRAY: the identity_principals list
  pipe_config edgeprov-principals-test 0ne0000IDPR "$pipe" "identity_principals = $1"
}

write_config "['no-such-account-edgeprov']"
out=$(timeout 60 "$wine_run" "$EDGEPROV_WIN_BIN/edgeprovd.exe" --console --config "$config" 2>&1) && rc=0 || rc=$?
expect "an unknown account stops edgeprovd.exe with exit code 78 (got $rc)" test "$rc" -eq 78
expect "the message names the key" contains <(echo "$out") "edgeprov.ipc.identity_principals"
expect "and the name, which Windows does not know" \
  contains <(echo "$out") '"no-such-account-edgeprov" is neither a user nor a group Windows knows'
expect "and the fix" contains <(echo "$out") "create the account, write it as DOMAIN\\NAME, or remove it from the list"
[ "$failures" -eq 0 ] || echo "$out" | sed 's/^/  edgeprovd: /'

user=$(win cmd.exe /c 'echo %USERNAME%' 2>/dev/null | tr -d '\r')
write_config "['Users', 'BUILTIN\\Administrators', '$user']"
start_console "$config" "$pipe" "$dir/daemon.log"
expect "with Users, BUILTIN\\Administrators and the current account ($user), edgeprovd.exe starts and answers" \
  test -n "$status"
interrupt $daemon
trap - EXIT
expect "and stops with exit 0 (got $rc)" test "$rc" -eq 0
[ "$failures" -eq 0 ] || sed 's/^/  edgeprovd: /' "$dir/daemon.log"
finish
