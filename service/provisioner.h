// service/provisioner.h — edgeprovd's provisioning state machine (DESIGN.md "Provisioning states"): resolves
// the device's identity (TPM keys or configured credential), decides at start-up between the persisted
// assignment and DPS by auto_reprovisioning_mode, runs dps::Registration attempts with backoff, persists the
// outcome and publishes every transition on the StatusBoard. Everything runs on the daemon's io_context
// thread; the TPM work happens on tpm::Worker's thread and comes back as posted completions.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dps/registration.h"
#include "dps/retry.h"
#include "edge-config/config.h"
#include "service/credentials.h"
#include "service/provisioning_policy.h"
#include "service/state_store.h"
#include "service/status.h"
#include "tpm/worker.h"

namespace edgeprov::service {

// How a reprovision (or any attempt someone waits for) ended.
struct AttemptResult {
  bool assigned = false;
  std::optional<AttemptError> error;  // set when !assigned
};

// What identity.* needs: the device's current identity (std::nullopt before an assignment exists).
struct DeviceIdentity {
  std::string hub;
  std::string device_id;
  std::string registration_id;
  std::string key_source;  // "tpm", "symmetric_key", "x509"
  bool signs = false;      // false for X.509
  SystemTime assigned_at;
  Source source = Source::dps;
};

class Provisioner {
 public:
  Provisioner(const config::Config& config, boost::asio::io_context& io, StatusBoard& status, tpm::Worker& tpm);
  ~Provisioner();
  Provisioner(const Provisioner&) = delete;
  Provisioner& operator=(const Provisioner&) = delete;

  // Starts on the io thread: reads the TPM's keys (tpm), then follows the start-up plan.
  void start();
  // Cancels timers and attempts, closes connections. On the io thread.
  void stop();

  using AttemptDone = std::function<void(AttemptResult)>;
  // Forces a registration now (cancelling a backoff wait); a call while an attempt runs joins it. `done`
  // (optional) is called on the io thread when that attempt ends. On the io thread.
  void reprovision(AttemptDone done);

  std::optional<DeviceIdentity> identity() const;
  // HMAC-SHA-256 with the device's hub key (TPM or symmetric key). On the io thread; `done` runs there too.
  void async_sign(std::string data, dps::Credential::SignDone done);

 private:
  void resolve_identity();
  void identity_resolved(std::string registration_id);
  void follow_plan(const StartupPlan& plan);
  void attempt();
  void attempt_finished(dps::RegistrationOutcome outcome);
  void on_assigned(const dps::Assigned& assigned, SystemTime now);
  void on_failure(const dps::RegistrationFailure& failure, SystemTime now, bool startup);
  void retry_at(SystemTime when);
  void enter_failed(AttemptError error, SystemTime now);
  void finish_waiters(const AttemptResult& result);
  std::optional<AttemptError> prepare_channel();
  void persist();
  void publish_tpm_facts(StatusSnapshot& s) const;

  const config::Config& config_;
  boost::asio::io_context& io_;
  StatusBoard& status_;
  tpm::Worker& tpm_;
  StateStore store_;
  dps::BackoffPolicy backoff_;
  dps::UnitRandom random_;

  std::unique_ptr<DeviceCredential> credential_;
  TpmCredential* tpm_credential_ = nullptr;  // credential_ when attestation is tpm
  std::string registration_id_;
  bool identity_ready_ = false;
  std::optional<std::string> provisional_registration_id_;  // cache used before the TPM confirmed it
  bool resolving_ = false;          // the TPM's keys are being read
  dps::RetrySchedule tpm_retry_;    // backoff while the TPM cannot be reached at start-up

  PersistedState persisted_;
  std::optional<Source> source_;

  std::shared_ptr<dps::HttpsTransport> https_;
  std::shared_ptr<dps::MqttTransport> mqtt_;
  std::unique_ptr<dps::Channel> channel_;
  std::shared_ptr<dps::Registration> registration_;  // the attempt in flight
  bool startup_attempt_ = true;                       // the first attempt of this run
  bool reprovision_pending_ = false;                  // asked for before the identity was known
  std::vector<AttemptDone> waiters_;
  unsigned attempts_ = 0;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer tpm_retry_timer_;
  bool stopped_ = false;
};

}  // namespace edgeprov::service
