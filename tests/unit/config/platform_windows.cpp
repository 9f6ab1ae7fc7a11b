#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <cstdlib>
#include <regex>
#include <stdexcept>

#include "tests/unit/config/platform.h"

namespace edgeprov::test {

namespace {
// Wine's ntdll exports wine_get_version; Windows' does not.
bool under_wine() { return GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != nullptr; }
}  // namespace

std::optional<std::string> file_access(const std::filesystem::path& file) {
  if (under_wine()) return std::nullopt;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  const DWORD code = GetNamedSecurityInfoW(file.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr,
                                           nullptr, nullptr, &descriptor);
  if (code != ERROR_SUCCESS) throw std::runtime_error("GetNamedSecurityInfoW failed: " + std::to_string(code));
  char* sddl = nullptr;
  const BOOL converted = ConvertSecurityDescriptorToStringSecurityDescriptorA(descriptor, SDDL_REVISION_1,
                                                                              DACL_SECURITY_INFORMATION, &sddl, nullptr);
  LocalFree(descriptor);
  if (!converted) throw std::runtime_error("ConvertSecurityDescriptorToStringSecurityDescriptorA failed");
  std::string text(sddl);
  LocalFree(sddl);
  return text;
}

// Protected (nothing inherited from ProgramData); SYSTEM and Administrators full control; Users read
// only unless the file holds a secret.
std::string expected_file_access(config::FileAccess access) {
  return access != config::FileAccess::shared_readable ? "D:P(A;;FA;;;SY)(A;;FA;;;BA)"
                                                  : "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)";
}

config::Defaults expected_defaults() {
  const char* program_data = std::getenv("ProgramData");
  const std::filesystem::path base = std::filesystem::path(program_data ? program_data : "C:\\ProgramData") / "edgeprov";
  return {.config_file = base / "config.toml",
          .state_dir = base / "state",
          .ipc_endpoint = R"(\\.\pipe\edgeprov)",
          .tcti = "tbs",
          .start_service = "Start-Service edgeprov"};
}

std::string absolute_path(std::string_view posix_path) { return "C:" + std::string(posix_path); }

std::string with_native_paths(const std::string& toml) { return std::regex_replace(toml, std::regex(R"(= "/)"), "= \"C:/"); }

void make_non_file_entry(const std::filesystem::path& file) { std::filesystem::create_directory(file); }

}  // namespace edgeprov::test
