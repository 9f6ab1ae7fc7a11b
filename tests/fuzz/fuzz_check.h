// tests/fuzz/fuzz_check.h — what every harness shares: an invariant that must hold whatever the input
// (a broken one is a crash libFuzzer reports with the input that caused it). fuzz_init.cpp, linked into
// every harness, keeps the log quiet.
#pragma once
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                   \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (false)
