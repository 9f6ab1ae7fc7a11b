#include "ctl/connection.h"

namespace edgeprov::ctl {

std::string start_service_hint(const std::filesystem::path& config_file) {
  return "is edgeprovd running? Start it with `Start-Service edgeprov`, or in a console with "
         "`edgeprovd --console --config \"" + config_file.string() + "\"`";
}

}  // namespace edgeprov::ctl
