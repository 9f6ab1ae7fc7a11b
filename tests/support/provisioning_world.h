// tests/support/provisioning_world.h — one end-to-end provisioning setup as real processes on free loopback ports:
// swtpm, dps-emulator with the enrollment made through its admin API, `edgeprovctl init`'s config, edgeprovd.
// Shared by tests/integration/provision and bench/provision: no test framework inside, failures throw.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.h"
#include "tests/support/process.h"
#include "tests/support/swtpm.h"

namespace edgeprov::test {

// The ID scope every world's emulator serves.
inline constexpr const char* world_id_scope = "0ne00E2E0A1";

struct HttpReply {
  int status = 0;      // 0 when curl got no HTTP answer
  std::string body;
  std::string output;  // curl's messages
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// One per-request line of the emulator's log, e.g.
// "2026-11-29T05:14:46.585Z info https register device-001 202 assigning 0.20ms".
struct EmulatorRequest {
  SystemTime at;
  std::string transport;        // "https" or "mqtt"
  std::string kind;             // "register", "status", "connect", "request"
  std::string registration_id;
  std::string outcome;          // the rest of the line, e.g. "202 assigning 0.20ms", "429 injected 0.05ms"
  std::string line;
};

// A dps-emulator with its own cert dir and state file, restartable on the same ports and state.
class DpsEmulator {
 public:
  DpsEmulator(std::filesystem::path dir, std::vector<std::string> extra_args);
  ~DpsEmulator();
  DpsEmulator(const DpsEmulator&) = delete;
  DpsEmulator& operator=(const DpsEmulator&) = delete;

  void start();
  void stop();
  bool running() const;

  unsigned short https_port() const { return https_port_; }
  unsigned short mqtt_port() const { return mqtt_port_; }
  unsigned short admin_port() const { return admin_port_; }
  std::filesystem::path ca() const { return dir_ / "certs" / "ca.pem"; }
  // What [provisioning] global_endpoint says to reach this emulator (its HTTPS port; MQTT's is
  // [edgeprov.dps] mqtt_port).
  std::string global_endpoint() const;

  // The admin API (plain HTTP on loopback), through curl.
  HttpReply admin(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) const;
  // POST /faults; throws unless the emulator accepted it. Returns the fault with its id.
  nlohmann::json add_fault(const nlohmann::json& fault) const;
  void clear_faults() const;

  std::string log() const;  // everything logged, across restarts
  std::filesystem::path log_file() const { return dir_ / "emulator.log"; }
  // The request lines of the log for one registration id (all when empty), in order.
  std::vector<EmulatorRequest> requests(const std::string& registration_id = {}) const;

 private:
  std::filesystem::path dir_;
  std::vector<std::string> extra_args_;
  unsigned short https_port_ = 0, mqtt_port_ = 0, admin_port_ = 0;
  std::unique_ptr<Process> process_;
};

enum class Attestation { tpm, symmetric_key, x509 };

// The device as `edgeprovctl init` is told about it.
struct Device {
  Attestation attestation = Attestation::tpm;
  std::string transport = "https";        // "https" or "mqtt"
  std::string registration_id;            // empty: tpm derives it from the EK; x509 takes the CN
  std::string symmetric_key;              // base64; passed on stdin (--symmetric-key -)
  std::filesystem::path identity_cert;    // x509: PEM certificate
  std::filesystem::path identity_pk;      // x509: PEM private key
  std::string symmetric_key_source;       // [edgeprov.dps] symmetric_key_source: "group" when symmetric_key
                                          // is the enrollment group's key; empty: the default (device)
  std::string reprovisioning_mode;        // auto_reprovisioning_mode; empty: the default (Dynamic)
  std::string log_level = "debug";
};

// A certificate and its key made by the openssl command line.
struct X509Files {
  std::filesystem::path certificate, key;
};

struct WorldOptions {
  bool tpm = true;                          // start a swtpm (symmetric key and X.509 devices need none)
  std::vector<std::string> emulator_args;   // e.g. {"--assigning-seconds", "2"}
};

class ProvisioningWorld {
 public:
  explicit ProvisioningWorld(WorldOptions options = {});
  ~ProvisioningWorld();  // stops edgeprovd, the emulator and the swtpm, in that order
  ProvisioningWorld(const ProvisioningWorld&) = delete;
  ProvisioningWorld& operator=(const ProvisioningWorld&) = delete;

