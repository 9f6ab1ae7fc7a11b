# The NSIS installer (CPack) under Wine: a silent install puts edgeprovd.exe, edgeprovctl.exe and the
# PowerShell module under %ProgramFiles%\edgeprov, registers the service edgeprov through
# `edgeprovd.exe install`, and adds edgeprov\bin to the system PATH; the silent uninstall removes the
# service, the files and the PATH entry.
. "$(dirname "$0")/../lib.sh"
package=$(ls "$EDGEPROV_WIN_BIN"/../edgeprov-*-win64.exe 2>/dev/null | head -1)
probe=$EDGEPROV_WIN_TESTS/scm_probe.exe
root="$drive_c/Program Files/edgeprov"
env_key='HKLM\System\CurrentControlSet\Control\Session Manager\Environment'
if [ -z "$package" ]; then
  expect "the installer is built (cmake --build build-windows --target package)" false
  finish; exit
fi
system_path() { win reg query "$env_key" /v PATH 2>/dev/null | tr -d '\r' | sed -n 's/.*REG[_A-Z]*SZ *//p'; }

# The installer's output goes to a file, not through a pipe: Wine starts explorer.exe (the desktop) for
# the first program that makes a window, and it keeps that program's stderr open for the rest of the
# run, so reading the output to its end would wait for ever.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 120 "$wine_run" "$package" /S >"$log" 2>&1 && rc=0 || rc=$?
expect "the silent install exits 0 (got $rc)" test "$rc" -eq 0
expect "edgeprovd.exe is installed under %ProgramFiles%\\edgeprov\\bin" test -f "$root/bin/edgeprovd.exe"
expect "edgeprovctl.exe too" test -f "$root/bin/edgeprovctl.exe"
expect "and the PowerShell module" test -f "$root/EdgeProv/EdgeProv.psm1" -a -f "$root/EdgeProv/EdgeProv.psd1"
config=$(win "$probe" config 2>&1) || true
expect "the service edgeprov is registered with the installed edgeprovd.exe" \
  contains <(echo "$config") 'binary: "C:\Program Files\edgeprov\bin\edgeprovd.exe"'
expect "automatic start" contains <(echo "$config") $'start: 2\r'
expect "edgeprov\\bin is on the system PATH ($(system_path))" contains <(system_path) 'C:\Program Files\edgeprov\bin'
out=$(win edgeprovctl.exe version 2>&1) || true  # exit 4: the service is not started, and need not be
expect "edgeprovctl runs by name from PATH" contains <(echo "$out") 'edgeprovctl 0.1.0'

# The uninstaller copies itself to %TEMP% and returns at once: wait for it to finish its work.
timeout 60 "$wine_run" "$root/Uninstall.exe" /S >>"$log" 2>&1 && rc=0 || rc=$?
expect "the silent uninstall starts (exit $rc)" test "$rc" -eq 0
for _ in $(seq 120); do [ -e "$root" ] || break; sleep 0.25; done
expect "the files are removed" test ! -e "$root"
expect "the service is removed" test "$(win "$probe" state 2>/dev/null | tr -d '\r')" = "state: absent"
expect "edgeprov\\bin is off the system PATH" test -z "$(system_path | grep -F 'edgeprov\bin')"
finish
