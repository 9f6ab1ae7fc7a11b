#include <catch2/catch_test_macros.hpp>

#include "service/provisioning_policy.h"

using namespace edgeprov;
using namespace edgeprov::service;
using Mode = config::ReprovisioningMode;

namespace {

SystemTime at(std::string_view text) { return *parse_rfc3339(text); }
const SystemTime now = at("2026-11-29T10:00:00Z");

PersistedState state(bool with_assignment, std::optional<SystemTime> next_attempt_at = std::nullopt) {
  PersistedState s;
  s.settings = {.global_endpoint = "https://dps/", .id_scope = "0ne00ABC123", .registration_id = "d", .attestation = "tpm"};
  if (with_assignment) {
    s.assignment = Assignment{.hub = "hub", .device_id = "d", .substatus = "", .assigned_at = now, .payload = nullptr};
  }
  s.retry = {.attempts = next_attempt_at ? 3u : 0u, .next_attempt_at = next_attempt_at};
  return s;
}

dps::RegistrationFailure failure(std::string kind, bool transient, std::optional<dps::RejectionCause> cause = {}) {
  dps::RegistrationFailure f;
  f.kind = std::move(kind);
  f.transient = transient;
  f.cause = cause;
  return f;
}

}  // namespace

TEST_CASE("Dynamic and OnErrorOnly start from a persisted assignment without asking DPS") {
  CHECK(plan_startup(Mode::dynamic, state(true), now).action == StartupAction::use_cache);
  CHECK(plan_startup(Mode::on_error_only, state(true), now).action == StartupAction::use_cache);
}

TEST_CASE("AlwaysOnStartup registers on every start even with a persisted assignment") {
  CHECK(plan_startup(Mode::always_on_startup, state(true), now).action == StartupAction::register_now);
}

TEST_CASE("without any persisted state every mode registers at once") {
  for (auto mode : {Mode::dynamic, Mode::always_on_startup, Mode::on_error_only}) {
    CHECK(plan_startup(mode, std::nullopt, now).action == StartupAction::register_now);
  }
}

TEST_CASE("a restart during a backoff continues it instead of asking DPS again at once") {
  const auto next = at("2026-11-29T10:03:00Z");
  const auto plan = plan_startup(Mode::dynamic, state(false, next), now);
  CHECK(plan.action == StartupAction::wait_backoff);
  CHECK(plan.wait_until == next);
}

TEST_CASE("a backoff that has already run out lets the device register at once") {
  CHECK(plan_startup(Mode::dynamic, state(false, at("2026-11-29T09:59:00Z")), now).action ==
        StartupAction::register_now);
}

TEST_CASE("AlwaysOnStartup during a backoff serves the persisted assignment until the next attempt") {
  CHECK(plan_startup(Mode::always_on_startup, state(true, at("2026-11-29T10:03:00Z")), now).action ==
        StartupAction::use_cache);
}

TEST_CASE("only a terminal answer from DPS invalidates the persisted assignment") {
  CHECK(invalidates_assignment(failure("dps", false, dps::RejectionCause::disabled)));
  CHECK(invalidates_assignment(failure("dps", false, dps::RejectionCause::not_found)));
  CHECK_FALSE(invalidates_assignment(failure("dps", true, dps::RejectionCause::throttled)));
  CHECK_FALSE(invalidates_assignment(failure("network", true)));
  CHECK_FALSE(invalidates_assignment(failure("tpm", false)));
  CHECK_FALSE(invalidates_assignment(failure("config", false)));
}

TEST_CASE("AlwaysOnStartup falls back to the cache only when DPS cannot be reached at start-up") {
  CHECK(falls_back_to_cache(Mode::always_on_startup, failure("network", true), true, true));
  CHECK(falls_back_to_cache(Mode::always_on_startup, failure("dps", true, dps::RejectionCause::server_error), true, true));
  CHECK_FALSE(falls_back_to_cache(Mode::always_on_startup, failure("network", true), false, true));
  CHECK_FALSE(falls_back_to_cache(Mode::always_on_startup, failure("network", true), true, false));
  CHECK_FALSE(falls_back_to_cache(Mode::always_on_startup, failure("dps", false, dps::RejectionCause::disabled), true, true));
  CHECK_FALSE(falls_back_to_cache(Mode::dynamic, failure("network", true), true, true));
  CHECK_FALSE(falls_back_to_cache(Mode::always_on_startup, failure("tpm", true), true, true));
}
