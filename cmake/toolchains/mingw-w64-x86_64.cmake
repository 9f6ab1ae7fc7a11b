# Cross-build for x86_64 Windows with Debian's mingw-w64 (posix threads variant: std::thread and
# std::mutex). Executables are linked fully static — libgcc, libstdc++ and winpthread included — so no
# runtime DLL ships beside edgeprovd.exe. Dependencies come only from the mingw sysroot and from the
# prefix that scripts/windows/build-deps.sh fills; /usr/include and /usr/lib are never searched.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(EDGEPROV_MINGW_HOST x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${EDGEPROV_MINGW_HOST}-gcc-posix)
set(CMAKE_CXX_COMPILER ${EDGEPROV_MINGW_HOST}-g++-posix)
set(CMAKE_RC_COMPILER ${EDGEPROV_MINGW_HOST}-windres)
set(CMAKE_AR ${EDGEPROV_MINGW_HOST}-gcc-ar-posix CACHE FILEPATH "")
set(CMAKE_RANLIB ${EDGEPROV_MINGW_HOST}-gcc-ranlib-posix CACHE FILEPATH "")

# The dependency prefix: EDGEPROV_WIN_PREFIX if given, else the build-deps.sh cache.
if(NOT EDGEPROV_WIN_PREFIX)
  if(DEFINED ENV{EDGEPROV_WIN_DEPS})
    set(EDGEPROV_WIN_PREFIX "$ENV{EDGEPROV_WIN_DEPS}/prefix")
  else()
    set(EDGEPROV_WIN_PREFIX /var/cache/edgeprov-win-deps/prefix)
  endif()
endif()
set(EDGEPROV_WIN_PREFIX "${EDGEPROV_WIN_PREFIX}" CACHE PATH "Windows dependency prefix (scripts/windows/build-deps.sh)")
# try_compile projects re-read this file without the cache: hand the prefix down.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EDGEPROV_WIN_PREFIX)

set(CMAKE_FIND_ROOT_PATH /usr/${EDGEPROV_MINGW_HOST} ${EDGEPROV_WIN_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_PREFIX_PATH ${EDGEPROV_WIN_PREFIX})

# pkg-config (tpm2-tss) reads only the prefix's .pc files, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} "${EDGEPROV_WIN_PREFIX}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

set(OPENSSL_USE_STATIC_LIBS TRUE)
set(OPENSSL_ROOT_DIR ${EDGEPROV_WIN_PREFIX})

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")

# Tests and Catch2's test discovery run the .exe files under Wine (scripts/windows/wine-run.sh).
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/../../scripts/windows/wine-run.sh)
