// edgeprovctl version: this client's version and the running service's.
#include <iostream>

#include <CLI/CLI.hpp>

#include "ctl/commands.h"
#include "ctl/connection.h"
#include "ctl/exit_codes.h"
#include "ctl/output.h"
#include "service/build_info.h"

namespace edgeprov::ctl {

void add_version_command(CLI::App& app, const GlobalOptions& global, Runner& run) {
  auto* command = app.add_subcommand("version", "show the versions of edgeprovctl and of the running edgeprovd");
  command->callback([&global, &run] {
    run = [&global] {
      const auto& client = service::build_info();
      auto answer = call_service(global, "version");
      if (auto* code = std::get_if<int>(&answer)) {
        if (!global.json) std::cout << "edgeprovctl " << client.version << "\n";
        return *code;
      }
      const auto& version = std::get<nlohmann::json>(answer);
      std::cout << (global.json ? json_text(version) : format_version(client.version, version));
      return exit_code::ok;
    };
  });
}

}  // namespace edgeprov::ctl
