// edge-config/writer.h — what `edgeprovctl init` writes: a config.toml rendered from a few choices, in
// aziot's key layout, written atomically and checked by loading it back. Never prints or logs a secret.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include "common/secret.h"
#include "edge-config/config.h"

namespace edgeprov::config {

struct InitOptions {
  std::string id_scope;
  std::optional<std::string> registration_id;
  AttestationMethod attestation = AttestationMethod::tpm;
  std::optional<Secret> symmetric_key;        // base64, written inline (the file is then owner-only)
  // group: symmetric_key is the enrollment group's key; the service derives the device key from it.
  SymmetricKeySource symmetric_key_source = SymmetricKeySource::device;
  std::optional<std::string> identity_cert;   // x509: path or file:// URI
  std::optional<std::string> identity_pk;     // x509: path or file:// URI
  std::string global_endpoint = "https://global.azure-devices-provisioning.net/";
  std::optional<std::string> tcti;            // absent: the platform default, left out of the file
  Transport transport = Transport::https;
  std::optional<std::string> trusted_ca;
  std::optional<std::string> proxy;
  std::optional<std::string> ipc_endpoint;
  std::optional<std::filesystem::path> state_dir;
  std::optional<std::string> log_level;
};

// The configuration text. Plain paths for certificates, keys and the CA become file:// URIs as aziot
// writes them. The result is not validated here: write_config() does that.
std::string render_config(const InitOptions& options);

// True when the rendered file holds a secret and must be readable by its owner (the service) only.
bool holds_secret(const InitOptions& options);

// Renders, validates (a ConfigError without a line names the key that came from the bad option; then
// nothing is written), writes atomically
// (owner-only when it holds a secret; FileExistsError unless `replace`) and loads the written file back
// with load(), returning what the service will read.
Config write_config(const std::filesystem::path& file, const InitOptions& options, bool replace);

// "file:///abs/path" for a path (made absolute); URIs are returned unchanged.
std::string to_file_uri(const std::string& path_or_uri);

}  // namespace edgeprov::config
