#!/usr/bin/env bash
# Installs every Debian 12 package edgeprov needs to build, test and run its demo. Idempotent:
# a second run installs nothing. Catch2 v3 comes from bookworm-backports (bookworm itself has v2).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=DEBIAN_FRONTEND "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libssl-dev openssl libtss2-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev libpaho-mqttpp-dev libpaho-mqtt-dev
  # fuzzing (tests/fuzz): clang, and its runtime libraries, which hold libFuzzer
  clang libclang-rt-14-dev
  # run and test: simulated TPM, TPM tools as independent references, an MQTT broker, MQTT and HTTPS clients
  swtpm swtpm-tools tpm2-tools mosquitto mosquitto-clients curl ca-certificates util-linux procps iproute2 python3
)
backports=(catch2)

missing=()
for p in "${packages[@]}" "${backports[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# catch2 must be v3 (the backport), not bookworm's v2.
if dpkg-query -W -f='${Version}' catch2 2>/dev/null | grep -q '^2\.'; then missing+=(catch2); fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

. /etc/os-release
list=/etc/apt/sources.list.d/${VERSION_CODENAME}-backports.sources
if ! grep -rqs "${VERSION_CODENAME}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat > "$list" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME}-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
echo "setup: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
apt-get install -y -qq --no-install-recommends -t "${VERSION_CODENAME}-backports" "${backports[@]}"
