#include <fmt/format.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "tpm/options.h"
#include "tpm/platform.h"

namespace edgeprov::tpm {

std::string default_tcti() { return "device:/dev/tpmrm0"; }
std::string default_config_file() { return "/etc/edgeprov/config.toml"; }

void quiet_tss_logging() { ::setenv("TSS2_LOG", "all+none", 0); }

std::optional<Error> diagnose_tcti_failure(std::string_view tcti, std::uint32_t rc) {
  if (!tcti.starts_with("device")) return std::nullopt;
  std::string path(tcti.size() > 7 && tcti[6] == ':' ? tcti.substr(7) : std::string_view("/dev/tpmrm0"));
  const std::string command = fmt::format("open the TPM device {}", path);
  struct stat st {};
  const bool found = ::stat(path.c_str(), &st) == 0;
  const int stat_errno = errno;
  if (!found && (stat_errno == EACCES || stat_errno == EPERM)) {
    return Error(ErrorKind::permission_denied, command, rc,
                 fmt::format("permission denied on a directory above {}", path),
                 "run edgeprovd as its service user, or as a user allowed to reach the device");
  }
  if (!found) {
    return Error(ErrorKind::device_missing, command, rc, fmt::format("{} does not exist", path),
                 fmt::format("enable the TPM 2.0 in the firmware setup (TPM, PTT or fTPM) and check that the "
                             "kernel sees it (`ls /sys/class/tpm`); if the TPM is elsewhere, set [tpm] tcti "
                             "(e.g. \"device:/dev/tpmrm0\" or \"swtpm:host=127.0.0.1,port=2321\") in {}",
                             default_config_file()));
  }
  if (::access(path.c_str(), R_OK | W_OK) != 0 && (errno == EACCES || errno == EPERM)) {
    std::string group_name = "tss";
    if (const struct group* g = ::getgrgid(st.st_gid); g != nullptr && g->gr_name != nullptr)
      group_name = g->gr_name;
    return Error(ErrorKind::permission_denied, command, rc,
                 fmt::format("permission denied on {} (owned by group `{}`)", path, group_name),
                 fmt::format("run edgeprovd as its service user, or add this user to the `{0}` group "
                             "(`sudo usermod -aG {0} $USER`, then log in again)",
                             group_name));
  }
  return std::nullopt;
}

}  // namespace edgeprov::tpm
