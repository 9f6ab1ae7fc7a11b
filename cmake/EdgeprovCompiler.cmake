# Warnings, sanitizers and the compiler cache, shared by every target.
find_program(EDGEPROV_CCACHE ccache)
if(EDGEPROV_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER ${EDGEPROV_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${EDGEPROV_CCACHE})
endif()

add_library(edgeprov_warnings INTERFACE)
target_compile_options(edgeprov_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(EDGEPROV_WERROR)
  target_compile_options(edgeprov_warnings INTERFACE -Werror)
endif()

set(EDGEPROV_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined")
if(EDGEPROV_SANITIZE)
  add_compile_options(-fsanitize=${EDGEPROV_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${EDGEPROV_SANITIZE})
endif()

if(EDGEPROV_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "EDGEPROV_FUZZ needs clang and its libFuzzer (Debian: clang, libclang-rt-14-dev): "
                        "configure with cmake --preset fuzz")
  endif()
  # Everything the harnesses link is instrumented for coverage and checked by ASan and UBSan; only the
  # harness executables link libFuzzer's main (tests/fuzz/CMakeLists.txt). UBSan's `function` check is
  # left out: clang 14 cannot emit it for coroutines with debug info ("Cannot represent a difference
  # across sections", the emulator's servers), and it guards only calls through mistyped function pointers.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(WIN32)
  # Windows 8.1 API level: named pipes with PIPE_REJECT_REMOTE_CLIENTS, delayed auto-start services.
  add_compile_definitions(_WIN32_WINNT=0x0603 WIN32_LEAN_AND_MEAN NOMINMAX UNICODE _UNICODE)
endif()

# edgeprov_add_library(name SOURCES...) : a concern's static library with the house settings.
function(edgeprov_add_library name)
  add_library(${name} STATIC ${ARGN})
  target_link_libraries(${name} PRIVATE edgeprov_warnings)
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
endfunction()

# Pick the platform leaf of a concern: foo_posix.cpp or foo_windows.cpp.
function(edgeprov_platform_sources out)
  set(result)
  foreach(stem ${ARGN})
    if(WIN32)
      list(APPEND result ${stem}_windows.cpp)
    else()
      list(APPEND result ${stem}_posix.cpp)
    endif()
  endforeach()
  set(${out} ${result} PARENT_SCOPE)
endfunction()
