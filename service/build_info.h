// service/build_info.h — what this build of edgeprov is: the `version` method and `status.service`.
#pragma once
#include <optional>
#include <string>

namespace edgeprov::service {

struct BuildInfo {
  std::string version;                // the project version, e.g. "0.1.0"
  std::optional<std::string> commit;  // the git commit the build was configured from, when known
  std::string platform;               // e.g. "linux-x86_64", "windows-amd64"
};
const BuildInfo& build_info();

}  // namespace edgeprov::service
