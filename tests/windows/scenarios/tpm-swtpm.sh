# The TPM over Wine: tss_probe.exe (the Windows tpm2-tss build, TCTIs linked in) reaches a Linux swtpm
# through the "swtpm:host=…,port=…" TCTI string and reads the same manufacturer and firmware version
# that tpm2_getcap (tpm2-tools, Linux) reads from that swtpm.
. "$(dirname "$0")/../lib.sh"
probe=$EDGEPROV_WIN_TESTS/tss_probe.exe
state=$(mktemp -d)
port=$(python3 -c 'import socket
for p in range(23000, 24000, 2):
    try:
        a = socket.socket(); a.bind(("127.0.0.1", p)); b = socket.socket(); b.bind(("127.0.0.1", p + 1))
        a.close(); b.close(); print(p); break
    except OSError: pass')
swtpm socket --tpm2 --tpmstate dir="$state" --flags not-need-init,startup-clear \
  --server type=tcp,port="$port",bindaddr=127.0.0.1 --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 &
swtpm_pid=$!
trap 'kill $swtpm_pid 2>/dev/null; wait $swtpm_pid 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

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
