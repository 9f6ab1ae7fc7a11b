// edgeprovd: the edgeprov service. Everything platform-specific happens in service/lifecycle_*.cpp.
#include <CLI/CLI.hpp>

#include "service/build_info.h"
#include "service/daemon.h"
#include "service/lifecycle.h"

int main(int argc, char** argv) {
  using namespace edgeprov::service;
  LaunchOptions options;
  CLI::App app{"edgeprovd: provisions this device through the Azure Device Provisioning Service with its "
               "TPM and answers edgeprovctl on a local endpoint",
               "edgeprovd"};
  app.add_option("--config", options.config_file,
                 "configuration file (default: the platform's, e.g. /etc/edgeprov/config.toml)");
  app.set_version_flag("--version", build_info().version);
  add_platform_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? exit_code::ok : exit_code::usage;
  }
  return run(options);
}
