#include "tests/integration/ctl/ctl_daemon.h"

#include "tests/support/notify.h"

#include <stdexcept>

#include <fmt/format.h>

namespace edgeprov::test {

namespace fs = std::filesystem;

std::string unreachable_dps() { return fmt::format("https://127.0.0.1:{}/", free_loopback_port()); }

std::string ctl_config(const fs::path& dir, const CtlDaemonOptions& options) {
  std::string principals;
  for (const auto& name : options.identity_principals) principals += (principals.empty() ? "\"" : ", \"") + name + "\"";
  const std::string attestation =
      options.tpm_tcti ? fmt::format("method = \"tpm\"\n\n[tpm]\ntcti = \"{}\"\n", *options.tpm_tcti)
                       : fmt::format("method = \"symmetric_key\"\nregistration_id = \"{}\"\n"
                                     "symmetric_key = {{ value = \"{}\" }}\n",
                                     ctl_registration_id, ctl_device_key);
  std::string text = fmt::format(R"([provisioning]
source = "dps"
global_endpoint = "{}"
id_scope = "{}"

[provisioning.attestation]
{}
[edgeprov.dps]
transport = "https"
)",
                                 options.global_endpoint, options.id_scope, attestation);
  if (options.trusted_ca) text += fmt::format("trusted_ca = \"{}\"\n", options.trusted_ca->string());
  text += fmt::format(R"(
[edgeprov.ipc]
endpoint = "{0}/edgeprov.sock"
identity_principals = [{1}]

[edgeprov.state]
dir = "{0}/state"

[edgeprov.log]
level = "debug"
)",
                      dir.string(), principals);
  return text;
}

CtlDaemon::CtlDaemon(CtlDaemonOptions options) {
  fs::create_directories(dir_ / "state");
  write_file(config_file(), ctl_config(dir_.path(), options));
  process_ = start_until_ready({.argv = {(bin_dir() / "edgeprovd").string(), "--config", config_file().string()},
                                .log_file = dir_ / "edgeprovd.log"},
                               dir_ / "notify.sock");
}

CtlDaemon::~CtlDaemon() { process_->stop(); }

RunResult CtlDaemon::ctl(std::vector<std::string> args, std::optional<std::string> user,
                         std::chrono::seconds timeout) const {
  args.insert(args.begin(), {"--endpoint", socket().string()});
  return edgeprovctl(std::move(args), std::move(user), timeout);
}

RunResult edgeprovctl(std::vector<std::string> args, std::optional<std::string> user, std::chrono::seconds timeout) {
  args.insert(args.begin(), (bin_dir() / "edgeprovctl").string());
  return run(ProcessOptions{.argv = std::move(args), .run_as_user = std::move(user)}, timeout);
}

}  // namespace edgeprov::test
