// The Windows build of the test support: the file and directory helpers that unit tests use (TempDir,
// read_file, write_file, wait_for_path, bin_dir, source_dir). Child processes and loopback ports are
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

bool wait_for_path(const fs::path& path, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  do {
    std::error_code ec;
    if (fs::exists(path, ec)) return true;
    std::this_thread::sleep_for(milliseconds(20));
  } while (steady_clock::now() < deadline);
  return false;
}

TempDir::TempDir() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("edgeprov-test-" + std::to_string(::GetCurrentProcessId()) + "-" +
                                       std::to_string(counter++) + "-" + std::to_string(rd() % 100000));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path bin_dir() {
  if (const char* env = std::getenv("EDGEPROV_BIN_DIR")) return env;
  return EDGEPROV_BIN_DIR;
}

fs::path source_dir() { return EDGEPROV_SOURCE_DIR; }

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace edgeprov::test
