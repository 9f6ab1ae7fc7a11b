// tests/unit/config/platform.h — what the configuration tests expect of the OS they run on: how it reports
// who may read a file, where the defaults point, and absolute paths in its own form. Leaves:
// platform_posix.cpp, platform_windows.cpp. The tests above them stay free of #ifdef.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "edge-config/atomic_file.h"
#include "edge-config/config.h"

namespace edgeprov::test {

// Who may use `file`, as the OS reports it: the permission bits ("0600") on POSIX, the DACL in SDDL on
// Windows. Nothing under Wine, which keeps no file ACLs (it reports ones made up from the Unix mode).
std::optional<std::string> file_access(const std::filesystem::path& file);

// What write_file_atomically must leave for `access`, in the form file_access() reports.
std::string expected_file_access(config::FileAccess access);

// The platform defaults as the tests know them, found independently of config::defaults() (on Windows
// from the ProgramData environment variable, where the code asks the known-folder API).
config::Defaults expected_defaults();

// An absolute POSIX path ("/tmp/x") as an absolute path of this platform ("C:/tmp/x" on Windows).
std::string absolute_path(std::string_view posix_path);

// TOML text with every string value that starts with "/" rewritten by absolute_path().
std::string with_native_paths(const std::string& toml);

// Puts something at `file` that is not a regular file, which must count as existing: a dangling symlink
// on POSIX; a directory on Windows, where a symlink needs a privilege a test cannot count on.
void make_non_file_entry(const std::filesystem::path& file);

}  // namespace edgeprov::test
