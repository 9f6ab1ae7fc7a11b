#include <fmt/format.h>

#include "tests/unit/config/platform.h"

namespace edgeprov::test {

std::optional<std::string> file_access(const std::filesystem::path& file) {
  const auto bits = std::filesystem::status(file).permissions() & std::filesystem::perms::mask;
  return fmt::format("{:04o}", static_cast<unsigned>(bits));
}

std::string expected_file_access(config::FileAccess access) {
  return access != config::FileAccess::shared_readable ? "0600" : "0644";
}

config::Defaults expected_defaults() {
  return {.config_file = "/etc/edgeprov/config.toml",
          .state_dir = "/var/lib/edgeprov",
          .ipc_endpoint = "/run/edgeprov/edgeprov.sock",
          .tcti = "device:/dev/tpmrm0",
          .start_service = "sudo systemctl enable --now edgeprovd"};
}

std::string absolute_path(std::string_view posix_path) { return std::string(posix_path); }

std::string with_native_paths(const std::string& toml) { return toml; }

void make_non_file_entry(const std::filesystem::path& file) {
  std::filesystem::create_symlink(file.parent_path() / "nowhere", file);
}

}  // namespace edgeprov::test
