// ctl/init_command.cpp — `edgeprovctl init`: the Initialize-IoTEdge -Dps of edgeprov. Turns flags into
// a config.toml through edge-config's writer (render, validate, atomic write, load back) and says what
// to do next. A symmetric key is never printed, not even in an error.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "ctl/commands.h"
#include "ctl/exit_codes.h"
#include "edge-config/atomic_file.h"
#include "edge-config/config.h"
#include "edge-config/writer.h"

namespace edgeprov::ctl {
namespace {

struct InitFlags {
  std::string scope_id;
  std::string registration_id;
  std::string attestation;  // empty: inferred from the credentials given, else tpm
  std::string symmetric_key;  // the key, or "-" for stdin
  std::string symmetric_key_file;
  bool group_key = false;  // the key is an enrollment group's: the service derives the device key
  std::string identity_cert;
  std::string identity_pk;
  std::string global_endpoint;
  std::string tcti;
  std::string transport;
  std::string trusted_ca;
  std::string proxy;
  std::string state_dir;
  std::string log_level;
  bool force = false;
};

struct UsageError {
  std::string message;
};

std::string trimmed(std::string text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.back())) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && is_space(text[start])) ++start;
  return text.substr(start);
}

// The key from the flag, stdin ("-") or a file: so it need not sit in shell history or `ps` output.
Secret read_symmetric_key(const InitFlags& f) {
  std::string key;
  if (!f.symmetric_key_file.empty()) {
    std::ifstream in(f.symmetric_key_file, std::ios::binary);
    if (!in)
      throw UsageError{fmt::format("--symmetric-key-file: cannot read {} — check the path and its permissions",
                                   f.symmetric_key_file)};
    std::ostringstream text;
    text << in.rdbuf();
    key = trimmed(text.str());
  } else if (f.symmetric_key == "-") {
    std::getline(std::cin, key);
    key = trimmed(key);
  } else {
    key = trimmed(f.symmetric_key);
  }
  if (key.empty())
    throw UsageError{"the symmetric key is empty — give the enrollment's Primary Key (base64) with "
                     "--symmetric-key KEY, --symmetric-key - (one line on stdin) or --symmetric-key-file FILE"};
  return Secret{std::move(key)};
}

config::InitOptions to_options(const InitFlags& f, const GlobalOptions& global) {
  const bool has_key = !f.symmetric_key.empty() || !f.symmetric_key_file.empty();
  const bool has_x509 = !f.identity_cert.empty() || !f.identity_pk.empty();
  if (!f.symmetric_key.empty() && !f.symmetric_key_file.empty())
    throw UsageError{"give the key once: --symmetric-key or --symmetric-key-file, not both"};
  if (has_key && has_x509)
    throw UsageError{"a symmetric key and an X.509 identity exclude each other — choose one --attestation"};

  config::InitOptions o;
  o.id_scope = f.scope_id;
  std::string method = f.attestation;
  if (method.empty()) method = has_key ? "symmetric-key" : has_x509 ? "x509" : "tpm";
  if (method == "tpm") {
    o.attestation = config::AttestationMethod::tpm;
    if (has_key || has_x509)
      throw UsageError{"--attestation tpm uses the TPM's own key: leave out --symmetric-key/--identity-cert/"
                       "--identity-pk, or choose --attestation symmetric-key or x509"};
  } else if (method == "symmetric-key" || method == "symmetric_key") {
    o.attestation = config::AttestationMethod::symmetric_key;
    if (!has_key)
      throw UsageError{"--attestation symmetric-key needs the enrollment's key: --symmetric-key KEY, "
                       "--symmetric-key - (read from stdin) or --symmetric-key-file FILE"};
    if (f.registration_id.empty())
      throw UsageError{"--attestation symmetric-key needs --registration-id (the enrollment's registration id)"};
    if (has_x509) throw UsageError{"--identity-cert/--identity-pk belong to --attestation x509"};
    if (f.group_key) o.symmetric_key_source = config::SymmetricKeySource::group;
  } else if (f.group_key) {
    throw UsageError{"--group-key says the symmetric key is an enrollment group's: use it with --attestation "
                     "symmetric-key"};
  } else {  // x509: the option's check admits nothing else
    o.attestation = config::AttestationMethod::x509;
    if (f.identity_cert.empty() || f.identity_pk.empty())
      throw UsageError{"--attestation x509 needs both --identity-cert FILE (PEM certificate) and "
                       "--identity-pk FILE (PEM private key)"};
  }
  if (o.attestation == config::AttestationMethod::tpm && f.group_key)
    throw UsageError{"--group-key says the symmetric key is an enrollment group's: use it with --attestation "
                     "symmetric-key"};
  if (o.attestation == config::AttestationMethod::tpm && f.transport == "mqtt")
    throw UsageError{"--transport mqtt: DPS accepts TPM attestation over HTTPS only — leave out --transport "
                     "(https is the default), or use --attestation symmetric-key or x509 for MQTT"};
  if (!f.registration_id.empty()) o.registration_id = f.registration_id;
  if (!f.identity_cert.empty()) o.identity_cert = f.identity_cert;
  if (!f.identity_pk.empty()) o.identity_pk = f.identity_pk;
  if (!f.global_endpoint.empty()) o.global_endpoint = f.global_endpoint;
  if (!f.tcti.empty()) o.tcti = f.tcti;
  if (f.transport == "mqtt") o.transport = config::Transport::mqtt;
  if (!f.trusted_ca.empty()) o.trusted_ca = f.trusted_ca;
  if (!f.proxy.empty()) o.proxy = f.proxy;
  if (!global.endpoint.empty()) o.ipc_endpoint = global.endpoint;
  if (!f.state_dir.empty()) o.state_dir = f.state_dir;
  if (!f.log_level.empty()) o.log_level = f.log_level;
  // Read last: every other mistake is reported before stdin is consumed.
  if (o.attestation == config::AttestationMethod::symmetric_key) o.symmetric_key = read_symmetric_key(f);
  return o;
}

