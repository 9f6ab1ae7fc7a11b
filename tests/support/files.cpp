// The platform-neutral part of the test support: files, waiting for a path, where the build put things.
// Creating a TempDir (its name and permissions) is in the platform leaves.
#include "tests/support/process.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace edgeprov::test {
namespace fs = std::filesystem;
using namespace std::chrono;

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
