// Linked into every harness: the log is turned off before the first input, so executions are spent on
// parsing, not on formatting log lines the emulator and the service write per request.
#include <spdlog/spdlog.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}
