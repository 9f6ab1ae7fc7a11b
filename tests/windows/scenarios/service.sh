# The service manager under Wine: `edgeprovd.exe install` registers the service edgeprov (automatic
# delayed start, LocalSystem, a description, restart after 5 s / 30 s / 60 s, recovery on error exit),
# the Event Log source edgeprovd and %ProgramData%\edgeprov with its protected DACL — all read back with
# scm_probe.exe; install again updates in place; `sc start edgeprov` brings it to RUNNING only once the
# pipe answers; `sc stop` stops it; `uninstall` removes the service and the Event Log source.
. "$(dirname "$0")/../lib.sh"
d=$EDGEPROV_WIN_BIN
probe=$EDGEPROV_WIN_TESTS/scm_probe.exe

out=$(win "$d/edgeprovd.exe" install 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/  install: /'
expect "edgeprovd.exe install exits 0 (got $rc)" test "$rc" -eq 0
config=$(win "$probe" config 2>&1) || true
echo "$config" | sed 's/^/  scm_probe: /'
expect "own process, automatic start" contains <(echo "$config") $'type: 16\r'
expect "automatic start (SERVICE_AUTO_START)" contains <(echo "$config") $'start: 2\r'
# What Wine's service manager cannot store or report (docs/building.md): the install must warn about
# what it could not set, and each setting Wine does report must be right.
setting() {  # setting "what" "line when set" LEVEL : the line, or Wine's ERROR_INVALID_LEVEL for that level
  if contains <(echo "$config") "config2-$3-error: 124"; then
    echo "  not verifiable under Wine: $1 (QueryServiceConfig2W level $3: ERROR_INVALID_LEVEL)"
  else
    expect "$1" contains <(echo "$config") "$2"$'\r'
  fi
}
setting "delayed automatic start" "delayed: 1" 3
setting "restart after 5 s, 30 s, 60 s" "failure-actions: restart/5000 restart/30000 restart/60000" 2
setting "the failure count resets after a day" "failure-reset: 86400" 2
setting "recovery also on a non-zero exit" "failure-on-error-exit: 1" 4
expect "install says which settings this service manager refused, if any" \
  test -z "$(echo "$out" | grep 'warning' | grep -v -e 'delayed automatic start' -e 'recovery on error exit')"
expect "the Event Log source edgeprovd is registered" contains <(echo "$config") 'eventlog-source: %SystemRoot%\System32\EventCreate.exe'
expect "%ProgramData%\\edgeprov exists" test -d "$drive_c/ProgramData/edgeprov"
# Wine keeps no file or folder ACLs: it reports one made up from the Unix mode, so the DACL install sets
# (D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)) can only be read back on Windows.
echo "  not verifiable under Wine: the DACL of %ProgramData%\edgeprov ($(win "$probe" dacl 'C:\ProgramData\edgeprov' | tr -d '\r'))"
out=$(win "$d/edgeprovd.exe" install 2>&1) && rc=0 || rc=$?
expect "a second install updates the registration in place (exit $rc)" test "$rc" -eq 0

out=$(win "$d/edgeprovctl.exe" init --force --scope-id 0ne00000SVC --tcti swtpm:host=127.0.0.1,port=2321 2>&1) && rc=0 || rc=$?
expect "edgeprovctl.exe init writes the service's configuration (exit $rc)" test "$rc" -eq 0

state() { win "$probe" state 2>/dev/null | sed -n 's/^state: \([A-Z_a-z]*\).*/\1/p'; }
sc_state() { win sc query edgeprov 2>/dev/null | sed -n 's/.*STATE *: *[0-9]* *\([A-Z_]*\).*/\1/p'; }
out=$(win sc start edgeprov 2>&1) && rc=0 || rc=$?
expect "sc start edgeprov exits 0 (got $rc: $(echo $out))" test "$rc" -eq 0
running=0 answered_when_running=0
for _ in $(seq 80); do
  if [ "$(sc_state)" = RUNNING ]; then
    running=1
    [ -n "$(win "$d/edgeprovctl.exe" --json status 2>/dev/null)" ] && answered_when_running=1
    break
  fi
  sleep 0.25
done
expect "sc query shows RUNNING" test "$running" -eq 1
expect "and the pipe answers as soon as it does" test "$answered_when_running" -eq 1
status=$(win "$d/edgeprovctl.exe" --json status 2>/dev/null) || true
expect "the service reports the configured id scope" contains <(echo "$status") '"idScope":"0ne00000SVC"'

out=$(win sc stop edgeprov 2>&1) && rc=0 || rc=$?
expect "sc stop edgeprov exits 0 (got $rc)" test "$rc" -eq 0
stopped=0
for _ in $(seq 80); do [ "$(state)" = STOPPED ] && { stopped=1; break; }; sleep 0.25; done
expect "the service reaches STOPPED" test "$stopped" -eq 1
expect "with exit code 0" contains <(win "$probe" state 2>/dev/null) 'exit: 0/0'
out=$(win "$d/edgeprovctl.exe" status 2>&1) && rc=0 || rc=$?
expect "the pipe is gone once stopped (edgeprovctl exit $rc)" test "$rc" -eq 4

out=$(win "$d/edgeprovd.exe" uninstall 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/  uninstall: /'
expect "edgeprovd.exe uninstall exits 0 (got $rc)" test "$rc" -eq 0
expect "the service is gone" test "$(state)" = absent
out=$(win "$d/edgeprovd.exe" uninstall 2>&1) && rc=0 || rc=$?
expect "uninstalling what is not installed is not an error (exit $rc)" test "$rc" -eq 0
finish
