// bench/ipc/seconds_option.h — the one option the IPC benchmarks take: `--seconds N`, how long each
// measurement runs. Prints the usage and exits 2 on anything else.
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

inline std::chrono::milliseconds seconds_option(int argc, char** argv, std::chrono::milliseconds fallback,
                                                const char* program) {
  std::chrono::milliseconds duration = fallback;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--seconds" && i + 1 < argc) {
      duration = std::chrono::milliseconds(static_cast<long>(std::atof(argv[++i]) * 1000));
    } else {
      std::fprintf(stderr, "usage: %s [--seconds N]\n", program);
      std::exit(2);
    }
  }
  return duration;
}
