#!/usr/bin/env bash
# Installs what the Windows cross-build and its tests need on Debian 12: the mingw-w64 cross compiler,
# Wine (runs the Windows executables here), NSIS and msitools (installer packages), and a deb-src entry so
# scripts/windows/build-deps.sh can fetch the Debian sources of the compiled dependencies. Idempotent: a
# second run installs nothing. The Linux build needs none of this (scripts/setup-debian.sh).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=DEBIAN_FRONTEND "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive

packages=(
  g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix mingw-w64-tools binutils-mingw-w64-x86-64
  wine wine64 nsis msitools
  # build-deps.sh: apt-get source unpacks with dpkg-source; tpm2-tss and Paho build with these
  dpkg-dev autoconf automake libtool autoconf-archive pkg-config cmake ninja-build perl make
)

# Source packages come from the same archive as the binary ones, through a file of our own with only
# deb-src entries, so the system's binary sources are left exactly as they were.
. /etc/os-release
src_list=/etc/apt/sources.list.d/edgeprov-deb-src.sources
need_update=0
if ! grep -qs "${VERSION_CODENAME}-backports" "$src_list"; then
  cat > "$src_list" <<SRC
# Added by edgeprov scripts/windows/setup-cross.sh: Debian sources for the Windows dependency build.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME} ${VERSION_CODENAME}-updates ${VERSION_CODENAME}-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: ${VERSION_CODENAME}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ] && [ "$need_update" -eq 0 ]; then
  echo "setup-cross: all packages present"
  exit 0
fi
apt-get update -qq
if [ ${#missing[@]} -ne 0 ]; then
  echo "setup-cross: installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
