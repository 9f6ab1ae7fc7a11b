// edge-config/config.h — edgeprov's configuration: aziot's super-config keys read exactly as IoT Edge
// writes them, plus edgeprov's own [edgeprov.*] tables. Loading validates everything and reports errors
// that name the file, line, key and fix. This unit never logs a secret and never touches the network.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.h"
#include "dps/vocabulary.h"

namespace edgeprov::config {

// The DPS words are the DPS code's (dps/vocabulary.h); the configuration only reads them.
using dps::AttestationMethod;
using dps::Transport;
using dps::to_string;

// aziot's auto_reprovisioning_mode values: "Dynamic" (default), "AlwaysOnStartup", "OnErrorOnly".
enum class ReprovisioningMode { dynamic, always_on_startup, on_error_only };
std::string_view to_string(ReprovisioningMode);  // "Dynamic", "AlwaysOnStartup", "OnErrorOnly"

struct Attestation {
  AttestationMethod method = AttestationMethod::tpm;
  std::optional<std::string> registration_id;  // tpm: derived from the EK when absent; x509: the CN
  // symmetric_key = { value = "<base64>" } or { uri = "file:///…" }. The value is kept in padded base64
  // (aziot also accepts it unpadded); the uri's file holds the raw key bytes, as aziot-keyd reads it.
  // PKCS#11 uris are rejected with an error that says so.
  std::optional<Secret> symmetric_key_value;
  std::optional<std::string> symmetric_key_uri;
  std::optional<std::string> identity_cert;  // x509: "file:///…" or a path, PEM
  std::optional<std::string> identity_pk;    // x509: "file:///…" or a path, PEM private key
};

struct Provisioning {
  std::string source = "dps";
  std::string global_endpoint = std::string(dps::default_global_endpoint);
  std::string id_scope;
  std::optional<std::string> payload_uri;  // payload = { uri = "file:///…" }
  Attestation attestation;
};

struct Tpm {
  std::string tcti;                       // platform default when absent (see defaults())
  std::uint32_t auth_key_index = 0x100;   // persisted key at 0x81000000 + index
  std::optional<Secret> endorsement_auth; // [tpm.hierarchy_authorization] endorsement
  std::optional<Secret> owner_auth;       // [tpm.hierarchy_authorization] owner
};

// Which key `symmetric_key` holds: the device's own key (as aziot reads it: an individual enrollment's
// key, or a key already derived from a group's), or an enrollment group's key from which edgeprov
// derives the device key (docs/dps-protocol.md §4.4).
enum class SymmetricKeySource { device, group };
std::string_view to_string(SymmetricKeySource);  // "device", "group"

struct Dps {
  Transport transport = Transport::https;
  SymmetricKeySource symmetric_key_source = SymmetricKeySource::device;
  std::uint16_t mqtt_port = dps::default_mqtt_port;  // DPS over MQTT: the port on global_endpoint's host
  std::optional<std::string> trusted_ca;  // "file:///…" or a path (PEM bundle); absent = system store
  std::optional<std::string> proxy;       // http://[user:pass@]host:port; absent = HTTPS_PROXY
};

struct Ipc {
  std::string endpoint;                    // platform default when absent
  std::optional<std::string> admin_group;  // Linux: members of this group are admins (root always is)
  std::vector<std::string> identity_principals;  // users/groups allowed identity.* besides admins
  // Admission control (docs/ipc-api.md, "Limits"): what callers that are not administrators may hold,
  // and the connections kept for administrators.
  std::uint32_t max_connections = 256;
  std::uint32_t admin_reserved_connections = 32;
  std::uint32_t max_connections_per_user = 32;
  std::uint32_t max_requests_per_user = 32;
  std::uint32_t max_subscriptions_per_user = 8;
  std::chrono::seconds idle_timeout{300};  // idle_timeout_sec
};

struct State {
  std::filesystem::path dir;  // platform default when absent
};

struct Log {
  std::string level = "info";                  // trace, debug, info, warn, error, critical, off
  std::optional<std::filesystem::path> file;   // rotating file in addition to the console/journal/Event Log
};

struct Config {
  std::filesystem::path source_file;  // where it was loaded from (empty when built in code)
  Provisioning provisioning;
  Tpm tpm;
  ReprovisioningMode auto_reprovisioning_mode = ReprovisioningMode::dynamic;
  std::chrono::seconds cloud_timeout{70};  // aziot: cloud_timeout_sec, default 70
  unsigned cloud_retries = 1;              // aziot: cloud_retries, default 1
  Dps dps;
  Ipc ipc;
  State state;
  Log log;
};

// A configuration error: what is wrong, where, and what to do about it.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::filesystem::path file, std::optional<std::size_t> line, std::string key,
              std::string problem, std::string fix);
  const std::filesystem::path& file() const { return file_; }
  std::optional<std::size_t> line() const { return line_; }
  const std::string& key() const { return key_; }
  const std::string& problem() const { return problem_; }
  const std::string& fix() const { return fix_; }

 private:
  std::filesystem::path file_;
  std::optional<std::size_t> line_;
  std::string key_, problem_, fix_;
};

// Platform defaults (defaults_posix.cpp / defaults_windows.cpp).
struct Defaults {
  std::filesystem::path config_file;  // /etc/edgeprov/config.toml · %ProgramData%\edgeprov\config.toml
  std::filesystem::path state_dir;    // /var/lib/edgeprov · %ProgramData%\edgeprov\state
  std::string ipc_endpoint;           // /run/edgeprov/edgeprov.sock · \\.\pipe\edgeprov
  std::string tcti;                   // device:/dev/tpmrm0 · tbs
  std::string start_service;          // systemctl enable --now edgeprovd · Start-Service edgeprov
  // The account the installed service runs as (the Linux package's system user, whose group also lets
  // local users reach the endpoint); "" on Windows, where it runs as LocalSystem.
  std::string service_account;        // edgeprov · ""
  // Whether MQTT can trust the system's roots without [edgeprov.dps] trusted_ca: yes · no. Paho sets up
  // its own TLS from OpenSSL's default locations, which hold the system roots on Linux but not on
  // Windows (its roots are in the certificate store; docs/windows.md).
  bool mqtt_system_trust = true;
};
const Defaults& defaults();

// The local file a reference names: "file:///etc/x.pem" (percent-decoded; "file:///C:/x.pem" on
// Windows) or a plain path, returned as is. Used for identity_cert, identity_pk, trusted_ca, payload.uri,
// symmetric_key.uri.
std::filesystem::path local_path(std::string_view file_reference);

// Parses and validates; `name` is used in error messages. Throws ConfigError.
Config parse(std::string_view toml_text, const std::filesystem::path& name);
// Reads the file and parses it. Throws ConfigError (a missing or unreadable file is one too).
Config load(const std::filesystem::path& file);

}  // namespace edgeprov::config
