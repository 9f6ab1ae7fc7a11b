# edgeprovctl.exe init under Wine writes %ProgramData%\edgeprov\config.toml (the Windows default path,
# from the known-folder API), refuses to replace it without --force, and replaces it with --force.
. "$(dirname "$0")/../lib.sh"
ctl=$EDGEPROV_WIN_BIN/edgeprovctl.exe
config=$drive_c/ProgramData/edgeprov/config.toml
rm -f "$config"

out=$(win "$ctl" init --scope-id 0ne00000000 --tcti swtpm:host=127.0.0.1,port=2321 2>&1) && rc=0 || rc=$?
expect "init exits 0 (got $rc)" test "$rc" -eq 0
expect "init names the Windows path it wrote" contains <(echo "$out") 'C:\ProgramData\edgeprov\config.toml'
expect "the config file is under C:\\ProgramData\\edgeprov" test -f "$config"
expect "it holds the ID scope" contains "$config" 'id_scope = "0ne00000000"'
expect "it holds the TCTI" contains "$config" 'tcti = "swtpm:host=127.0.0.1,port=2321"'
expect "the local endpoint shown is the named pipe" contains <(echo "$out") '\\.\pipe\edgeprov'

out=$(win "$ctl" init --scope-id 0ne00000001 2>&1) && rc=0 || rc=$?
expect "a second init without --force exits 9, ctl/exit_codes.h exists (got $rc)" test "$rc" -eq 9
expect "and tells to pass --force" contains <(echo "$out") '--force'
expect "and leaves the first config in place" contains "$config" 'id_scope = "0ne00000000"'

out=$(win "$ctl" init --scope-id 0ne00000001 --force 2>&1) && rc=0 || rc=$?
expect "init --force replaces it (exit $rc)" test "$rc" -eq 0
expect "with the new ID scope" contains "$config" 'id_scope = "0ne00000001"'
finish