// The flag a configuration key came from, for errors found while validating what init would write.
std::string flag_of(const std::string& key) {
  static const std::pair<std::string_view, std::string_view> flags[] = {
      {"provisioning.id_scope", "--scope-id"},
      {"provisioning.global_endpoint", "--global-endpoint"},
      {"provisioning.attestation.registration_id", "--registration-id"},
      {"provisioning.attestation.symmetric_key.value", "--symmetric-key"},
      {"provisioning.attestation.identity_cert", "--identity-cert"},
      {"provisioning.attestation.identity_pk", "--identity-pk"},
      {"tpm.tcti", "--tcti"},
      {"edgeprov.dps.transport", "--transport"},
      {"edgeprov.dps.trusted_ca", "--trusted-ca"},
      {"edgeprov.dps.proxy", "--proxy"},
      {"edgeprov.dps.symmetric_key_source", "--group-key"},
      {"edgeprov.ipc.endpoint", "--endpoint"},
      {"edgeprov.state.dir", "--state-dir"},
      {"edgeprov.log.level", "--log-level"},
  };
  for (const auto& [k, flag] : flags)
    if (k == key) return std::string(flag);
  return key;
}

void print_summary(const std::filesystem::path& file, const config::Config& c, bool secret) {
  const config::Defaults& d = config::defaults();
  const config::Attestation& a = c.provisioning.attestation;
  fmt::print("Wrote {}{}\n", std::filesystem::absolute(file).lexically_normal().string(),
             secret ? " (readable by its owner only: it holds the symmetric key)" : "");
  fmt::print("  {:<16} {}\n", "ID scope", c.provisioning.id_scope);
  fmt::print("  {:<16} {}\n", "global endpoint", c.provisioning.global_endpoint);
  std::string attestation(config::to_string(a.method));
  if (a.registration_id) {
    attestation += ", registration id " + *a.registration_id;
  } else if (a.method == config::AttestationMethod::tpm) {
    attestation += ", registration id derived from the TPM's endorsement key";
  }
  if (a.symmetric_key_value) attestation += fmt::format(", key {}", *a.symmetric_key_value);  // "<redacted>"
  if (a.method == config::AttestationMethod::symmetric_key && c.dps.symmetric_key_source == config::SymmetricKeySource::group)
    attestation += " (the enrollment group's: the device key is derived from it)";
  fmt::print("  {:<16} {}\n", "attestation", attestation);
  if (a.identity_cert) fmt::print("  {:<16} {}\n", "certificate", *a.identity_cert);
  if (a.identity_pk) fmt::print("  {:<16} {}\n", "private key", *a.identity_pk);
  fmt::print("  {:<16} {}\n", "transport", config::to_string(c.dps.transport));
  if (c.dps.trusted_ca) fmt::print("  {:<16} {}\n", "trusted CA", *c.dps.trusted_ca);
  if (a.method == config::AttestationMethod::tpm) fmt::print("  {:<16} {}\n", "TPM", c.tpm.tcti);
  fmt::print("  {:<16} {}\n", "local endpoint", c.ipc.endpoint);
  fmt::print("  {:<16} {}\n", "state", c.state.dir.string());

  const bool default_file = std::filesystem::absolute(file) == std::filesystem::absolute(d.config_file);
  const std::string status = c.ipc.endpoint == d.ipc_endpoint
                                 ? std::string("edgeprovctl status")
                                 : fmt::format("edgeprovctl --endpoint {} status", c.ipc.endpoint);
  fmt::print("\nNext:\n");
  if (default_file) {
    fmt::print("  1. start the service:   {}\n", d.start_service);
  } else {
    fmt::print("  1. start the service with this file:   edgeprovd --config {}\n",
               std::filesystem::absolute(file).lexically_normal().string());
  }
  fmt::print("  2. watch it provision:  {}\n", status);
}

