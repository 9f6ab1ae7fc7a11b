// config.toml as edgeprovd and edgeprovctl load it: any text either gives a Config or a ConfigError
// (whose message names the file); no other exception may escape config::parse.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edge-config/config.h"
#include "tests/fuzz/fuzz_check.h"

using namespace edgeprov;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const config::Config config = config::parse(text, "/etc/edgeprov/config.toml");
    FUZZ_CHECK(!config.provisioning.id_scope.empty());
    FUZZ_CHECK(!config.ipc.endpoint.empty());
  } catch (const config::ConfigError& error) {
    FUZZ_CHECK(std::string_view(error.what()).starts_with("/etc/edgeprov/config.toml"));
  }
  return 0;
}
