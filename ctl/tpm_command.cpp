// edgeprovctl tpm info: the TPM's registration id and endorsement key, ready for a DPS enrollment.
// Asks the service when it runs (it owns the TPM); otherwise, or with --tcti, opens the TPM itself.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "ctl/commands.h"
#include "ctl/connection.h"
#include "ctl/exit_codes.h"
#include "ctl/output.h"
#include "edge-config/config.h"
#include "ipc/client.h"
#include "service/tpm_methods.h"
#include "tpm/device.h"
#include "tpm/json.h"

namespace edgeprov::ctl {
namespace {

struct TpmInfoOptions {
  std::string tcti;  // --tcti: open this TPM directly, without asking the service
};

std::string text(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string("?");
}

// What the SDK's tpm_device_provision prints, then the enrollment command and the TPM's facts.
std::string format_tpm_info(const nlohmann::json& j) {
  const std::string registration_id = text(j, "registrationId");
  const std::string endorsement_key = text(j, "endorsementKey");
  std::string out = fmt::format("Registration ID: {}\nEndorsement Key: {}\n\n", registration_id, endorsement_key);
  out += "Create the individual enrollment (fill in your resource group and DPS name):\n";
  out += fmt::format(
      "az iot dps enrollment create --resource-group RESOURCE_GROUP --dps-name DPS_NAME --enrollment-id {0} "
      "--attestation-type tpm --endorsement-key {1} --registration-id {0} --edge-enabled true\n\n",
      registration_id, endorsement_key);

  const auto tpm = j.value("tpm", nlohmann::json::object());
  const auto lockout = tpm.value("lockout", nlohmann::json::object());
  const auto handles = j.value("handles", nlohmann::json::object());
  const auto handle_row = [&](const char* key) {
    const auto h = handles.value(key, nlohmann::json::object());
    return fmt::format("{} {}", h.value("handle", "?"), h.value("present", false) ? "present" : "absent");
  };
  out += aligned({
      {"tcti", text(j, "tcti")},
      {"manufacturer", fmt::format("{} ({})", tpm.value("manufacturer", "?"), tpm.value("vendor", "?"))},
      {"firmware", tpm.value("firmwareVersion", "?")},
      {"specification", fmt::format("{} level {} revision {}", tpm.value("specFamily", "?"), tpm.value("specLevel", 0),
                                    tpm.value("specRevision", 0))},
      {"lockout", fmt::format("{}{} of {} failed authorizations", lockout.value("inLockout", false) ? "IN LOCKOUT, " : "",
                              lockout.value("counter", 0), lockout.value("maxTries", 0))},
      {"endorsement key", handle_row("endorsementKey")},
      {"storage root key", handle_row("storageRootKey")},
      {"auth key", handle_row("authKey")},
  });
  return out;
}

int print(const GlobalOptions& global, const nlohmann::json& result) {
  std::cout << (global.json ? json_text(result) : format_tpm_info(result));
  return exit_code::ok;
}

int tpm_failure(const std::string& message) {
  std::cerr << "edgeprovctl: " << message << "\n";
  return exit_code::tpm_error;
}

// Opens the TPM in this process with the configuration's [tpm] settings (or the platform defaults when
// there is no configuration file), --tcti taking precedence.
int info_from_tpm(const GlobalOptions& global, const TpmInfoOptions& options) {
  tpm::Options tpm_options;
  const auto file = config_file(global);
  const bool explicit_config = !global.config_file.empty();
  if (explicit_config || std::ifstream(file)) {
    try {
      tpm_options = service::tpm_options(config::load(file));
    } catch (const config::ConfigError& e) {
      std::cerr << "edgeprovctl: " << e.what() << "\n";
      return exit_code::config_error;
    }
  }
  if (!options.tcti.empty()) tpm_options.tcti = options.tcti;
  try {
    tpm::Device device(tpm_options);
    const auto keys = device.keys();
    const auto info = device.info();
    return print(global, tpm::info_json(keys, info, device.options().tcti));
  } catch (const tpm::Error& e) {
    return tpm_failure(e.what());
  }
}

int run_info(const GlobalOptions& global, const TpmInfoOptions& options) {
  if (!options.tcti.empty()) return info_from_tpm(global, options);
  std::string endpoint;
  try {
    endpoint = resolve_endpoint(global);
  } catch (const config::ConfigError& e) {
    std::cerr << "edgeprovctl: " << e.what() << "\n";
    return exit_code::config_error;
  }
  try {
    ipc::Client client(endpoint);
    return print(global, client.call("tpm.info"));
  } catch (const ipc::ClientError& e) {
    switch (e.kind()) {
      case ipc::ClientError::Kind::unreachable:
        // No service: nobody else holds the TPM, so read it here.
        return info_from_tpm(global, options);
      case ipc::ClientError::Kind::rpc:
        if (e.rpc_error() && e.rpc_error()->code == ipc::errc::tpm_unavailable) return tpm_failure(e.rpc_error()->message);
        if (e.rpc_error() && e.rpc_error()->code == ipc::errc::unauthorized) {
          std::cerr << "edgeprovctl: tpm.info: " << e.rpc_error()->message << "\n";
          return exit_code::unauthorized;
        }
        break;
      case ipc::ClientError::Kind::timeout:
      case ipc::ClientError::Kind::protocol:
        break;
    }
    std::cerr << "edgeprovctl: tpm.info at " << endpoint << ": " << e.what() << "\n";
    return exit_code::failure;
  }
}

}  // namespace

void add_tpm_command(CLI::App& app, const GlobalOptions& global, Runner& run) {
  auto* tpm = app.add_subcommand("tpm", "the device's TPM");
  tpm->require_subcommand(1);
  auto options = std::make_shared<TpmInfoOptions>();
  auto* info = tpm->add_subcommand(
      "info", "print the registration id and endorsement key for a DPS enrollment, and the TPM's facts");
  info->add_option("--tcti", options->tcti,
                   "open this TPM directly instead of asking the service, e.g. swtpm:host=127.0.0.1,port=2321");
  info->callback([&global, &run, options] { run = [&global, options] { return run_info(global, *options); }; });
}

}  // namespace edgeprov::ctl
