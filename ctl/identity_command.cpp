// edgeprovctl identity: the device's hub identity (administrators and [edgeprov.ipc] identity_principals).
// `sas-token` prints the token alone on stdout, for a pipe or a variable; it is never logged or echoed
// anywhere else.
#include <iostream>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>

#include "ctl/commands.h"
#include "ctl/connection.h"
#include "ctl/exit_codes.h"
#include "ctl/output.h"

namespace edgeprov::ctl {

namespace {

struct SasTokenOptions {
  std::optional<int> lifetime_seconds;
};

int run_show(const GlobalOptions& global) {
  auto answer = call_service(global, "identity.get");
  if (auto* code = std::get_if<int>(&answer)) return *code;
  const auto& identity = std::get<nlohmann::json>(answer);
  std::cout << (global.json ? json_text(identity) : format_identity(identity));
  return exit_code::ok;
}

int run_sas_token(const GlobalOptions& global, const SasTokenOptions& options) {
  nlohmann::json params = nlohmann::json::object();
  if (options.lifetime_seconds) params["lifetimeSeconds"] = *options.lifetime_seconds;
  auto answer = call_service(global, "identity.sasToken", params);
  if (auto* code = std::get_if<int>(&answer)) return *code;
  const auto& result = std::get<nlohmann::json>(answer);
  if (global.json) {
    std::cout << json_text(result);
    return exit_code::ok;
  }
  const auto token = result.find("token");
  if (token == result.end() || !token->is_string()) {
    std::cerr << "edgeprovctl: identity.sasToken: the service's answer holds no token; is edgeprovctl older "
                 "than edgeprovd? Try --json\n";
    return exit_code::failure;
  }
  std::cout << token->get<std::string>() << "\n";
  return exit_code::ok;
}

}  // namespace

void add_identity_command(CLI::App& app, const GlobalOptions& global, Runner& run) {
  auto* identity = app.add_subcommand(
      "identity", "the device's hub identity (administrators and [edgeprov.ipc] identity_principals)");
  identity->require_subcommand(1);

  auto* show = identity->add_subcommand("show", "the hub, device id and how the device authenticates");
  show->callback([&global, &run] { run = [&global] { return run_show(global); }; });

  auto options = std::make_shared<SasTokenOptions>();
  auto* sas = identity->add_subcommand(
      "sas-token", "print a SAS token for the device's hub identity, and nothing else, on stdout");
  sas->add_option("--lifetime", options->lifetime_seconds, "seconds the token is valid (60-86400, default 3600)")
      ->check(CLI::Range(60, 86400));
  sas->callback([&global, &run, options] { run = [&global, options] { return run_sas_token(global, *options); }; });
}

}  // namespace edgeprov::ctl
