// ctl/main.cpp — edgeprovctl's entry point: global options, one subcommand, the exit code it returns.
#include <CLI/CLI.hpp>

#include "ctl/commands.h"
#include "ctl/exit_codes.h"

int main(int argc, char** argv) {
  using namespace edgeprov::ctl;
  CLI::App app{"edgeprovctl — control the edgeprov provisioning service", "edgeprovctl"};
  GlobalOptions global;
  Runner run;
  app.add_option("--endpoint", global.endpoint, "the service's local endpoint (default: from the configuration)");
  app.add_option("--config", global.config_file, "configuration file (default: the platform's)");
  app.add_flag("--json", global.json, "print the raw result");
  app.fallthrough();
  app.require_subcommand(1);
  add_init_command(app, global, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_code::ok : exit_code::usage;
  }
  return run ? run() : exit_code::usage;
}
