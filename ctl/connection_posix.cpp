#include "ctl/connection.h"

namespace edgeprov::ctl {

std::string start_service_hint(const std::filesystem::path& config_file) {
  return "is edgeprovd running? Start it with `systemctl start edgeprovd`, or in the foreground with "
         "`edgeprovd --config " + config_file.string() + "`";
}

}  // namespace edgeprov::ctl
