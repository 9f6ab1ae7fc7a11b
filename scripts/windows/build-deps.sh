#!/usr/bin/env bash
# Cross-builds edgeprov's compiled dependencies for x86_64 Windows (mingw-w64, static) from the sources
# of the Debian archive — and Paho MQTT, which the archive does not serve, from the upstream archives
# vendored in the repository (vendor/, or $EDGEPROV_VENDOR_DIR) — into a cache outside the repository
# that the `windows` CMake preset reads:
#   ${EDGEPROV_WIN_DEPS:-/var/cache/edgeprov-win-deps}/prefix   (include/, lib/, lib/pkgconfig, lib/cmake)
# Each dependency is built once and reused; delete its stamp (prefix/.built-NAME) or the whole cache to
# rebuild it. A stamp holds the build's key (for OpenSSL its configuration, for what compiles against
# OpenSSL that same key): when this script changes the key, a cache built with the old one is rebuilt.
# Header-only dependencies are not copied: prefix/include holds symlinks to the Debian headers of just
# those libraries, so /usr/include itself never reaches the mingw include path.
#
# Usage: scripts/windows/build-deps.sh [name...]
#        names: openssl tpm2-tss fmt spdlog catch2 paho-c paho-cpp headers (default: all)
# Runs under nice/ionice with -j2 by default (EDGEPROV_WIN_JOBS to change): the machine is shared.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${EDGEPROV_WIN_DEPS:-/var/cache/edgeprov-win-deps}
prefix=$cache/prefix
jobs=${EDGEPROV_WIN_JOBS:-2}
vendor=${EDGEPROV_VENDOR_DIR:-$(cd "$here/../.." && pwd)/vendor}
host=x86_64-w64-mingw32
export CC=$host-gcc-posix CXX=$host-g++-posix

if [ -z "${EDGEPROV_WIN_DEPS_NICE:-}" ]; then
  export EDGEPROV_WIN_DEPS_NICE=1
  exec nice -n 19 ionice -c3 "$0" "$@"
fi
command -v "$CC" >/dev/null || { echo "build-deps: $CC not found; run scripts/windows/setup-cross.sh" >&2; exit 1; }
mkdir -p "$cache/src" "$cache/build" "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake"
# One build-deps at a time per cache: two test runs on one machine (a developer's and CI's, or two
# worktrees) would otherwise rebuild the same dependency into the same directories at once when a key
# changes. The second one waits, then finds the stamps the first one wrote.
exec 8>"$cache/.lock"
if ! flock -n 8; then
  echo "build-deps: another build-deps is using $cache; waiting for it" >&2
  flock 8
fi

# --- Debian sources ------------------------------------------------------------------------------------
# A private apt configuration (deb-src entries only, lists under the cache) so the system's apt sources
# and lists stay exactly as they were. bookworm first: the same archive and versions as the Linux build.
# Where the archive does not serve a bookworm source (it answers 404 for some), the next suite is used;
# build-deps prints which version it took and docs/building.md lists them.
apt_dir=$cache/apt
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root")
apt_ready=0
apt_setup() {
  [ "$apt_ready" = 1 ] && return
  mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  cat > "$apt_dir/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
  echo "build-deps: apt-get update of the Debian source index (into $apt_dir)" >&2
  logged apt-update apt-get "${apt_opts[@]}" update
  apt_ready=1
}

