// ctl/check/checks.h — what `edgeprovctl check` concludes: one verdict per check (ok, warning, error or
// skipped), each with a one-line message and, when not ok, the cause and the fix. Pure: the facts gathered
// by ctl/check/facts.h in, verdicts out; no I/O, so every verdict is unit-tested. Check ids are stable
// (docs/edgeprovctl.md): scripts select them with --only and read them from --json.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.h"
#include "ctl/check/system.h"
#include "dps/transport.h"
#include "edge-config/config.h"
#include "service/state_store.h"
#include "tpm/dictionary_attack.h"

namespace edgeprov::ctl::check {

enum class Verdict { ok, warning, error, skipped };
std::string_view to_string(Verdict verdict);  // "ok", "warning", "error", "skipped"

struct Result {
  std::string id;
  Verdict verdict = Verdict::ok;
  std::string message;  // the one-line result
  std::string cause;    // warning, error: what is wrong; skipped: why the check did not run
  std::string fix;      // warning, error: what to do
};

// ---- Facts -------------------------------------------------------------------------------------------

struct ConfigFacts {
  std::filesystem::path file;
  std::optional<config::Config> config;  // when it loaded
  std::string problem, fix;              // when it did not: ConfigError what() (file:line, key) and fix
};

// config.service-access: can the service's account read the configuration and every file it names?
struct NamedFile {
  std::string setting;  // "the configuration", "[provisioning.attestation] symmetric_key uri", …
  std::vector<FileFacts> chain;  // path_chain(file)
};
struct ServiceAccessFacts {
  bool supported = true;          // POSIX permissions apply
  std::string account_name;       // config::defaults().service_account
  std::optional<Account> account; // absent: not installed as a package
  std::vector<NamedFile> files;
};

struct ServiceFacts {
  std::string endpoint;
  bool answered = false;
  std::string problem;                // why it did not answer (ClientError text)
  int connect_error = 0;              // errno of a plain connect (EACCES: not allowed to reach it)
  nlohmann::json version;             // `version` result, null when not answered
  nlohmann::json status;              // `status` result, null when not answered
  std::string client_version;
  std::string start_hint;             // how to start the service here
};

struct EndpointFacts {
  bool supported = true;              // POSIX socket and directory modes apply
  std::string endpoint;
  FileFacts socket, directory;
  int connect_error = 0;              // this process connecting: 0, ENOENT, ECONNREFUSED, EACCES, …
  Account caller;
  std::string status_group;           // the package's group for local readers (account name)
  std::optional<std::uint32_t> status_gid;
  // [edgeprov.ipc] identity_principals that are users, with their groups (absent: not a user).
  std::vector<std::pair<std::string, std::optional<Account>>> identity_principals;
};

// The TPM as tpm.info describes it (through edgeprovd when it runs, else opened by edgeprovctl).
struct TpmFacts {
  bool applicable = true;             // TPM attestation
  std::string tcti;
  std::string through;                // "edgeprovd" or "edgeprovctl"
  bool reached = false;
  std::string problem, fix;           // when not reached (tpm::Error problem/what and fix)
  std::string manufacturer, firmware;
  bool endorsement_key = false, storage_root_key = false, auth_key = false;
  std::string auth_key_handle;        // "0x81000100"
  tpm::DictionaryAttackState lockout;
  bool ek_certificate = false;
  std::optional<bool> ek_certificate_matches;
  std::string ek_certificate_issuer, ek_certificate_problem;
  std::string registration_id;        // empty when the EK is not persisted
  bool provisioned = false;           // an assignment exists (service status or persisted state)
};
// Reads a tpm.info result (tpm/json.h) into TpmFacts; fields it lacks keep their defaults.
void read_tpm_info(const nlohmann::json& info, TpmFacts& facts);

struct TpmDeviceFacts {
  bool uses_tpm = true;               // TPM attestation
  bool applicable = true;             // … through a device node (device: TCTI)
  bool supported = true;              // POSIX permissions apply
  std::string tcti;
  FileFacts node;
  Account caller;
  std::string account_name;
  std::optional<Account> account;     // the service's account, when installed
};

enum class DpsStage { proxy_settings, tls_settings, exchange };
struct DpsFacts {
  std::string server;                 // host:port
  std::string proxy;                  // "http://proxy:3128", "" when direct
  std::string trust;                  // "the CA file /etc/…" or "the system trust store"
  std::optional<dps::TransportError> failure;
  DpsStage failed_at = DpsStage::exchange;
  int http_status = 0;
  std::string date_header;            // as sent; "" when absent
  SystemTime local_time;              // this machine's clock when the answer arrived
};

struct StateFacts {
  std::filesystem::path file;
  enum class Read { absent, not_allowed, unreadable, invalid, read } read = Read::absent;
  std::string problem;
  std::optional<service::PersistedState> state;
  service::PersistedSettings expected;  // registration_id empty when not known (TPM unread)
  bool service_answered = false;
};

struct Facts {
  ConfigFacts config;
  std::optional<ServiceAccessFacts> service_access;
  std::optional<ServiceFacts> service;
  std::optional<EndpointFacts> endpoint;
  std::optional<TpmFacts> tpm;
  std::optional<TpmDeviceFacts> tpm_device;
  std::optional<DpsFacts> dps;
  std::optional<StateFacts> state;
};

// ---- Verdicts ----------------------------------------------------------------------------------------

Result check_config_load(const ConfigFacts& facts);
Result check_config_service_access(const ServiceAccessFacts& facts);
Result check_service_running(const ServiceFacts& facts);
Result check_service_version(const ServiceFacts& facts);
Result check_service_provisioning(const ServiceFacts& facts);
Result check_endpoint_permissions(const EndpointFacts& facts);
Result check_tpm_reachable(const TpmFacts& facts);
Result check_tpm_access(const TpmDeviceFacts& facts);
Result check_tpm_keys(const TpmFacts& facts);
Result check_tpm_auth_key(const TpmFacts& facts);
Result check_tpm_lockout(const TpmFacts& facts);
Result check_tpm_ek_certificate(const TpmFacts& facts);
Result check_dps_dns(const DpsFacts& facts);
Result check_dps_tcp(const DpsFacts& facts);
Result check_dps_tls(const DpsFacts& facts);
Result check_dps_clock_skew(const DpsFacts& facts);
Result check_state_consistent(const StateFacts& facts);

// Clock skew beyond which a warning (NTP drifting) and an error (tokens and certificates fail).
inline constexpr std::chrono::seconds skew_warning{60};
inline constexpr std::chrono::seconds skew_error{300};

// ---- The catalogue -----------------------------------------------------------------------------------

// Which facts a check needs, so a selection gathers only those (no network for `--only config`).
enum class Need : unsigned { config = 1, service_access = 2, service = 4, endpoint = 8, tpm = 16, tpm_device = 32,
                             dps = 64, state = 128 };
struct Check {
  std::string_view id;
  unsigned needs;  // Need bits
};
const std::vector<Check>& catalogue();  // every check, in the order they are reported
// The checks whose id equals a selector or starts with it followed by '.'; all when `only` is empty.
std::vector<Check> select(const std::vector<std::string>& only);

// The verdict of check `id` from the facts (skipped with the reason when its facts are missing).
Result evaluate(std::string_view id, const Facts& facts);

// The process exit code for a set of results (ctl/exit_codes.h): ok, check_warnings or check_errors.
int exit_code_of(const std::vector<Result>& results);

// `--json`: {"checks":[{"id","result","message","cause","fix"}…],"summary":{"ok","warning","error","skipped"}}.
nlohmann::json results_json(const std::vector<Result>& results);
// For people: one line per check, cause and fix indented below the ones that are not ok, and a summary.
std::string results_text(const std::vector<Result>& results);

}  // namespace edgeprov::ctl::check