  const std::filesystem::path& dir() const { return dir_.path(); }
  Swtpm& swtpm();
  DpsEmulator& emulator() { return *emulator_; }
  const DpsEmulator& emulator() const { return *emulator_; }

  // ---- The portal step -----------------------------------------------------------------------------
  struct TpmIdentity {
    std::string registration_id, endorsement_key;
  };
  // The TPM's registration id and EK as a user reads them: `edgeprovctl --json tpm info --tcti …`.
  TpmIdentity tpm_identity();
  void enroll_tpm(const TpmIdentity& tpm, const nlohmann::json& extra = nlohmann::json::object());
  void enroll_symmetric_key(const std::string& registration_id, const std::string& primary_key,
                            const nlohmann::json& extra = nlohmann::json::object());
  void enroll_symmetric_key_group(const std::string& group_id, const std::string& group_key);
  void enroll_x509(const std::string& registration_id, const std::filesystem::path& certificate);
  void enroll_x509_group(const std::string& group_id, const std::filesystem::path& ca_certificate);
  // Reads an individual enrollment, sets provisioningStatus ("enabled"/"disabled"), writes it back.
  void set_enrollment_status(const std::string& registration_id, const std::string& provisioning_status);

  // A CA (self-signed, for enrollment groups) and device certificates (CN = registration id), signed by
  // `ca` or self-signed.
  X509Files make_ca(const std::string& name);
  X509Files make_device_certificate(const std::string& cn, const std::optional<X509Files>& ca = std::nullopt);

  // ---- The device --------------------------------------------------------------------------------------
  // `edgeprovctl init --force` with the emulator's endpoint, CA, this world's socket and state dir; then
  // what init has no flag for is added to the file as an operator would: auto_reprovisioning_mode at the
  // top, and under [edgeprov.dps] the emulator's MQTT port (mqtt_port) and symmetric_key_source.
  RunResult init(const Device& device);
  std::filesystem::path config_file() const { return dir() / "config.toml"; }
  std::filesystem::path socket() const { return dir() / "edgeprov.sock"; }
  std::filesystem::path state_dir() const { return dir() / "state"; }
  std::filesystem::path state_file() const { return state_dir() / "provisioning.json"; }

  // Starts edgeprovd with config_file(); returns once its socket answers `version`.
  void start_daemon();
  ExitStatus stop_daemon();
  bool daemon_running();
  std::string daemon_log() const;  // everything edgeprovd wrote, across restarts
  std::filesystem::path daemon_log_file() const { return dir() / "edgeprovd.log"; }

  // ---- Talking to it -----------------------------------------------------------------------------------
  // One JSON-RPC call on a fresh connection (ipc::Client); throws ipc::ClientError.
  nlohmann::json call(const std::string& method, const nlohmann::json& params = nullptr,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  nlohmann::json status() { return call("status"); }
  // edgeprovctl --endpoint socket() args…, optionally as another user. Its output is kept (ctl_transcript).
  RunResult ctl(std::vector<std::string> args, std::optional<std::string> user = std::nullopt,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));
  const std::string& ctl_transcript() const { return ctl_transcript_; }

  // Subscribes (`subscribe`) and follows status.changed until `accept` holds; returns that status. On
  // timeout throws with the states seen. Each status seen is recorded in observations().
  nlohmann::json wait_for(const std::function<bool(const nlohmann::json&)>& accept, std::chrono::milliseconds timeout,
                          const std::string& what);
  nlohmann::json wait_for_state(const std::string& state,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30));

  struct Observation {
    std::chrono::steady_clock::time_point at;  // when the status (or its change) arrived
    nlohmann::json status;
  };
  const std::vector<Observation>& observations() const { return observations_; }

 private:
  TempDir dir_;
  std::unique_ptr<Swtpm> swtpm_;
  std::unique_ptr<DpsEmulator> emulator_;
  std::unique_ptr<Process> daemon_;
  std::string ctl_transcript_;
  std::vector<Observation> observations_;
};

// Lines of `text` that contain `needle`, for messages about secrets found in logs.
std::vector<std::string> lines_containing(const std::string& text, const std::string& needle);

}  // namespace edgeprov::test
