// service/status.h — what `status` reports: the snapshot of the provisioning state and its JSON form.
// The snapshot is replaced whole under a lock and read as an immutable copy, so `status` never waits on
// the TPM, the network or a state transition in progress. No secret is ever part of it.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/time.h"
#include "dps/error.h"
#include "edge-config/config.h"

namespace edgeprov::service {

// The states `status` shows (docs/edgeprovd.md "States"); service/provisioning_machine.h decides them.
enum class State { starting, provisioning, provisioned, retrying, failed };
std::string_view to_string(State state);

enum class Source { dps, cache };
std::string_view to_string(Source source);

// The provisioning settings in effect, as configured (never a key).
struct ProvisioningSettings {
  std::string global_endpoint;
  std::string id_scope;
  std::optional<std::string> registration_id;  // null when it is derived (tpm) and not known yet
  config::AttestationMethod attestation = config::AttestationMethod::tpm;
  config::Transport transport = config::Transport::https;
};
ProvisioningSettings settings_from(const config::Config& config);

struct Assignment {
  std::string hub;
  std::string device_id;
  std::string substatus;  // DPS: initialAssignment, deviceDataMigrated, deviceDataReset, reprovisionedToInitialAssignment
  SystemTime assigned_at;
  nlohmann::json payload;  // null when DPS returned none
};

struct Attempt {
  SystemTime at;
  std::string outcome;  // "assigned", "error"
  std::optional<dps::Error> error;
};

// What the service knows about the TPM. std::nullopt = not probed (yet): reported as null.
struct TpmFacts {
  std::optional<bool> available;
  std::string tcti;
  std::optional<std::string> registration_id;
  std::optional<bool> auth_key_present;
  std::optional<dps::Error> error;  // why the TPM cannot be used now (unreachable, locked out, …)
};

struct StatusSnapshot {
  State state = State::starting;
  SystemTime since;  // when `state` was entered
  std::optional<Source> source;
  ProvisioningSettings provisioning;
  std::optional<Assignment> assignment;
  std::optional<Attempt> last_attempt;
  std::optional<SystemTime> next_attempt_at;
  unsigned attempts = 0;
  TpmFacts tpm;
};

// Facts about the running process, taken at the moment of the call.
struct ServiceInfo {
  std::string version;
  std::uint64_t pid = 0;
  std::chrono::seconds uptime{0};
};

// The `assignment` object of `status` (also the persisted assignment's form). Errors: dps::to_json.
nlohmann::json to_json(const Assignment& assignment);

// The `status` result exactly as documented (docs/edgeprovd.md): absent values are null, times RFC 3339 UTC.
nlohmann::json to_json(const StatusSnapshot& snapshot, const ServiceInfo& service);

// Holds the current snapshot. Readers get an immutable copy that later updates never touch; writers
// replace it whole. Safe from any thread.
class StatusBoard {
 public:
  explicit StatusBoard(StatusSnapshot initial);
  std::shared_ptr<const StatusSnapshot> current() const;
  // Replaces the snapshot; observers are told only when something `status` shows changed.
  void publish(StatusSnapshot next);

  // Called after every change, outside the lock, on the thread that made it (`subscribe`). Set once,
  // before any change.
  void on_change(std::function<void()> observer) { observer_ = std::move(observer); }

 private:
  void changed() {
    if (observer_) observer_();
  }

  mutable std::mutex mutex_;
  std::shared_ptr<const StatusSnapshot> current_;
  std::function<void()> observer_;
};

}  // namespace edgeprov::service
