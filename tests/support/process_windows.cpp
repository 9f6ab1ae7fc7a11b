// The Windows build of the test support: TempDir creation here, the other file helpers in files.cpp (TempDir,
// read_file, write_file, bin_dir, source_dir). wait_for_path (inotify) is POSIX only, like the processes. Child processes and loopback ports are
// the integration tests' business, and those run on Linux: the Windows programs are driven from Linux
// under Wine by tests/windows/, so Process, run() and the port helpers have no Windows leaf.
#include "tests/support/process.h"

#include <windows.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace edgeprov::test {
namespace fs = std::filesystem;
using namespace std::chrono;

TempDir::TempDir() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("edgeprov-test-" + std::to_string(::GetCurrentProcessId()) + "-" +
                                       std::to_string(counter++) + "-" + std::to_string(rd() % 100000));
  fs::create_directories(path_);
}

}  // namespace edgeprov::test
