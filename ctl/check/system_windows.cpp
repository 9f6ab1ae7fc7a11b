// On Windows, access is decided by ACLs and token groups, not modes: the POSIX facts are not gathered and
// the checks that need them say so (posix_permissions() is false).
#include <windows.h>

#include <system_error>

#include "ctl/check/system.h"

namespace edgeprov::ctl::check {

bool posix_permissions() { return false; }

FileFacts file_facts(const std::filesystem::path& path) {
  FileFacts facts;
  facts.path = path;
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  facts.exists = !ec && std::filesystem::exists(status);
  facts.directory = facts.exists && std::filesystem::is_directory(status);
  return facts;
}

std::vector<FileFacts> path_chain(const std::filesystem::path& path) { return {file_facts(path)}; }
std::optional<Account> account(const std::string&) { return std::nullopt; }
std::optional<std::uint32_t> group_id(const std::string&) { return std::nullopt; }
std::string group_name(std::uint32_t gid) { return std::to_string(gid); }
Account this_process() { return {}; }

int connect_error(const std::string& endpoint) {
  const std::wstring name(endpoint.begin(), endpoint.end());
  if (WaitNamedPipeW(name.c_str(), 0) || GetLastError() == ERROR_SEM_TIMEOUT) return 0;
  return static_cast<int>(GetLastError());
}

std::string error_text(int error) { return std::system_category().message(error); }

}  // namespace edgeprov::ctl::check
