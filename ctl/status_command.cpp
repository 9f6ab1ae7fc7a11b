// edgeprovctl status: the service's provisioning state; the exit code says provisioned (0) or not (3).
#include <iostream>

#include <CLI/CLI.hpp>

#include "ctl/commands.h"
#include "ctl/connection.h"
#include "ctl/outcome.h"
#include "ctl/output.h"

namespace edgeprov::ctl {

void add_status_command(CLI::App& app, const GlobalOptions& global, Runner& run) {
  auto* command = app.add_subcommand(
      "status", "show the provisioning state; exit code 0 when provisioned, 3 when not, 4 when the service is not running");
  command->callback([&global, &run] {
    run = [&global] {
      auto answer = call_service(global, "status");
      if (auto* code = std::get_if<int>(&answer)) return *code;
      const auto& status = std::get<nlohmann::json>(answer);
      std::cout << (global.json ? json_text(status) : format_status(status));
      return status_exit_code(status);
    };
  });
}

}  // namespace edgeprov::ctl
