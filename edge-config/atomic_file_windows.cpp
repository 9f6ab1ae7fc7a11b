// edge-config/atomic_file_windows.cpp — temp file created with an explicit protected DACL (ProgramData's
// inherited ACL lets every user read; a file with a key must not), FlushFileBuffers, then MoveFileExW:
// with MOVEFILE_REPLACE_EXISTING when replacing, without it otherwise, so an existing file is never
// clobbered (the move fails with ERROR_ALREADY_EXISTS). The moved file keeps the temp file's DACL.
#include "edge-config/atomic_file.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <system_error>

#include <windows.h>
#include <sddl.h>

namespace edgeprov::config {
namespace {

[[noreturn]] void throw_last_error(const std::string& what, const std::filesystem::path& path) {
  const DWORD error = GetLastError();
  throw std::system_error(static_cast<int>(error), std::system_category(), what + " " + path.string());
}

// P = protected (no inherited entries); SY = LocalSystem, BA = Administrators, BU = Users.
const wchar_t* sddl_for(FileAccess access) {
  return access != FileAccess::shared_readable ? L"D:P(A;;FA;;;SY)(A;;FA;;;BA)"
                                          : L"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)";
}

class SecurityDescriptor {
 public:
  explicit SecurityDescriptor(FileAccess access) {
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl_for(access), SDDL_REVISION_1, &sd_, nullptr))
      throw_last_error("cannot build the security descriptor for", L"config.toml");
  }
  ~SecurityDescriptor() { LocalFree(sd_); }
  SecurityDescriptor(const SecurityDescriptor&) = delete;
  SecurityDescriptor& operator=(const SecurityDescriptor&) = delete;
  PSECURITY_DESCRIPTOR get() const { return sd_; }

 private:
  PSECURITY_DESCRIPTOR sd_ = nullptr;
};

class TempFile {
 public:
  TempFile(const std::filesystem::path& target, FileAccess access) {
    static std::atomic<unsigned> counter{0};
    SecurityDescriptor sd(access);
    SECURITY_ATTRIBUTES sa{sizeof(SECURITY_ATTRIBUTES), sd.get(), FALSE};
    for (int attempt = 0; attempt < 100; ++attempt) {
      path_ = target.parent_path() /
              (target.filename().wstring() + L".tmp-" + std::to_wstring(GetCurrentProcessId()) + L"-" +
               std::to_wstring(counter++));
      handle_ = CreateFileW(path_.c_str(), GENERIC_WRITE, 0, &sa, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
      if (handle_ != INVALID_HANDLE_VALUE) return;
      if (GetLastError() != ERROR_FILE_EXISTS) break;
    }
    const auto failed = path_;
    path_.clear();
    throw_last_error("cannot create the temporary file", failed);
  }
  ~TempFile() {
    if (handle_ != INVALID_HANDLE_VALUE) CloseHandle(handle_);
    if (!path_.empty()) DeleteFileW(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  HANDLE handle() const { return handle_; }
  const std::filesystem::path& path() const { return path_; }
  void close() {
    CloseHandle(handle_);
    handle_ = INVALID_HANDLE_VALUE;
  }
  void forget() { path_.clear(); }

 private:
  HANDLE handle_ = INVALID_HANDLE_VALUE;
  std::filesystem::path path_;
};

}  // namespace

void write_file_atomically(const std::filesystem::path& file, std::string_view content, FileAccess access,
                           bool replace) {
  const std::filesystem::path target = std::filesystem::absolute(file);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) throw std::system_error(ec, "cannot create the directory " + target.parent_path().string());
  if (!replace && std::filesystem::exists(std::filesystem::symlink_status(target))) throw FileExistsError(file);

  TempFile temp(target, access);
  while (!content.empty()) {
    const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(content.size(), 1u << 20));
    DWORD written = 0;
    if (!WriteFile(temp.handle(), content.data(), chunk, &written, nullptr))
      throw_last_error("cannot write", temp.path());
    content.remove_prefix(written);
  }
  if (!FlushFileBuffers(temp.handle())) throw_last_error("cannot flush", temp.path());
  temp.close();

  const DWORD flags = MOVEFILE_WRITE_THROUGH | (replace ? MOVEFILE_REPLACE_EXISTING : 0);
  if (!MoveFileExW(temp.path().c_str(), target.c_str(), flags)) {
    const DWORD error = GetLastError();
    if (!replace && (error == ERROR_ALREADY_EXISTS || error == ERROR_FILE_EXISTS)) throw FileExistsError(file);
    SetLastError(error);
    throw_last_error(replace ? "cannot replace" : "cannot create", target);
  }
  temp.forget();
}

}  // namespace edgeprov::config
