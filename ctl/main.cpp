// edgeprovctl: the control client of edgeprovd. Each subcommand lives in its own file (ctl/commands.h).
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "ctl/commands.h"
#include "ctl/exit_codes.h"

int main(int argc, char** argv) {
  using namespace edgeprov::ctl;
  GlobalOptions global;
  Runner run;
  CLI::App app{"edgeprovctl: control and observe edgeprovd, the edgeprov provisioning service", "edgeprovctl"};
  app.add_option("--endpoint", global.endpoint,
                 "the service's endpoint (default: [edgeprov.ipc] endpoint of the configuration, else the "
                 "platform's)");
  app.add_option("--config", global.config_file,
                 "configuration file (default: the platform's, e.g. /etc/edgeprov/config.toml)");
  app.add_flag("--json", global.json, "print the service's answer as JSON, exactly as received");
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too: `status --json`

  add_init_command(app, global, run);
  add_status_command(app, global, run);
  add_version_command(app, global, run);
  add_logs_command(app, global, run);
  add_tpm_command(app, global, run);
  add_reprovision_command(app, global, run);
  add_wait_command(app, global, run);
  add_identity_command(app, global, run);
  add_check_command(app, global, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_code::ok : exit_code::usage;
  }
  try {
    return run();
  } catch (const std::exception& e) {
    std::cerr << "edgeprovctl: " << e.what() << "\n";
    return exit_code::failure;
  }
}