int run_init(const InitFlags& flags, const GlobalOptions& global) {
  const std::filesystem::path file =
      global.config_file.empty() ? config::defaults().config_file : std::filesystem::path(global.config_file);
  try {
    const config::InitOptions options = to_options(flags, global);
    const config::Config written = config::write_config(file, options, flags.force);
    print_summary(file, written, config::holds_secret(options));
    return exit_code::ok;
  } catch (const UsageError& e) {
    fmt::print(stderr, "edgeprovctl init: {}\n", e.message);
    return exit_code::usage;
  } catch (const config::FileExistsError&) {
    fmt::print(stderr,
               "edgeprovctl init: {} already exists — pass --force to replace it (atomically), or --config FILE "
               "to write another file\n",
               file.string());
    return exit_code::exists;
  } catch (const config::ConfigError& e) {
    if (e.line()) {  // found in the file written: report it as it stands there
      fmt::print(stderr, "edgeprovctl init: {}\n", e.what());
    } else {
      fmt::print(stderr, "edgeprovctl init: {}: {} — {} (key {}); nothing was written\n", flag_of(e.key()),
                 e.problem(), e.fix(), e.key());
    }
    return exit_code::config_error;
  } catch (const std::system_error& e) {
    const bool denied = e.code() == std::errc::permission_denied || e.code() == std::errc::operation_not_permitted;
    fmt::print(stderr, "edgeprovctl init: {}{}\n", e.what(),
               denied ? " — run it as root (sudo) / from an elevated (Administrator) shell, or use --config "
                        "to write somewhere you may write"
                      : "");
    return exit_code::failure;
  }
}

}  // namespace

void add_init_command(CLI::App& app, const GlobalOptions& global, Runner& run) {
  auto flags = std::make_shared<InitFlags>();
  CLI::App* cmd = app.add_subcommand(
      "init", "Write the configuration for provisioning through DPS (the Initialize-IoTEdge -Dps of edgeprov)");
  cmd->add_option("--scope-id", flags->scope_id, "ID Scope of the Device Provisioning Service")->required();
  cmd->add_option("--registration-id", flags->registration_id,
                  "registration id of the enrollment (tpm: derived from the EK when left out)");
  cmd->add_option("--attestation", flags->attestation, "tpm (default), symmetric-key or x509")
      ->check(CLI::IsMember({"tpm", "symmetric-key", "symmetric_key", "x509"}));
  // No validator on the key: CLI11 would quote the value in its error message.
  cmd->add_option("--symmetric-key", flags->symmetric_key,
                  "the enrollment's key (base64); - reads one line from stdin, keeping it out of shell history");
  cmd->add_option("--symmetric-key-file", flags->symmetric_key_file, "read the key (base64 text) from FILE");
  cmd->add_flag("--group-key", flags->group_key,
                "the symmetric key is the enrollment group's key (not the device's): edgeprovd derives the device "
                "key from it and the registration id");
  cmd->add_option("--identity-cert", flags->identity_cert, "x509: device certificate, PEM (path or file:// URI)");
  cmd->add_option("--identity-pk", flags->identity_pk, "x509: its private key, PEM (path or file:// URI)");
  cmd->add_option("--global-endpoint", flags->global_endpoint,
                  "DPS endpoint (default https://global.azure-devices-provisioning.net/)");
  cmd->add_option("--tcti", flags->tcti, "TPM access, e.g. swtpm:host=127.0.0.1,port=2321 (default: the platform's)");
  cmd->add_option("--transport", flags->transport, "https (default) or mqtt (not with tpm)")
      ->check(CLI::IsMember({"https", "mqtt"}));
  cmd->add_option("--trusted-ca", flags->trusted_ca, "PEM bundle to trust for DPS instead of the system store");
  cmd->add_option("--proxy", flags->proxy, "HTTP proxy for DPS, http://host:port");
  cmd->add_option("--state-dir", flags->state_dir, "where the service keeps its state");
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info (default), warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cmd->add_flag("--force", flags->force, "replace an existing configuration file");
  cmd->callback([flags, &global, &run] { run = [flags, &global] { return run_init(*flags, global); }; });
}

}  // namespace edgeprov::ctl
