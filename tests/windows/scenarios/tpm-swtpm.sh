# The TPM over Wine: tss_probe.exe (the Windows tpm2-tss build, TCTIs linked in) reaches a Linux swtpm
# through the "swtpm:host=…,port=…" TCTI string and reads the same manufacturer and firmware version
# that tpm2_getcap (tpm2-tools, Linux) reads from that swtpm.
. "$(dirname "$0")/../lib.sh"
probe=$EDGEPROV_WIN_TESTS/tss_probe.exe
state=$(mktemp -d)
read -r port <<<"$(free_ports 0)"
start_swtpm "$state" "$port"
trap 'kill $swtpm_pid 2>/dev/null; wait $swtpm_pid 2>/dev/null; rm -rf "$state"' EXIT
expect "swtpm listens on $port" tcp_open "$port"

out=$(win "$probe" "swtpm:host=127.0.0.1,port=$port" 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/  tss_probe: /'
expect "tss_probe.exe exits 0 (got $rc)" test "$rc" -eq 0

# tpm2_getcap prints e.g. "TPM2_PT_MANUFACTURER:\n  raw: 0x49424D00"
linux=$(tpm2_getcap -T "swtpm:host=127.0.0.1,port=$port" properties-fixed)
raw_of() { echo "$linux" | grep -A1 "^$1:" | sed -n 's/.*raw: 0x\([0-9A-Fa-f]*\).*/\1/p' | tr 'A-F' 'a-f'; }
want_manufacturer=$(printf '%08x' "0x$(raw_of TPM2_PT_MANUFACTURER)")
want_fw1=$(printf '%08x' "0x$(raw_of TPM2_PT_FIRMWARE_VERSION_1)")
want_fw2=$(printf '%08x' "0x$(raw_of TPM2_PT_FIRMWARE_VERSION_2)")
expect "the manufacturer matches tpm2_getcap (0x$want_manufacturer)" contains <(echo "$out") "manufacturer 0x$want_manufacturer"
expect "firmware version 1 matches tpm2_getcap (0x$want_fw1)" contains <(echo "$out") "firmware1 0x$want_fw1"
expect "firmware version 2 matches tpm2_getcap (0x$want_fw2)" contains <(echo "$out") "firmware2 0x$want_fw2"

out=$(win "$probe" "swtpm:host=127.0.0.1,port=$((port + 100))" 2>&1) && rc=0 || rc=$?
expect "a swtpm port nobody listens on fails to open the TCTI or ESAPI (exit $rc)" test "$rc" -eq 2 -o "$rc" -eq 3
finish
