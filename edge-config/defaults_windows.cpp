// edge-config/defaults_windows.cpp — where edgeprov keeps its files on Windows: under the ProgramData
// known folder (asked of the shell, never hard-coded to C:), and the TPM through TBS.
#include "edge-config/config.h"

#include <cstdlib>

#include <windows.h>
#include <knownfolders.h>
#include <shlobj.h>

namespace edgeprov::config {
namespace {

std::filesystem::path program_data() {
  PWSTR path = nullptr;
  if (SUCCEEDED(SHGetKnownFolderPath(FOLDERID_ProgramData, KF_FLAG_DEFAULT, nullptr, &path))) {
    std::filesystem::path result(path);
    CoTaskMemFree(path);
    return result;
  }
  CoTaskMemFree(path);  // documented: free it even on failure
  if (const wchar_t* env = _wgetenv(L"ProgramData"); env != nullptr && *env != L'\0') return env;
  return L"C:\\ProgramData";
}

}  // namespace

const Defaults& defaults() {
  static const Defaults values = [] {
    const std::filesystem::path base = program_data() / L"edgeprov";
    return Defaults{
        .config_file = base / L"config.toml",
        .state_dir = base / L"state",
        .ipc_endpoint = R"(\\.\pipe\edgeprov)",
        .tcti = "tbs",
        .start_service = "Start-Service edgeprov",
        .service_account = "",
        .mqtt_system_trust = false,
    };
  }();
  return values;
}

}  // namespace edgeprov::config
