// edgeprovctl check: is this device ready to provision and to keep its identity? Each check says ok,
// warning or error (with the cause and the fix), or why it was skipped; --json for scripts. Runs with or
// without the service. Exit 0 when nothing is wrong, 10 with warnings only, 11 with an error.
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "ctl/check/checks.h"
#include "ctl/check/facts.h"
#include "ctl/commands.h"
#include "ctl/connection.h"
#include "ctl/exit_codes.h"

namespace edgeprov::ctl {
namespace {

struct CheckOptions {
  std::vector<std::string> only;
  unsigned timeout_seconds = 15;
};

int run_check(const GlobalOptions& global, const CheckOptions& options) {
  for (const auto& selector : options.only) {
    if (check::select({selector}).empty()) {
      std::string ids;
      for (const auto& c : check::catalogue()) ids += (ids.empty() ? "" : ", ") + std::string(c.id);
      std::cerr << "edgeprovctl: check --only " << selector << ": no such check or group; the checks are " << ids
                << "\n";
      return exit_code::usage;
    }
  }
  const auto selected = check::select(options.only);
  unsigned needs = 0;
  for (const auto& c : selected) needs |= c.needs;
  const auto facts = check::gather({.config_file = config_file(global),
                                    .endpoint = global.endpoint,
                                    .timeout = std::chrono::seconds(options.timeout_seconds)},
                                   needs);
  std::vector<check::Result> results;
  for (const auto& c : selected) results.push_back(check::evaluate(c.id, facts));
  std::cout << (global.json ? check::results_json(results).dump() + "\n" : check::results_text(results));
  return check::exit_code_of(results);
}

}  // namespace

void add_check_command(CLI::App& app, const GlobalOptions& global, Runner& run) {
  auto options = std::make_shared<CheckOptions>();
  auto* command = app.add_subcommand(
      "check", "check the configuration, the TPM, the way to DPS, the persisted state and the service; exit 0 when "
               "all is well, 10 with warnings, 11 with errors");
  command->add_option("--only", options->only,
                      "run only these checks or groups (repeatable): config, service, ipc, tpm, dps, state, or an id "
                      "such as tpm.lockout");
  command->add_option("--timeout", options->timeout_seconds, "seconds for each network step and service call (default 15)")
      ->check(CLI::Range(1u, 300u));
  command->callback([&global, &run, options] { run = [&global, options] { return run_check(global, *options); }; });
}

}  // namespace edgeprov::ctl
