#!/usr/bin/env bash
# tests/package/run.sh — installs the edgeprov .deb in a fresh minimal Debian 12 (a debootstrap chroot),
# the way an operator would (apt resolves its dependencies from the archive), and checks what operators
# expect: the edgeprov account in group tss, the directories and their modes, the conffile, the unit
# enabled but not started without a configuration, `edgeprovctl check` against that system, the unit
# verified by systemd-analyze; then remove (the unit masked, the configuration and state kept) and purge
# (nothing of edgeprov left but its account).
#
#   tests/package/run.sh [build/edgeprov_<version>_<arch>.deb]     (default: the one in build/)
#
# Run as root (debootstrap, mount, chroot). systemd does not run in a chroot: enablement is read from the
# unit's symlinks and `systemctl is-enabled`, which work offline.
# The minimal base is made once with debootstrap and cached in $EDGEPROV_PACKAGE_CACHE (default
# /var/cache/edgeprov-package-test), with apt's package lists and downloaded archives, so a warm run
# downloads nothing new. Cold: about 3 minutes (debootstrap and ~40 MB of packages); warm: under a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."

deb=${1:-$(ls -t build/edgeprov_*.deb 2>/dev/null | head -1)}
[ -n "$deb" ] && [ -f "$deb" ] || { echo "package test: no .deb (cmake --build build --target package)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "package test: run as root (debootstrap, mount, chroot)" >&2; exit 2; }

cache=${EDGEPROV_PACKAGE_CACHE:-/var/cache/edgeprov-package-test}
base=$cache/bookworm-minbase.tar
mkdir -p "$cache/archives/partial" "$cache/lists/partial"
start=$(date +%s)
if [ ! -s "$base" ]; then
  echo "package test: making the minimal Debian 12 base once (debootstrap)"
  tmpbase=$(mktemp -d "$cache/base.XXXX")
  if ! debootstrap --variant=minbase bookworm "$tmpbase" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1; then
    echo "package test: debootstrap failed, see $cache/debootstrap.log" >&2
    rm -rf --one-file-system "$tmpbase"
    exit 2
  fi
  rm -f "$tmpbase"/var/cache/apt/archives/*.deb
  tar -C "$tmpbase" -cf "$base.part" . && mv "$base.part" "$base"
  rm -rf --one-file-system "$tmpbase"
fi

root=$(mktemp -d -t edgeprov-package.XXXX)
mounted=()
cleanup() {
  local i
  # An edgeprovd this test started in the chroot, if it failed before stopping it.
  if [ -s "$root/tmp/edgeprovd.pid" ]; then kill "$(cat "$root/tmp/edgeprovd.pid")" 2>/dev/null || true; fi
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$base"
chmod 755 "$root"
# The Debian archive this machine uses (its mirror, and its proxy if apt has one), else deb.debian.org.
if [ -s /etc/apt/sources.list.d/debian.sources ]; then
  rm -f "$root/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
else
  printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\n' \
    >"$root/etc/apt/sources.list"
fi
# (Named without "edgeprov": after purge, no file of that name may be left.)
proxy=$(apt-config dump | grep -E '^Acquire::(http|https)::Proxy' || true)
[ -z "$proxy" ] || echo "$proxy" >"$root/etc/apt/apt.conf.d/01proxy"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
for m in proc sys dev dev/pts; do
  mkdir -p "$root/$m"; mount --bind "/$m" "$root/$m"; mounted+=("$root/$m")
done
# apt's lists and archives persist between runs: a warm run only revalidates them.
mount --bind "$cache/archives" "$root/var/cache/apt/archives"; mounted+=("$root/var/cache/apt/archives")
mount --bind "$cache/lists" "$root/var/lib/apt/lists"; mounted+=("$root/var/lib/apt/lists")
cp "$deb" "$root/tmp/"

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive /bin/bash -c "$1"
}
failures=0
# Output is searched with grep -q <<<"$out", never `echo "$out" | grep -q`: under pipefail, grep leaving at
# the first match can kill echo with SIGPIPE and fail a check that passed.
pass() { echo "package test: ok    $1"; }
fail() { echo "package test: FAIL  $1" >&2; failures=$((failures + 1)); }
expect() {  # expect DESCRIPTION COMMAND-IN-ROOT
  if out=$(in_root "$2" 2>&1); then pass "$1"; else fail "$1"; echo "$out" | sed 's/^/    /' >&2; fi
}
expect_output() {  # expect_output DESCRIPTION COMMAND-IN-ROOT EXPECTED
  out=$(in_root "$2" 2>&1 || true)
  if [ "$out" = "$3" ]; then pass "$1"; else fail "$1: expected '$3', got:"; echo "$out" | sed 's/^/    /' >&2; fi
}

echo "package test: installing $(basename "$deb") into a fresh Debian 12"
in_root "apt-get update -qq"
install_log=$(in_root "apt-get install -y -qq --no-install-recommends /tmp/$(basename "$deb") 2>&1") || {
  echo "$install_log" >&2; echo "package test: installation failed" >&2; exit 1; }
echo "$install_log" | grep -E '^edgeprov:' || true
installed=$(date +%s)

# ---- installed ------------------------------------------------------------------------------------------
expect "the edgeprov account exists and is in group tss" "id -nG edgeprov | tr ' ' '\n' | grep -qx tss"
expect "the edgeprov group exists" "getent group edgeprov >/dev/null"
expect_output "/var/lib/edgeprov is 0700 edgeprov:edgeprov" "stat -c '%a %U:%G' /var/lib/edgeprov" "700 edgeprov:edgeprov"
expect_output "/run/edgeprov is 0750 edgeprov:edgeprov" "stat -c '%a %U:%G' /run/edgeprov" "750 edgeprov:edgeprov"
expect_output "the unit's directory modes are the tmpfiles ones" \
  "grep -E '^(RuntimeDirectoryMode|StateDirectoryMode)=' /usr/lib/systemd/system/edgeprovd.service | cut -d= -f2 | tr '\n' ' '" \
  "0750 0700 "
expect_output "edgeprovd and edgeprovctl are in /usr/bin, 0755" "stat -c '%a %n' /usr/bin/edgeprovd /usr/bin/edgeprovctl | tr '\n' ' '" \
  "755 /usr/bin/edgeprovd 755 /usr/bin/edgeprovctl "
expect "the emulator is not part of the runtime package" "! dpkg -L edgeprov | grep -q bin/dps-emulator"
expect "/etc/edgeprov/config.toml is a conffile" "dpkg-query -W -f='\${Conffiles}' edgeprov | grep -q '/etc/edgeprov/config.toml'"
expect "the unit is enabled (symlink in multi-user.target.wants)" \
  "test \"\$(readlink /etc/systemd/system/multi-user.target.wants/edgeprovd.service)\" = /lib/systemd/system/edgeprovd.service -o \"\$(readlink /etc/systemd/system/multi-user.target.wants/edgeprovd.service)\" = /usr/lib/systemd/system/edgeprovd.service"
expect_output "systemctl is-enabled edgeprovd (offline)" "systemctl is-enabled edgeprovd 2>/dev/null" "enabled"
if grep -q "edgeprovd was not started" <<<"$install_log"; then
  pass "without a configuration, installing says the service was not started and how to go on"
else
  fail "installing did not say why edgeprovd was not started"; echo "$install_log" | tail -5 | sed 's/^/    /' >&2
fi
expect "systemd-analyze verify accepts the unit" "systemd-analyze verify /usr/lib/systemd/system/edgeprovd.service"
expect "edgeprovd --version runs (its libraries are all there)" "edgeprovd --version"

emulator=$(dirname "$deb")/$(basename "$deb" | sed 's/^edgeprov_/edgeprov-dps-emulator_/')
if [ -f "$emulator" ]; then
  cp "$emulator" "$root/tmp/"
  expect "the emulator's own package installs beside it and runs" \
    "apt-get install -y -qq --no-install-recommends /tmp/$(basename "$emulator") >/dev/null 2>&1 && dps-emulator --help >/dev/null && apt-get purge -y -qq edgeprov-dps-emulator >/dev/null 2>&1"
fi

# ---- edgeprovctl check on the installed system --------------------------------------------------------
out=$(in_root "edgeprovctl check" 2>&1) && code=0 || code=$?
if [ "$code" = 11 ] && grep -qE '^error +config\.load' <<<"$out"; then
  pass "edgeprovctl check on the template: config.load is an error, exit 11"
else
  fail "edgeprovctl check on the template (exit $code)"; echo "$out" | sed 's/^/    /' >&2
fi
# A configuration with a secret, written as an operator would: init run as root gives it to the account.
in_root "printf %s 'c2VjcmV0LWtleS1mb3ItdGhlLXBhY2thZ2UtdGVzdA==' | edgeprovctl init --force --scope-id 0ne00000001 \
  --registration-id package-test --symmetric-key - --global-endpoint https://127.0.0.1:9/ >/dev/null"
expect_output "edgeprovctl init (as root) leaves the key's file to the service's account, 0600" \
  "stat -c '%a %U' /etc/edgeprov/config.toml" "600 edgeprov"
out=$(in_root "edgeprovctl check" 2>&1) && code=0 || code=$?
echo "$out" | sed 's/^/    /'
for line in '^ok +config\.load' '^ok +config\.service-access' '^warning +service\.running' \
            '^ok +dps\.dns' '^error +dps\.tcp' '^ok +state\.consistent' '^skipped +tpm\.reachable'; do
  if grep -qE "$line" <<<"$out"; then pass "check: $line"; else fail "check: no line $line"; fi
done
[ "$code" = 11 ] && pass "check exits 11 with an error" || fail "check exited $code, not 11"
# ---- the service as its account, and who may read its status -----------------------------------------
# No systemd here: edgeprovd is started as the unit would run it (User=edgeprov), in the background.
in_root "runuser -u edgeprov -- edgeprovd --config /etc/edgeprov/config.toml >/tmp/edgeprovd.log 2>&1 & echo \$! >/tmp/edgeprovd.pid"
if in_root "for i in \$(seq 200); do [ -S /run/edgeprov/edgeprov.sock ] && exit 0; sleep 0.05; done; exit 1"; then
  pass "edgeprovd starts as the edgeprov account with the configuration init wrote"
else
  fail "edgeprovd did not start as edgeprov"; in_root "cat /tmp/edgeprovd.log" | sed 's/^/    /' >&2
fi
in_root "useradd --no-create-home --groups edgeprov monitor && useradd --no-create-home stranger"
expect_output "a member of group edgeprov reads status (exit 3: not provisioned yet)" \
  "runuser -u monitor -- edgeprovctl status >/dev/null 2>&1; echo \$?" "3"
expect_output "a local user outside the group cannot reach the endpoint (exit 4)" \
  "runuser -u stranger -- edgeprovctl status >/dev/null 2>&1; echo \$?" "4"
out=$(in_root "edgeprovctl check --only service --only ipc" 2>&1) || true
if grep -qE '^ok +service\.running' <<<"$out" && grep -qE '^ok +ipc\.endpoint-permissions.*members of group edgeprov' <<<"$out"; then
  pass "check as root: the service answers; root and group edgeprov may connect"
else
  fail "check as root with the service running"; echo "$out" | sed 's/^/    /' >&2
fi
out=$(in_root "runuser -u stranger -- edgeprovctl check --only ipc" 2>&1) || true
if grep -qE '^warning +ipc\.endpoint-permissions' <<<"$out" && grep -q 'usermod -aG edgeprov stranger' <<<"$out"; then
  pass "check as a user outside the group: how to join it"
else
  fail "check as a user outside the group"; echo "$out" | sed 's/^/    /' >&2
fi
in_root "kill \$(cat /tmp/edgeprovd.pid); for i in \$(seq 200); do [ -S /run/edgeprov/edgeprov.sock ] || exit 0; sleep 0.05; done; exit 1" \
  && pass "edgeprovd stops on SIGTERM and removes its socket" || fail "edgeprovd did not stop"
rm -f "$root/tmp/edgeprovd.pid"

in_root "chmod 0600 /etc/edgeprov/config.toml && chown root:root /etc/edgeprov/config.toml"
out=$(in_root "edgeprovctl check --only config" 2>&1) && code=0 || code=$?
if [ "$code" = 11 ] && grep -qE '^error +config\.service-access' <<<"$out"; then
  pass "a config only root may read: config.service-access is an error naming the fix"
else
  fail "config.service-access on a root-only config (exit $code)"; echo "$out" | sed 's/^/    /' >&2
fi
in_root "chown edgeprov /etc/edgeprov/config.toml"

# ---- remove, then purge -------------------------------------------------------------------------------
in_root "echo '{}' > /var/lib/edgeprov/provisioning.json && chown edgeprov: /var/lib/edgeprov/provisioning.json"
in_root "apt-get remove -y -qq edgeprov >/dev/null 2>&1"
expect "after remove, the binaries are gone" "test ! -e /usr/bin/edgeprovd -a ! -e /usr/bin/edgeprovctl"
expect "after remove, the configuration and the state stay" "test -f /etc/edgeprov/config.toml -a -f /var/lib/edgeprov/provisioning.json"
expect_output "after remove, the unit is masked" "readlink /etc/systemd/system/edgeprovd.service" "/dev/null"
in_root "dpkg --purge edgeprov >/dev/null 2>&1"
expect "after purge, /etc/edgeprov, /var/lib/edgeprov, /var/log/edgeprov and /run/edgeprov are gone" \
  "test ! -e /etc/edgeprov -a ! -e /var/lib/edgeprov -a ! -e /var/log/edgeprov -a ! -e /run/edgeprov"
left=$(in_root "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /tmp \\) -prune -o -name '*edgeprov*' -print" 2>/dev/null || true)
if [ -z "$left" ]; then pass "after purge, no file or link named *edgeprov* is left"; else fail "left after purge:"; echo "$left" | sed 's/^/    /' >&2; fi
expect "after purge, the edgeprov account stays (files elsewhere may still be its own)" "getent passwd edgeprov >/dev/null"

echo "package test: install $((installed - start)) s, all $(( $(date +%s) - start )) s"
if [ "$failures" -gt 0 ]; then echo "package test: $failures failed" >&2; exit 1; fi
echo "package test: all passed"
