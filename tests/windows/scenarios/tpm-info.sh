# edgeprovctl.exe tpm info under Wine, against a Linux swtpm through the swtpm TCTI, prints the same
# registration id and endorsement key as the Linux build's edgeprovctl on the same TPM state; the EK is
# also checked against tpm2_readpublic (tpm2-tools) and the registration id recomputed from it
# (lowercase unpadded base32 of SHA-256 of the marshalled TPM2B_PUBLIC, docs/dps-protocol.md).
. "$(dirname "$0")/../lib.sh"
linux_ctl=$linux_bin/edgeprovctl
state=$(mktemp -d)
read -r port <<<"$(free_ports 0)"
start_swtpm "$state" "$port"
trap 'kill $swtpm_pid 2>/dev/null; wait $swtpm_pid 2>/dev/null; rm -rf "$state"' EXIT
expect "swtpm listens on $port" tcp_open "$port"
tcti="swtpm:host=127.0.0.1,port=$port"

# Windows first: it finds no EK and creates and persists it; Linux then reads the persisted one.
win_out=$(win "$EDGEPROV_WIN_BIN/edgeprovctl.exe" --json tpm info --tcti "$tcti" 2>&1) && rc=0 || rc=$?
expect "edgeprovctl.exe tpm info --tcti $tcti exits 0 (got $rc)" test "$rc" -eq 0
win_id=$(json_field "$win_out" registrationId)
win_ek=$(json_field "$win_out" endorsementKey)
echo "  windows: registration id $win_id"

if [ -x "$linux_ctl" ]; then
  linux_out=$("$linux_ctl" --json tpm info --tcti "$tcti" 2>&1) && rc=0 || rc=$?
  expect "the Linux edgeprovctl tpm info exits 0 (got $rc)" test "$rc" -eq 0
  expect "the registration id is the Linux build's ($(json_field "$linux_out" registrationId))" \
    test -n "$win_id" -a "$win_id" = "$(json_field "$linux_out" registrationId)"
  expect "the endorsement key is the Linux build's" test -n "$win_ek" -a "$win_ek" = "$(json_field "$linux_out" endorsementKey)"
else
  expect "the Linux edgeprovctl to compare with is built ($linux_ctl; cmake --build build --target edgeprovctl)" false
fi

tpm2_readpublic -T "$tcti" -c 0x81010001 -o "$state/ek.pub" >/dev/null 2>&1
want=$(python3 - "$state/ek.pub" <<'PY'
import base64, hashlib, sys
blob = open(sys.argv[1], "rb").read()   # tpm2_readpublic -o: the TPM2B_PUBLIC, size prefix included
print(base64.b64encode(blob).decode(), base64.b32encode(hashlib.sha256(blob).digest()).decode().lower().rstrip("="))
PY
)
expect "the endorsement key is the TPM2B_PUBLIC tpm2_readpublic reads at 0x81010001" test "$win_ek" = "${want% *}"
expect "the registration id is base32(sha256(EK)) recomputed from it (${want#* })" test "$win_id" = "${want#* }"
finish
