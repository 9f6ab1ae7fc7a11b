// edgeprovctl reprovision: a fresh DPS registration now (administrators only). Waits for the attempt's
// outcome unless --no-wait; the exit code says how it ended (docs/edgeprovctl.md).
#include <chrono>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "ctl/commands.h"
#include "ctl/connection.h"
#include "ctl/exit_codes.h"
#include "ctl/outcome.h"
#include "ctl/output.h"

namespace edgeprov::ctl {

namespace {

struct ReprovisionOptions {
  bool no_wait = false;
  double timeout_seconds = 300;
};

int run_reprovision(const GlobalOptions& global, const ReprovisionOptions& options) {
  CallOptions call;
  call.timeout = std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
  call.timeout_exit = exit_code::timeout;
  call.timeout_hint =
      "the registration goes on in edgeprovd: `edgeprovctl wait` waits for it, `edgeprovctl status` shows it";
  call.on_rpc_error = [&global](const ipc::RpcError& error) {
    if (error.code == ipc::errc::provisioning_failed) {
      std::cerr << "edgeprovctl: " << format_provisioning_failure(error.data, error.message);
      if (global.json) {
        std::cout << json_text({{"code", error.code}, {"message", error.message}, {"data", error.data}});
      }
    } else {
      std::cerr << "edgeprovctl: reprovision: " << error.message << "\n";
    }
    return rpc_error_exit_code(error);
  };
  auto answer = call_service(global, "reprovision", {{"wait", !options.no_wait}}, call);
  if (auto* code = std::get_if<int>(&answer)) return *code;
  const auto& status = std::get<nlohmann::json>(answer);
  if (global.json) {
    std::cout << json_text(status);
  } else if (options.no_wait) {
    std::cout << "registration started (state " << status.value("state", "?")
              << "); `edgeprovctl wait` waits for its outcome\n";
  } else {
    std::cout << format_provisioned(status);
  }
  return options.no_wait ? exit_code::ok : status_exit_code(status);
}

}  // namespace

void add_reprovision_command(CLI::App& app, const GlobalOptions& global, Runner& run) {
  auto options = std::make_shared<ReprovisionOptions>();
  auto* command = app.add_subcommand(
      "reprovision",
      "register with DPS again now (administrators only); exit 0 once provisioned, 1 when the attempt failed, "
      "7 when the TPM failed, 8 when --timeout ran out");
  command->add_flag("--no-wait", options->no_wait, "return once the registration has started");
  command->add_option("--timeout", options->timeout_seconds, "seconds to wait for the outcome (default 300)")
      ->check(CLI::PositiveNumber);
  command->callback([&global, &run, options] {
    run = [&global, options] { return run_reprovision(global, *options); };
  });
}

}  // namespace edgeprov::ctl
