#include "service/provisioning_policy.h"

namespace edgeprov::service {

StartupPlan plan_startup(config::ReprovisioningMode mode, const std::optional<PersistedState>& persisted,
                         SystemTime now) {
  if (!persisted) return {};
  if (persisted->assignment && mode != config::ReprovisioningMode::always_on_startup) {
    return {.action = StartupAction::use_cache};
  }
  if (!persisted->retry.may_attempt(now)) {
    // AlwaysOnStartup with an assignment and a backoff still running: DPS failed us moments ago, so the
    // assignment serves until the backoff allows the next attempt (which a reprovision may force).
    if (persisted->assignment) return {.action = StartupAction::use_cache};
    return {.action = StartupAction::wait_backoff, .wait_until = persisted->retry.next_attempt_at};
  }
  return {};
}

bool invalidates_assignment(const dps::RegistrationFailure& failure) {
  return failure.kind == "dps" && !failure.transient;
}

bool falls_back_to_cache(config::ReprovisioningMode mode, const dps::RegistrationFailure& failure,
                         bool has_assignment, bool startup_attempt) {
  return mode == config::ReprovisioningMode::always_on_startup && has_assignment && startup_attempt &&
         failure.transient && (failure.kind == "network" || failure.kind == "dps");
}

}  // namespace edgeprov::service