# fetch_orig PACKAGE VERSION... : puts the upstream (orig) tarball of the first version the archive serves
# into $cache/src and prints its path. The upstream tarball is what we build: Debian's patches are about
# Debian's own packaging and do not concern a mingw build.
fetch_orig() {
  local pkg=$1; shift
  local ver up tarball
  for ver in "$@"; do
    up=${ver%-*}; up=${up#*:}
    tarball=$(ls "$cache/src/${pkg}_${up}".orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -1 || true)
    if [ -z "$tarball" ]; then
      apt_setup
      (cd "$cache/src" && apt-get "${apt_opts[@]}" source --download-only -qq "$pkg=$ver" >/dev/null 2>&1) || true
      tarball=$(ls "$cache/src/${pkg}_${up}".orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -1 || true)
    fi
    if [ -n "$tarball" ]; then
      echo "build-deps: $pkg source $ver ($(basename "$tarball"))" >&2
      echo "$tarball"
      return 0
    fi
    echo "build-deps: the archive does not serve $pkg $ver; trying the next version" >&2
  done
  echo "build-deps: no source of $pkg ($*) could be fetched from the Debian archive" >&2
  return 1
}

unpack() {  # unpack TARBALL NAME -> prints the fresh source directory
  local dir=$cache/build/$2
  rm -rf "$dir" && mkdir -p "$dir"
  : >"$cache/build/$2.log"
  tar -xf "$1" -C "$dir" --strip-components=1
  echo "$dir"
}

# stamp NAME [KEY] / built NAME [KEY]: NAME was built with KEY (default empty). A stamp with another key,
# or none, is not built: stamps of older caches are empty files, so a new key rebuilds them.
stamp() { printf '%s' "${2:-}" >"$prefix/.built-$1"; }

# logged NAME COMMAND... : runs a build step with its output in $cache/build/NAME.log (compiler warnings
# of third-party code are not ours to read), and shows the end of that log when the step fails.
logged() {
  local log=$cache/build/$1.log; shift
  if ! "$@" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "build-deps: failed; full log: $log" >&2
    exit 1
  fi
}
built() { [ -f "$prefix/.built-$1" ] && [ "$(cat "$prefix/.built-$1")" = "${2:-}" ]; }

# cmake_build NAME SOURCE_DIR BUILD_DIR [CMAKE-ARGS...]: configures a CMake project for Windows (the
# mingw toolchain, this prefix, Release) and builds it; the caller installs it.
cmake_build() {
  local name=$1 source=$2 build=$3; shift 3
  logged "$name" cmake -S "$source" -B "$build" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$here/../../cmake/toolchains/mingw-w64-x86_64.cmake" \
    -DEDGEPROV_WIN_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" "$@"
  logged "$name" cmake --build "$build" -j"$jobs"
}

# --- OpenSSL: libcrypto and libssl, static, Windows CNG-free mingw64 target ----------------------------
# OPENSSLDIR is where libssl reads openssl.cnf at start-up and where SSL_CTX_set_default_verify_paths
# looks for certs/ and cert.pem. OpenSSL compiles it in as a path, and a path without a drive letter
# (the default, this cache's /var/cache/...) means "on the current drive" on Windows: C:\var\..., a
# folder any local user may create, so any user could hand the SYSTEM service a configuration or trusted
# CAs. It is therefore the ssl folder of edgeprov's installation directory, C:\Program Files\edgeprov
# (installer/windows/CMakeLists.txt: $PROGRAMFILES64 and CPACK_PACKAGE_INSTALL_DIRECTORY edgeprov),
# where only administrators can create or change files. The installer puts nothing there: edgeprov needs
# no openssl.cnf, and it reads trust from the Windows certificate store (dps/trust_store_windows.cpp).
# no-dso: OpenSSL loads no DLL at all. Without it, ENGINE_by_id() with an unknown name and the loading of
# a provider that is not built in would look for DLLs under ENGINESDIR and MODULESDIR, which are derived
# from the prefix too (C:\var\...\lib\engines-3, ...\lib\ossl-modules). Everything edgeprov uses is
# built in (no-module already builds the providers into libcrypto); tpm2-tss, Paho and Boost.Asio load
# no engine. Both directories still name the installation directory, so no path compiled into this
# OpenSSL is one a user may create.
# Configure takes "C:/..." for a relative path on this Linux host (it would prepend the prefix), so the
# three directories are given to make, which compiles them in as they are.
openssl_dir='C:/Program Files/edgeprov/ssl'
openssl_options=(mingw64 no-shared no-tests no-module no-dso)
openssl_dirs=(OPENSSLDIR="$openssl_dir" ENGINESDIR="${openssl_dir%/ssl}/lib/engines-3"
              MODULESDIR="${openssl_dir%/ssl}/lib/ossl-modules")
# The stamp key of OpenSSL and of what compiles against its headers (tpm2-tss, Paho C and C++).
openssl_key="openssl ${openssl_options[*]} ${openssl_dirs[*]}"
build_openssl() {
  built openssl "$openssl_key" && return
  local ver src
  ver=$(dpkg-query -W -f='${source:Version}' libssl-dev 2>/dev/null || true)
  src=$(unpack "$(fetch_orig openssl ${ver:+"$ver"} 3.0.17-1~deb12u2)" openssl)
  cd "$src"
  logged openssl ./Configure "${openssl_options[@]}" --prefix="$prefix" --libdir=lib \
    --cross-compile-prefix= CC="$CC" AR=$host-ar RANLIB=$host-ranlib RC=$host-windres
  logged openssl make -j"$jobs" build_libs "${openssl_dirs[@]}"
  # An older cache may hold OpenSSL's files of the old configuration: replaced, not merged.
  rm -rf "$prefix/include/openssl" "$prefix"/lib/libssl.* "$prefix"/lib/libcrypto.* "$prefix"/lib/pkgconfig/libssl.pc \
    "$prefix"/lib/pkgconfig/libcrypto.pc "$prefix"/lib/pkgconfig/openssl.pc
  logged openssl make install_dev "${openssl_dirs[@]}"
  cd - >/dev/null
  stamp openssl "$openssl_key"
}

# --- tpm2-tss: esys, sys, mu, rc, tctildr with the tbs, swtpm and mssim TCTIs, static ------------------
# tctildr normally dlopen()s a TCTI library by name. A static Windows build cannot do that, so tctildr is
# built in tpm2-tss's own "nodl" mode (tctildr-nodl.c, the mode its Visual Studio solution uses): the
# TCTIs are linked in and picked by name from a table — "tbs", "swtpm" and "mssim" — so
# Tss2_TctiLdr_Initialize("swtpm:host=127.0.0.1,port=2321") works unchanged. The autotools build has no
# rule for tcti-tbs, so a small CMake project (scripts/windows/tpm2-tss/) mirrors the solution's file lists.
build_tpm2_tss() {
  built tpm2-tss "$openssl_key" && return
  built openssl "$openssl_key" || build_openssl
  local tarball src
  tarball=$(fetch_orig tpm2-tss 3.2.1-3 4.1.3-1.2)
  src=$(unpack "$tarball" tpm2-tss)
  cmake_build tpm2-tss "$here/tpm2-tss" "$src/_build" -DTSS_SOURCE_DIR="$src" \
    -DTSS_VERSION="$(basename "$tarball" | sed 's/^[^_]*_\(.*\)\.orig\.tar.*/\1/')"
  logged tpm2-tss cmake --install "$src/_build"
  stamp tpm2-tss "$openssl_key"
}

# --- Catch2 v3 (compiled library; the test executables link it) ---------------------------------------
build_catch2() {
  built catch2 && return
  local ver src
  ver=$(dpkg-query -W -f='${source:Version}' catch2 2>/dev/null || true)
  src=$(unpack "$(fetch_orig catch2 ${ver:+"$ver"} 3.7.1-0.4~bpo12+1)" catch2)
  cmake_build catch2 "$src" "$src/_build" \
    -DCATCH_INSTALL_DOCS=OFF -DCATCH_INSTALL_EXTRAS=ON -DBUILD_TESTING=OFF
  logged catch2 cmake --install "$src/_build"
  stamp catch2
}

# --- fmt and spdlog: compiled static libraries, as on Linux -----------------------------------------
# Both could be used header-only from the Debian headers, but then every file that logs or formats
# compiles their implementation again: about 5 s of CPU more per file, a fifth of the cross-build.
# Built from the sources of the installed Debian packages, so the versions are the Linux build's.
build_fmt() {
  built fmt && return
  local ver src
  ver=$(dpkg-query -W -f='${source:Version}' libfmt-dev 2>/dev/null || true)
  src=$(unpack "$(fetch_orig fmtlib ${ver:+"$ver"} 9.1.0+ds1-2)" fmt)
  cmake_build fmt "$src" "$src/_build" \
    -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF -DFMT_DOC=OFF -DFMT_TEST=OFF -DFMT_INSTALL=ON
  # A cache from before fmt was built here has a symlink to Debian's headers in its place (and our own
  # package file): removed first, so the install never writes through it into /usr/include.
  rm -rf "$prefix/include/fmt" "$prefix/lib/cmake/fmt"
  logged fmt cmake --install "$src/_build"
  stamp fmt
}

build_spdlog() {
  built spdlog && return
  built fmt || build_fmt
  local ver src
  ver=$(dpkg-query -W -f='${source:Version}' libspdlog-dev 2>/dev/null || true)
  src=$(unpack "$(fetch_orig spdlog ${ver:+"$ver"} 1:1.10.0+ds-0.4)" spdlog)
  cmake_build spdlog "$src" "$src/_build" \
    -DCMAKE_INSTALL_LIBDIR=lib -DSPDLOG_BUILD_SHARED=OFF -DSPDLOG_FMT_EXTERNAL=ON -DSPDLOG_INSTALL=ON \
    -DSPDLOG_BUILD_EXAMPLE=OFF -DSPDLOG_BUILD_TESTS=OFF -DSPDLOG_BUILD_BENCH=OFF
  # As for fmt: no symlink of an older cache is written through.
  rm -rf "$prefix/include/spdlog" "$prefix/lib/cmake/spdlog"
  logged spdlog cmake --install "$src/_build"
  stamp spdlog
}

# --- Paho MQTT C and C++, from the vendored upstream archives ------------------------------------------
# The Debian archive serves no paho.mqtt.c source (apt-get source answers 404 for bookworm's 1.3.12 and
# trixie's 1.3.14), so the repository carries the upstream archives of the versions Debian 12 ships
# (vendor/README.md says where they come from). Paho C++ comes from there too, so the pair is always the
# one Debian 12 pairs, whatever the archive serves on a given day.

# vendored FILE: prints the path of FILE in the vendor directory once its SHA-256 matches SHA256SUMS;
# fails (in the caller's command substitution: `|| exit 1` there) saying what to do otherwise.
vendored() {
  local file=$1 sums=$vendor/SHA256SUMS want got
  if [ ! -d "$vendor" ]; then
    echo "build-deps: no vendor directory at $vendor: it holds the Paho MQTT sources of the Windows build." >&2
    echo "build-deps: run this script from a clone of the edgeprov repository (it has vendor/), or set" >&2
    echo "build-deps: EDGEPROV_VENDOR_DIR to a directory with $file and SHA256SUMS (vendor/README.md)" >&2
    exit 1
  fi
  want=$(awk -v f="$file" '$2 == f || $2 == "*" f { print $1 }' "$sums" 2>/dev/null || true)
  if [ ! -f "$vendor/$file" ] || [ -z "$want" ]; then
    if [ ! -f "$vendor/$file" ]; then echo "build-deps: $vendor has no $file:" >&2
    else echo "build-deps: $sums has no checksum for $file:" >&2; fi
    echo "build-deps: restore vendor/ from the repository (git checkout -- vendor), or remake the archive" >&2
    echo "build-deps: and its checksum as vendor/README.md says" >&2
    exit 1
  fi
  got=$(sha256sum "$vendor/$file" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "build-deps: $vendor/$file has SHA-256 $got, but $sums says $want:" >&2
    echo "build-deps: the file is damaged or not the upstream release; restore it from the repository" >&2
    echo "build-deps: (git checkout -- vendor/$file) or remake it as vendor/README.md says" >&2
    exit 1
  fi
  echo "build-deps: $file (SHA-256 verified)" >&2
  echo "$vendor/$file"
}

# Paho C: only the static libraries, with TLS (OpenSSL from this prefix); on Windows its sockets are
# Winsock's (WSAPoll) and its threads Win32 threads, whatever the compiler's thread model.
build_paho_c() {
  built paho-c "$openssl_key" && return
  built openssl "$openssl_key" || build_openssl
  local tarball src
  tarball=$(vendored paho.mqtt.c-1.3.12.tar.gz) || exit 1
  src=$(unpack "$tarball" paho-c)
  cmake_build paho-c "$src" "$src/_build" -DCMAKE_INSTALL_LIBDIR=lib -DOPENSSL_ROOT_DIR="$prefix" \
    -DPAHO_WITH_SSL=TRUE -DPAHO_BUILD_STATIC=TRUE -DPAHO_BUILD_SHARED=FALSE -DPAHO_ENABLE_TESTING=FALSE \
    -DPAHO_ENABLE_CPACK=FALSE -DPAHO_BUILD_SAMPLES=FALSE -DPAHO_BUILD_DOCUMENTATION=FALSE
  logged paho-c cmake --install "$src/_build"
  stamp paho-c "$openssl_key"
}

# Paho C++ on the asynchronous TLS library of Paho C (libpaho-mqtt3as-static.a), static. Its package
# file names the target PahoMqttCpp::paho-mqttpp3-static (Linux: PahoMqttCpp::paho-mqttpp3).
build_paho_cpp() {
  built paho-cpp "$openssl_key" && return
  built paho-c "$openssl_key" || build_paho_c
  local tarball src
  tarball=$(vendored paho.mqtt.cpp-1.2.0.tar.gz) || exit 1
  src=$(unpack "$tarball" paho-cpp)
  cmake_build paho-cpp "$src" "$src/_build" -DCMAKE_INSTALL_LIBDIR=lib -DOPENSSL_ROOT_DIR="$prefix" \
    -DPAHO_WITH_SSL=TRUE -DPAHO_BUILD_STATIC=TRUE -DPAHO_BUILD_SHARED=FALSE -DPAHO_BUILD_SAMPLES=FALSE \
    -DPAHO_BUILD_TESTS=FALSE -DPAHO_BUILD_DOCUMENTATION=FALSE
  logged paho-cpp cmake --install "$src/_build"
  stamp paho-cpp "$openssl_key"
}

# --- header-only libraries from the Debian packages ----------------------------------------------------
# Symlinks to exactly these header trees, and small CMake package files that give the same target names
# as on Linux.
build_headers() {
  local d
  for d in boost nlohmann CLI toml++; do
    [ -d "/usr/include/$d" ] || { echo "build-deps: /usr/include/$d missing; run scripts/setup-debian.sh" >&2; exit 1; }
    ln -sfn "/usr/include/$d" "$prefix/include/$d"
  done
  "$here/write-header-configs.sh" "$prefix"
  stamp headers
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(headers openssl tpm2-tss fmt spdlog catch2 paho-c paho-cpp)
start=$(date +%s)
for t in "${targets[@]}"; do
  case $t in
    openssl) build_openssl ;;
    tpm2-tss) build_tpm2_tss ;;
    fmt) build_fmt ;;
    spdlog) build_spdlog ;;
    catch2) build_catch2 ;;
    paho-c) build_paho_c ;;
    paho-cpp) build_paho_cpp ;;
    headers) build_headers ;;
    *) echo "build-deps: unknown dependency '$t' (openssl tpm2-tss fmt spdlog catch2 paho-c paho-cpp headers)" >&2; exit 2 ;;
  esac
done
echo "build-deps: ${targets[*]} ready in $prefix ($(( $(date +%s) - start )) s)"
