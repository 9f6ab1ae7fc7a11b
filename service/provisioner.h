// service/provisioner.h — carries out what service/provisioning_machine.h decides, and nothing more: it
// feeds the machine its events (started, the identity read, an attempt finished, a timer fired, a
// reprovision asked for, a signature's TPM trouble, stop), carries out the effects through five small ports
// (clock, identity source, attempt runner, state storage, status sink), answers the callers waiting for an
// attempt, and publishes the status projection after every step. Everything runs on one thread (the
// daemon's io_context thread); ports deliver their results there.
#pragma once
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dps/registration.h"
#include "service/credentials.h"
#include "service/provisioning_machine.h"
#include "service/state_store.h"
#include "service/status.h"

namespace edgeprov::service {

using provisioning::AttemptResult;
using provisioning::SteadyTime;

// ---- Ports ----------------------------------------------------------------------------------------------

// Now, on both clocks, and the one timer the machine may have armed.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime steady_now() = 0;
  virtual SystemTime system_now() = 0;
  virtual double unit_random() = 0;  // uniform in [0, 1): backoff jitter
  // Calls `fire` once at `at` unless cancel() or another arm() comes first.
  virtual void arm(SteadyTime at, std::function<void()> fire) = 0;
  virtual void cancel() = 0;
};

// The device's identity: the TPM's keys (the registration id derived from the EK, unless configured) or
// the configured one. Completes on the Provisioner's thread.
struct ResolvedIdentity {
  std::string registration_id;
  std::optional<bool> auth_key_present;
};
class IdentitySource {
 public:
  virtual ~IdentitySource() = default;
  virtual void async_read(std::function<void(std::variant<ResolvedIdentity, dps::Error>)> done) = 0;
  // The credential that proves the identity and signs with its key; null while there is none (a
  // configured identity before its first read).
  virtual DeviceCredential* credential() = 0;
};

// One DPS attempt at a time (builds the channel, the request, runs dps::Registration). Completes on the
// Provisioner's thread, once, unless cancelled.
class AttemptRunner {
 public:
  virtual ~AttemptRunner() = default;
  virtual void start(const std::string& registration_id, DeviceCredential& credential,
                     std::function<void(dps::RegistrationOutcome)> done) = 0;
  virtual void cancel() = 0;  // the attempt's `done` is not called
};

// provisioning.json (StateStore in production).
class StateStorage {
 public:
  virtual ~StateStorage() = default;
  virtual std::optional<PersistedState> peek() = 0;
  virtual std::optional<PersistedState> load(const PersistedSettings& expected) = 0;
  virtual void save(const PersistedState& state) = 0;  // logs, never throws: memory keeps the state
};

class StatusSink {
 public:
  virtual ~StatusSink() = default;
  virtual void publish(StatusSnapshot snapshot) = 0;
};

struct ProvisionerPorts {
  Clock& clock;
  IdentitySource& identity;
  AttemptRunner& attempts;
  StateStorage& storage;
  StatusSink& status;
};

// ---- The Provisioner ------------------------------------------------------------------------------------

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
  // `base` is the status the machine's projection starts from (configured settings, TCTI).
  Provisioner(provisioning::Settings settings, StatusSnapshot base, ProvisionerPorts ports);
  ~Provisioner();
  Provisioner(const Provisioner&) = delete;
  Provisioner& operator=(const Provisioner&) = delete;

  void start();
  void stop();

  using AttemptDone = std::function<void(AttemptResult)>;
  // Registers now (cancelling a backoff wait); a call while an attempt runs joins it. `done` (optional) is
  // called when that attempt ends — or at once if the service is stopping.
  void reprovision(AttemptDone done);

  std::optional<DeviceIdentity> identity() const;
  // HMAC-SHA-256 with the device key (dps::DeviceKey: the TPM's persisted hub key, or the symmetric key),
  // never with the key of an attempt in flight. A TPM that fails or answers again is told to the machine,
  // so status shows it and a lost TPM is asked again until it is back.
  void async_sign(std::string data, dps::Credential::SignDone done);

  const provisioning::Model& model() const { return model_; }

 private:
  void dispatch(provisioning::Event event);
  void execute(const provisioning::Effect& effect);
  void read_identity();
  PersistedSettings expected_settings(const std::string& registration_id) const;

  provisioning::Model model_;
  StatusSnapshot base_;
  ProvisionerPorts ports_;
  std::deque<provisioning::Event> queue_;
  bool dispatching_ = false;
  std::vector<AttemptDone> waiters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // completions after destruction are dropped
  std::uint64_t reads_ = 0;       // identity reads started; a late answer to an earlier read is dropped
  std::uint64_t attempt_no_ = 0;  // attempts started; a cancelled attempt's late answer is dropped
};

// The machine's settings for a configuration.
provisioning::Settings machine_settings(const config::Config& config);

}  // namespace edgeprov::service
