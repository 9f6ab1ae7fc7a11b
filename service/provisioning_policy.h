// service/provisioning_policy.h — the Provisioner's decisions, pure so every mode and failure is unit-tested:
// what to do at start-up with the persisted state, what a failed attempt does to the persisted assignment,
// and which state follows. No clock, no I/O: time is passed in.
#pragma once
#include <optional>

#include "common/time.h"
#include "dps/registration.h"
#include "edge-config/config.h"
#include "service/state_store.h"

namespace edgeprov::service {

enum class StartupAction {
  use_cache,      // `provisioned` from the persisted assignment, source cache, no network
  register_now,   // start an attempt at once
  wait_backoff,   // `retrying` until the persisted nextAttemptAt, then register
};

struct StartupPlan {
  StartupAction action = StartupAction::register_now;
  std::optional<SystemTime> wait_until;  // wait_backoff only
};

// Dynamic and OnErrorOnly use a persisted assignment as it is; AlwaysOnStartup registers on every start
// (the assignment only serves as a fallback when DPS cannot be reached). Without an assignment, a backoff
// still running from an earlier run is continued rather than restarted.
StartupPlan plan_startup(config::ReprovisioningMode mode, const std::optional<PersistedState>& persisted,
                         SystemTime now);

// A terminal answer from DPS about this device (disabled, deleted or unknown enrollment, blocked,
// failed, unauthorized): the persisted assignment must not be reused.
bool invalidates_assignment(const dps::RegistrationFailure& failure);

// AlwaysOnStartup's start-up attempt could not reach DPS (network error, timeout, 5xx, 429): the persisted
// assignment is used, source cache. A DPS answer that rejects the device never falls back.
bool falls_back_to_cache(config::ReprovisioningMode mode, const dps::RegistrationFailure& failure,
                         bool has_assignment, bool startup_attempt);

}  // namespace edgeprov::service
