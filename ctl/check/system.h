// ctl/check/system.h — the operating-system facts `edgeprovctl check` judges: files' type, mode and owner,
// accounts and their groups, who this process is, whether a socket accepts a connection. Facts only, no
// verdicts (ctl/check/checks.h). Leaves: system_posix.cpp; system_windows.cpp, where these are not
// how access is decided and every answer says so (`supported` false).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace edgeprov::ctl::check {

struct FileFacts {
  std::filesystem::path path;
  bool exists = false;
  int error = 0;  // errno of stat when it failed for another reason than absence (EACCES on a parent)
  bool directory = false, socket = false, character_device = false;
  std::uint32_t mode = 0;  // permission bits (07777)
  std::uint32_t uid = 0, gid = 0;
  std::string owner, group;  // names, or the number when the database has none
};

struct Account {
  std::string name;
  std::uint32_t uid = 0;
  std::vector<std::uint32_t> gids;  // primary group first, then supplementary groups
};

// Whether these facts mean anything here: POSIX permissions and accounts.
bool posix_permissions();
FileFacts file_facts(const std::filesystem::path& path);
// `path` and every directory above it, from the root down (what must be searchable to reach it).
std::vector<FileFacts> path_chain(const std::filesystem::path& path);
std::optional<Account> account(const std::string& name);  // a user and the groups the database gives it
std::optional<std::uint32_t> group_id(const std::string& name);
std::string group_name(std::uint32_t gid);
Account this_process();  // effective uid and groups
// 0 when a stream connection to the Unix socket or pipe at `endpoint` succeeds; else the errno
// (ENOENT, ECONNREFUSED, EACCES, …). Closes it at once.
int connect_error(const std::string& endpoint);
std::string error_text(int error);  // strerror

}  // namespace edgeprov::ctl::check
