#include "ctl/connection.h"

namespace edgeprov::ctl {

std::string start_service_hint(const std::filesystem::path& config_file) {
  return "is edgeprovd running? Start it with `systemctl start edgeprovd`, or in the foreground with "
         "`edgeprovd --config " + config_file.string() + "`";
}

std::string admin_hint() {
  return "run it as root (sudo), or as a member of the group named by [edgeprov.ipc] admin_group";
}

}  // namespace edgeprov::ctl
