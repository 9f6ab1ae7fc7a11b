// edge-config/atomic_file.h — writes a small file (configuration, persisted state) so that readers see
// either the old content or the whole new content, never a torn file, and never replaces one by accident.
// Platform leaves: atomic_file_posix.cpp (mkstemp, fsync, link/rename), atomic_file_windows.cpp
// (CreateFileW with an explicit DACL, FlushFileBuffers, MoveFileExW).
#pragma once
#include <filesystem>
#include <stdexcept>
#include <string_view>

namespace edgeprov::config {

enum class FileAccess {
  shared_readable,  // POSIX 0644; Windows SYSTEM + Administrators full, Users read
  owner_only,       // POSIX 0600; Windows SYSTEM + Administrators only — for files that hold a secret
  // A secret the service must read (a configuration with a key): as owner_only, and on POSIX, when written
  // by root while the service's account (Defaults::service_account) exists, owned by that account — root
  // reads everything anyway, and the service runs as that account.
  service_secret,
};

// The target exists and replacing it was not asked for.
class FileExistsError : public std::runtime_error {
 public:
  explicit FileExistsError(const std::filesystem::path& file)
      : std::runtime_error(file.string() + " already exists"), file_(file) {}
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

// Creates the parent directory if needed, writes `content` to a temporary file beside `file` with the
// given access, flushes it to disk and moves it into place. Without `replace`, an existing `file` is left
// untouched and FileExistsError is thrown (checked atomically, not only before writing). Other failures
// throw std::system_error naming the path; the temporary file never outlives the call.
void write_file_atomically(const std::filesystem::path& file, std::string_view content, FileAccess access,
                           bool replace);

}  // namespace edgeprov::config
