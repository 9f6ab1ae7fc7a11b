// tests/integration/ctl/ctl_daemon.h — a real edgeprovd for the edgeprovctl tests: a symmetric-key (or TPM)
// device over HTTPS whose DPS is either a dps-emulator or a loopback port nobody listens on, its socket and state
// in a temp dir, started for one test and stopped after it.
#pragma once
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace edgeprov::test {

// The device the tests provision: its registration id and key (base64 of "ctl-integration-test-key-32bytes").
inline constexpr const char* ctl_registration_id = "ctl-device";
inline constexpr const char* ctl_device_key = "Y3RsLWludGVncmF0aW9uLXRlc3Qta2V5LTMyYnl0ZXM=";

struct CtlDaemonOptions {
  std::string global_endpoint;                       // https://host:port/
  std::string id_scope = "0ne00ABC123";
  std::optional<std::filesystem::path> trusted_ca;   // the emulator's CA
  std::vector<std::string> identity_principals;
  std::optional<std::string> tpm_tcti;  // set: a TPM device using this TCTI instead of the symmetric key
};

// A DPS endpoint on a free loopback port: every connection is refused.
std::string unreachable_dps();

// The configuration edgeprovd is started with.
std::string ctl_config(const std::filesystem::path& dir, const CtlDaemonOptions& options);

class CtlDaemon {
 public:
  // Writes the configuration and starts edgeprovd; throws when the socket does not appear in 10 s.
  explicit CtlDaemon(CtlDaemonOptions options);
  ~CtlDaemon();

  std::filesystem::path socket() const { return dir_ / "edgeprov.sock"; }
  std::filesystem::path config_file() const { return dir_ / "config.toml"; }
  std::string output() const { return process_->output(); }
  Process& process() { return *process_; }

  // edgeprovctl --endpoint <socket> args…, optionally as another user (e.g. "nobody").
  RunResult ctl(std::vector<std::string> args, std::optional<std::string> user = std::nullopt,
                std::chrono::seconds timeout = std::chrono::seconds(60)) const;

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

// edgeprovctl args… (no endpoint added).
RunResult edgeprovctl(std::vector<std::string> args, std::optional<std::string> user = std::nullopt,
                      std::chrono::seconds timeout = std::chrono::seconds(60));

}  // namespace edgeprov::test
