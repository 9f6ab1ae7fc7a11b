// edge-config/atomic_file_posix.cpp — temp file from mkstemp in the target's directory, fchmod to the
// wanted mode (umask must not widen or narrow it), fsync, then rename (replace) or link (no replace:
// link(2) fails with EEXIST atomically, so a file created meanwhile is never clobbered), fsync the dir.
#include "edge-config/atomic_file.h"
#include "edge-config/config.h"

#include <cerrno>
#include <optional>
#include <utility>
#include <vector>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace edgeprov::config {
namespace {

[[noreturn]] void throw_errno(int error, const std::string& what, const std::filesystem::path& path) {
  throw std::system_error(error, std::generic_category(), what + " " + path.string());
}

class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& target) {
    std::string pattern = (target.parent_path() / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
    fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd_ < 0) throw_errno(errno, "cannot create a temporary file beside", target);
    path_ = pattern;
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  void close() {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw_errno(errno, "cannot write", path_);
  }
  void forget() { path_.clear(); }  // moved into place: nothing to remove

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

void write_all(int fd, std::string_view content, const std::filesystem::path& path) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "cannot write", path);
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The uid and primary gid of the service's account, when it exists (the package creates it).
std::optional<std::pair<uid_t, gid_t>> service_account() {
  const std::string& name = defaults().service_account;
  if (name.empty()) return std::nullopt;
  std::vector<char> buffer(16 * 1024);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr)
    return std::nullopt;
  return std::pair{found->pw_uid, found->pw_gid};
}

void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself already happened
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::filesystem::path& file, std::string_view content, FileAccess access,
                           bool replace) {
  const std::filesystem::path target = std::filesystem::absolute(file);
  const std::filesystem::path dir = target.parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::system_error(ec, "cannot create the directory " + dir.string());
  if (!replace && std::filesystem::exists(std::filesystem::symlink_status(target))) throw FileExistsError(file);

  TempFile temp(target);
  const mode_t mode = access == FileAccess::shared_readable ? 0644 : 0600;
  if (::fchmod(temp.fd(), mode) != 0) throw_errno(errno, "cannot set the permissions of", temp.path());
  if (access == FileAccess::service_secret && ::geteuid() == 0) {
    if (const auto owner = service_account(); owner && ::fchown(temp.fd(), owner->first, owner->second) != 0)
      throw_errno(errno, "cannot give the service's account", temp.path());
  }
  write_all(temp.fd(), content, temp.path());
  if (::fsync(temp.fd()) != 0) throw_errno(errno, "cannot flush", temp.path());
  temp.close();

  if (replace) {
    if (::rename(temp.path().c_str(), target.c_str()) != 0) throw_errno(errno, "cannot replace", target);
    temp.forget();
  } else {
    if (::link(temp.path().c_str(), target.c_str()) != 0) {
      const int error = errno;
      if (error == EEXIST) throw FileExistsError(file);
      throw_errno(error, "cannot create", target);
    }
    // `temp` unlinks its own name; the content stays under `target`.
  }
  sync_directory(dir);
}

}  // namespace edgeprov::config
