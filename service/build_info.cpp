#include "service/build_info.h"

// The values come from CMake as definitions of this file only, so a new commit recompiles nothing else.
namespace edgeprov::service {

const BuildInfo& build_info() {
  static const BuildInfo info{
      .version = EDGEPROV_VERSION,
      .commit = sizeof(EDGEPROV_COMMIT) > 1 ? std::optional<std::string>(EDGEPROV_COMMIT) : std::nullopt,
      .platform = EDGEPROV_PLATFORM,
  };
  return info;
}

}  // namespace edgeprov::service
