#!/usr/bin/env bash
# Installs what the Windows cross-build and its tests need on Debian 12: the mingw-w64 cross compiler,
# Wine (runs the Windows executables here), NSIS and msitools (installer packages), and what
# scripts/windows/build-deps.sh needs (it reads Debian sources through its own apt configuration, so no
# deb-src entry is added to the system). Idempotent: a second run installs nothing.
# The Linux build needs none of this (scripts/setup-debian.sh).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=DEBIAN_FRONTEND "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive

packages=(
  g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix mingw-w64-tools binutils-mingw-w64-x86-64
  wine wine64 nsis msitools
  # build-deps.sh: apt-get source, OpenSSL's Configure and make, CMake for tpm2-tss and Catch2
  dpkg-dev perl make cmake ninja-build pkg-config
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-cross: all packages present"
  exit 0
fi
echo "setup-cross: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
