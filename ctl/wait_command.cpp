// edgeprovctl wait: follows the service's status (`subscribe`: the status now, then every change) until
// the device is provisioned (0), provisioning failed for good (3) or --timeout runs out (8). A service that
// is not up yet is waited for too, so `wait` can follow `systemctl start edgeprovd` at once.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "ctl/commands.h"
#include "ctl/connection.h"
#include "ctl/exit_codes.h"
#include "ctl/outcome.h"
#include "ctl/output.h"
#include "edge-config/config.h"
#include "ipc/client.h"

namespace edgeprov::ctl {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How soon a service that does not answer yet is asked again.
constexpr milliseconds reconnect_interval{500};
// One call or wait for a change never lasts longer than this, so a wedged connection is replaced well
// before the deadline.
constexpr milliseconds call_timeout{5000};

struct WaitOptions {
  double timeout_seconds = 300;
};

milliseconds left_until(Clock::time_point deadline) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

int run_wait(const GlobalOptions& global, const WaitOptions& options) {
  auto resolved = endpoint_or_exit(global);
  if (const int* code = std::get_if<int>(&resolved)) return *code;
  const std::string endpoint = std::get<std::string>(std::move(resolved));
  const auto deadline = Clock::now() + milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
  const std::string timeout_text = fmt::format("{:g} s", options.timeout_seconds);

  std::optional<ipc::Client> client;
  std::optional<nlohmann::json> last_status;
  std::string last_problem;  // why the last connection got no answer
  bool said_waiting = false;
  for (;;) {
    try {
      const milliseconds budget = std::clamp(left_until(deadline), milliseconds(1), call_timeout);
      if (!client) {
        client.emplace(endpoint, budget);
        client->set_timeout(budget);
        last_status = client->call("subscribe");
      } else {
        auto change = client->next_notification(budget);
        if (!change) {
          if (left_until(deadline) == milliseconds(0)) break;
          continue;  // nothing changed within this slice
        }
        if (change->method != "status.changed") continue;
        last_status = change->params;
      }
      switch (wait_verdict(*last_status)) {
        case WaitVerdict::provisioned:
          std::cout << (global.json ? json_text(*last_status) : format_provisioned(*last_status));
          return exit_code::ok;
        case WaitVerdict::failed:
          if (global.json) std::cout << json_text(*last_status);
          std::cerr << "edgeprovctl: provisioning failed\n" << format_not_provisioned(*last_status);
          return exit_code::not_provisioned;
        case WaitVerdict::pending:
          break;
      }
    } catch (const ipc::ClientError& e) {
      if (e.kind() == ipc::ClientError::Kind::rpc) {
        std::cerr << "edgeprovctl: status: " << e.what() << "\n";
        return e.rpc_error() ? rpc_error_exit_code(*e.rpc_error()) : exit_code::failure;
      }
      // Not up yet, restarting, or a connection that broke: connect again shortly.
      const bool was_connected = client.has_value() && last_status.has_value();
      client.reset();
      last_problem = e.what();
      if (!said_waiting && !was_connected) {
        std::cerr << "edgeprovctl: waiting for edgeprovd at " << endpoint << " (" << last_problem << ")\n";
        said_waiting = true;
      }
      const milliseconds left = left_until(deadline);
      if (left == milliseconds(0)) break;
      std::this_thread::sleep_for(std::min(left, reconnect_interval));
      continue;
    }
    if (left_until(deadline) == milliseconds(0)) break;
  }

  if (!last_status) {
    std::cerr << "edgeprovctl: nothing answered at " << endpoint << " within " << timeout_text << ": "
              << last_problem << "\n  " << start_service_hint(config_file(global)) << "\n";
    return exit_code::timeout;
  }
  if (global.json) std::cout << json_text(*last_status);
  std::cerr << "edgeprovctl: not provisioned within " << timeout_text << ": state "
            << last_status->value("state", "?") << "\n"
            << format_not_provisioned(*last_status);
  return exit_code::timeout;
}

}  // namespace

void add_wait_command(CLI::App& app, const GlobalOptions& global, Runner& run) {
  auto options = std::make_shared<WaitOptions>();
  auto* command = app.add_subcommand(
      "wait", "wait until the device is provisioned: exit 0 then, 3 when provisioning failed, 8 when --timeout ran out");
  command->add_option("--timeout", options->timeout_seconds,
                      "seconds to wait, for the service to answer too (default 300)")
      ->check(CLI::PositiveNumber);
  command->callback([&global, &run, options] { run = [&global, options] { return run_wait(global, *options); }; });
}

}  // namespace edgeprov::ctl
