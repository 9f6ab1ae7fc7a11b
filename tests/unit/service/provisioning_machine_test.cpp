// The provisioning state machine, transition by transition, on a fake clock: no sockets, no TPM, no
// sleeps. Each test drives the machine from its start with the events the Provisioner would deliver and
// checks the phase, the effects and what `status` shows.
#include <algorithm>
#include <fstream>
#include <sstream>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "service/provisioning_machine.h"

using namespace edgeprov;
using namespace edgeprov::service;
using namespace edgeprov::service::provisioning;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;

namespace {

SystemTime wall(std::string_view text) { return *parse_rfc3339(text); }

const std::string reg = "reg-one";
const std::string other_reg = "reg-two";

Settings settings(config::ReprovisioningMode mode = config::ReprovisioningMode::dynamic, bool tpm = true) {
  Settings s;
  s.mode = mode;
  s.tpm = tpm;
  s.registration_id_from_tpm = tpm;
  s.global_endpoint = "https://global.azure-devices-provisioning.net/";
  s.id_scope = "0ne00000001";
  s.attestation = tpm ? dps::AttestationMethod::tpm : dps::AttestationMethod::symmetric_key;
  return s;
}

PersistedState persisted(std::string registration_id = reg, bool with_assignment = true,
                         std::optional<SystemTime> next_attempt = std::nullopt, std::uint32_t failures = 0) {
  PersistedState p;
  p.settings = {.global_endpoint = "https://global.azure-devices-provisioning.net/",
                .id_scope = "0ne00000001",
                .registration_id = std::move(registration_id),
                .attestation = "tpm"};
  if (with_assignment)
    p.assignment = Assignment{.hub = "hub-a.azure-devices.net",
                              .device_id = "device-a",
                              .substatus = "initialAssignment",
                              .assigned_at = wall("2026-11-01T00:00:00Z"),
                              .payload = nullptr};
  p.retry = {.attempts = failures, .next_attempt_at = next_attempt};
  return p;
}

tpm::Error tpm_error(tpm::ErrorKind kind) {
  return tpm::Error(kind, "connect", 0xa000a, "the TCTI could not reach the TPM", "start the TPM");
}
dps::Error tpm_unreachable() { return dps::tpm_failure(tpm_error(tpm::ErrorKind::connection)); }
dps::Error tpm_denied() { return dps::tpm_failure(tpm_error(tpm::ErrorKind::permission_denied)); }
dps::Error network_down() {
  return dps::transport_failure({dps::TransportErrorKind::connect, "cannot connect to DPS", true});
}
dps::Error rejected(int status, int code, dps::RejectionCause cause, bool transient,
                    std::optional<std::chrono::seconds> retry_after = std::nullopt) {
  dps::Rejected r{.status = status, .error_code = code, .message = "DPS said no", .transient = transient};
  r.cause = cause;
  r.retry_after.delay = retry_after;
  return dps::rejected(std::move(r));
}
dps::Error not_found() { return rejected(404, 404201, dps::RejectionCause::not_found, false); }
dps::Error throttled(std::chrono::seconds retry_after) {
  return rejected(429, 429001, dps::RejectionCause::throttled, true, retry_after);
}
dps::Assigned assigned(std::string hub = "hub-b.azure-devices.net", std::string device = "device-b") {
  return dps::Assigned{.hub = std::move(hub), .device_id = std::move(device), .substatus = "initialAssignment",
                       .hub_key_blob = std::nullopt, .payload = nullptr};
}

// The machine, the clock and the last step's effects.
struct Machine {
  explicit Machine(Settings s = settings()) : model(initial_model(std::move(s), wall("2026-12-01T00:00:00Z"))) {}

  Model model;
  Moment at{SteadyTime{} + 1000h, wall("2026-12-01T00:00:00Z"), 0.5};
  std::vector<Effect> effects;

  Machine& on(Event event) {
    auto step = transition(model, event, at);
    model = std::move(step.model);
    effects = std::move(step.effects);
    return *this;
  }
  void advance(std::chrono::seconds d) {
    at.steady += d;
    at.system += d;
  }
  // The armed timer comes due: the clock moves to it and it fires.
  Machine& fire() {
    REQUIRE(model.timer);
    at.system += std::chrono::duration_cast<std::chrono::system_clock::duration>(model.timer->at - at.steady);
    at.steady = model.timer->at;
    return on(TimerFired{model.timer->id});
  }

  template <typename E>
  const E* effect() const {
    for (const auto& e : effects)
      if (const auto* found = std::get_if<E>(&e)) return found;
    return nullptr;
  }
  template <typename E>
  bool has() const { return effect<E>() != nullptr; }
  std::vector<std::string> effect_names() const {
    std::vector<std::string> names;
    for (const auto& e : effects)
      if (!std::holds_alternative<Log>(e)) names.emplace_back(effect_name(e));
    return names;
  }
  std::string log_text() const {
    std::string text;
    for (const auto& e : effects)
      if (const auto* log = std::get_if<Log>(&e)) text += log->message + "\n";
    return text;
  }
  std::string phase() const { return std::string(phase_name(model.phase)); }
  StatusSnapshot status() const { return project(model, StatusSnapshot{}); }
  std::optional<AttemptResult> answered() const {
    if (const auto* a = effect<AnswerWaiters>()) return a->result;
    return std::nullopt;
  }
};

IdentityRead read(std::string id = reg, std::optional<PersistedState> loaded = std::nullopt) {
  return IdentityRead{std::move(id), std::move(loaded), true};
}

// Common starting points, each reached by the events that lead there.
Machine provisioned_from_dps(Settings s = settings()) {
  Machine m(std::move(s));
  m.on(Start{}).on(read()).on(AttemptFinished{assigned()});
  REQUIRE(m.phase() == "Provisioned");
  return m;
}
Machine serving_cache(Settings s = settings()) {
  Machine m(std::move(s));
  m.on(Start{persisted()});
  REQUIRE(m.phase() == "ServingCache(reading)");
  return m;
}
Machine registering() {
  Machine m;
  m.on(Start{}).on(read());
  REQUIRE(m.phase() == "Registering");
  return m;
}
Machine waiting_to_retry() {
  Machine m = registering();
  m.on(AttemptFinished{network_down()});
  REQUIRE(m.phase() == "WaitingToRetry");
  return m;
}
Machine failed_by_dps() {
  Machine m = registering();
  m.on(AttemptFinished{not_found()});
  REQUIRE(m.phase() == "Failed");
  return m;
}

}  // namespace

// ---- The late TPM at boot ---------------------------------------------------------------------------------

TEST_CASE("after a restart the persisted assignment is served at once, before the TPM has answered") {
  Machine m;
  m.on(Start{persisted()});
  CHECK(m.phase() == "ServingCache(reading)");
  CHECK(m.has<ReadIdentity>());
  CHECK_FALSE(m.has<StartAttempt>());
  const auto s = m.status();
  CHECK(s.state == State::provisioned);
  CHECK(s.source == Source::cache);
  REQUIRE(s.assignment);
  CHECK(s.assignment->hub == "hub-a.azure-devices.net");
  CHECK(s.provisioning.registration_id == reg);
  CHECK_FALSE(s.tpm.available.has_value());
}

TEST_CASE("a TPM that answers late at boot leaves the device provisioned from its cache, and confirms it on the first read after it is back") {
  Machine m = serving_cache();
  m.on(IdentityUnavailable{tpm_unreachable()});
  CHECK(m.phase() == "ServingCache(waiting)");
  CHECK(m.status().state == State::provisioned);
  CHECK(m.status().source == Source::cache);
  CHECK(m.status().tpm.available == false);
  REQUIRE(m.status().tpm.error);
  CHECK(m.status().tpm.error->kind() == dps::ErrorKind::tpm);
  CHECK_FALSE(m.status().next_attempt_at);  // no DPS attempt is planned
  REQUIRE(m.effect<ArmTimer>());
  CHECK(m.effect<ArmTimer>()->timer.at - m.at.steady == 1s);  // the TPM is asked again every second

  for (int i = 0; i < 4; ++i) {  // the TPM's resource manager is still not up
    m.fire();
    CHECK(m.phase() == "ServingCache(reading)");
    CHECK(m.has<ReadIdentity>());
    m.on(IdentityUnavailable{tpm_unreachable()});
    CHECK(m.status().state == State::provisioned);
    CHECK(m.effect<ArmTimer>()->timer.at - m.at.steady == 1s);
  }

  m.fire();
  const SteadyTime read_at = m.at.steady;
  m.on(read(reg, persisted()));
  CHECK(m.phase() == "Provisioned");
  CHECK(m.at.steady == read_at);  // confirmed by the read itself: no further wait
  CHECK_FALSE(m.has<StartAttempt>());
  CHECK_FALSE(m.has<ArmTimer>());
  const auto s = m.status();
  CHECK(s.state == State::provisioned);
  CHECK(s.source == Source::cache);
  CHECK(s.tpm.available == true);
  CHECK_FALSE(s.tpm.error);
  CHECK(s.tpm.registration_id == reg);
}

TEST_CASE("a different TPM behind a served cache makes the device register with the TPM's registration id") {
  Machine m = serving_cache();
  m.on(read(other_reg, std::nullopt));  // the storage set aside the file written for reg-one
  CHECK(m.phase() == "Registering");
  REQUIRE(m.effect<StartAttempt>());
  CHECK(m.effect<StartAttempt>()->registration_id == other_reg);
  CHECK_THAT(m.log_text(), ContainsSubstring("reg-two, not reg-one"));
  const auto s = m.status();
  CHECK(s.state == State::provisioning);
  CHECK_FALSE(s.assignment);
  CHECK(s.provisioning.registration_id == other_reg);
}

TEST_CASE("a TPM that cannot be used at all behind a served cache fails the device, keeping the assignment") {
  Machine m = serving_cache();
  m.on(IdentityUnavailable{tpm_denied()});
  CHECK(m.phase() == "Failed");
  CHECK(m.status().state == State::failed);
  CHECK(m.status().assignment);
  REQUIRE(m.answered());
  CHECK_FALSE(m.answered()->assigned);
}

TEST_CASE("AlwaysOnStartup does not serve the cache before the TPM answers") {
  Machine m(settings(config::ReprovisioningMode::always_on_startup));
  m.on(Start{persisted()});
  CHECK(m.phase() == "ReadingIdentity");
  CHECK(m.status().state == State::starting);
  CHECK_FALSE(m.status().assignment);
}

TEST_CASE("a configured registration id reads the identity first: the cache is used once it is confirmed") {
  auto s = settings();
  s.registration_id_from_tpm = false;
  Machine m(s);
  m.on(Start{persisted()});
  CHECK(m.phase() == "ReadingIdentity");
  m.on(read(reg, persisted()));
  CHECK(m.phase() == "Provisioned");
  CHECK(m.status().source == Source::cache);
}

// ---- The start-up policy ----------------------------------------------------------------------------------

TEST_CASE("Dynamic and OnErrorOnly start from a persisted assignment without asking DPS") {
  for (auto mode : {config::ReprovisioningMode::dynamic, config::ReprovisioningMode::on_error_only}) {
    auto s = settings(mode);
    s.registration_id_from_tpm = false;
    Machine m(s);
    m.on(Start{}).on(read(reg, persisted()));
    CHECK(m.phase() == "Provisioned");
    CHECK_FALSE(m.has<StartAttempt>());
    CHECK(m.status().source == Source::cache);
  }
}

TEST_CASE("AlwaysOnStartup registers on every start even with a persisted assignment") {
  Machine m(settings(config::ReprovisioningMode::always_on_startup));
  m.on(Start{}).on(read(reg, persisted()));
  CHECK(m.phase() == "Registering");
  CHECK(m.has<StartAttempt>());
  CHECK_FALSE(m.status().assignment);  // the fallback is not in use while DPS is asked
}

TEST_CASE("without any persisted state every mode registers at once") {
  for (auto mode : {config::ReprovisioningMode::dynamic, config::ReprovisioningMode::on_error_only,
                    config::ReprovisioningMode::always_on_startup}) {
    Machine m(settings(mode));
    m.on(Start{}).on(read());
    CHECK(m.phase() == "Registering");
    REQUIRE(m.effect<StartAttempt>());
    CHECK(m.effect<StartAttempt>()->attempt == 1);
  }
}

TEST_CASE("a restart during a backoff continues it instead of asking DPS again at once") {
  Machine m;
  m.on(Start{}).on(read(reg, persisted(reg, false, m.at.system + 100s, 4)));
  CHECK(m.phase() == "WaitingToRetry");
  CHECK_FALSE(m.has<StartAttempt>());
  REQUIRE(m.effect<ArmTimer>());
  CHECK(m.effect<ArmTimer>()->timer.at - m.at.steady == 100s);
  CHECK(m.status().state == State::retrying);
  CHECK(m.status().next_attempt_at == m.at.system + 100s);
  m.fire();
  CHECK(m.phase() == "Registering");
  CHECK(m.has<StartAttempt>());
}

TEST_CASE("a backoff that has already run out lets the device register at once") {
  Machine m;
  m.on(Start{}).on(read(reg, persisted(reg, false, m.at.system - 5s, 4)));
  CHECK(m.phase() == "Registering");
}

TEST_CASE("AlwaysOnStartup during a backoff serves the persisted assignment until someone reprovisions") {
  Machine m(settings(config::ReprovisioningMode::always_on_startup));
  m.on(Start{}).on(read(reg, persisted(reg, true, m.at.system + 100s, 2)));
  CHECK(m.phase() == "Provisioned");
  CHECK(m.status().source == Source::cache);
  CHECK_FALSE(m.has<StartAttempt>());
}

TEST_CASE("a persisted next attempt absurdly far in the future is cut to the longest wait, and said so") {
  Machine m;
  m.on(Start{}).on(read(reg, persisted(reg, false, m.at.system + 24h * 400, 9)));
  CHECK(m.phase() == "WaitingToRetry");
  CHECK(m.effect<ArmTimer>()->timer.at - m.at.steady == std::chrono::seconds(dps::max_retry_after));
  CHECK_THAT(m.log_text(), ContainsSubstring("was the clock set back?"));
}

// ---- Attempts ---------------------------------------------------------------------------------------------

TEST_CASE("an assignment is persisted, shown with source dps, and answers the waiting callers") {
  Machine m = registering();
  m.on(AttemptFinished{assigned()});
  CHECK(m.phase() == "Provisioned");
  REQUIRE(m.effect<Persist>());
  const auto& saved = m.effect<Persist>()->state;
  REQUIRE(saved.assignment);
  CHECK(saved.assignment->hub == "hub-b.azure-devices.net");
  CHECK(saved.assignment->assigned_at == m.at.system);
  CHECK(saved.retry == dps::RetrySchedule{});
  CHECK(m.answered()->assigned);
  const auto s = m.status();
  CHECK(s.source == Source::dps);
  CHECK(s.last_attempt->outcome == "assigned");
  CHECK(s.attempts == 1);
}

TEST_CASE("a 429 with Retry-After waits at least as long as DPS asked, with the schedule persisted") {
  Machine m = registering();
  m.at.random = 0.0;  // the jitter alone would retry at once
  m.on(AttemptFinished{throttled(37s)});
  CHECK(m.phase() == "WaitingToRetry");
  CHECK(m.effect<ArmTimer>()->timer.at - m.at.steady == 37s);
  REQUIRE(m.effect<Persist>());
  CHECK(m.effect<Persist>()->state.retry.attempts == 1);
  CHECK(m.effect<Persist>()->state.retry.next_attempt_at == m.at.system + 37s);
  const auto s = m.status();
  CHECK(s.state == State::retrying);
  CHECK(s.next_attempt_at == m.at.system + 37s);
  REQUIRE(s.last_attempt->error);
  CHECK(s.last_attempt->error->kind() == dps::ErrorKind::dps);
  CHECK(s.last_attempt->error->code() == 429001);
  CHECK(m.answered()->error->code() == 429001);
  m.fire();
  CHECK(m.phase() == "Registering");
  CHECK(m.effect<StartAttempt>()->attempt == 2);
}

TEST_CASE("the backoff grows with each failure and stays within its ceiling") {
  Machine m = registering();
  m.at.random = 0.999;
  std::chrono::steady_clock::duration previous{};
  for (int i = 1; i <= 12; ++i) {
    m.on(AttemptFinished{network_down()});
    const auto delay = m.effect<ArmTimer>()->timer.at - m.at.steady;
    CHECK(delay <= std::chrono::seconds(300));
    if (i <= 8) CHECK(delay > previous);
    previous = delay;
    m.fire();
  }
}

TEST_CASE("only a terminal answer from DPS deletes the persisted assignment") {
  SECTION("not found: failed, assignment deleted") {
    Machine m = provisioned_from_dps();
    m.on(ReprovisionRequested{}).on(AttemptFinished{not_found()});
    CHECK(m.phase() == "Failed");
    REQUIRE(m.effect<Persist>());
    CHECK_FALSE(m.effect<Persist>()->state.assignment);
    CHECK_FALSE(m.status().assignment);
    CHECK_FALSE(m.status().source);
    CHECK(m.status().state == State::failed);
  }
  SECTION("a TPM failure that needs an operator: failed, assignment kept") {
    Machine m = provisioned_from_dps();
    m.on(ReprovisionRequested{})
        .on(AttemptFinished{dps::tpm_failure(tpm::Error(tpm::ErrorKind::bad_blob, "Import", 0x2c4, "bad", "fix"))});
    CHECK(m.phase() == "Failed");
    CHECK(m.effect<Persist>()->state.assignment);
    CHECK(m.status().assignment);
  }
  SECTION("a transient DPS answer: retrying, assignment kept") {
    Machine m = provisioned_from_dps();
    m.on(ReprovisionRequested{}).on(AttemptFinished{throttled(5s)});
    CHECK(m.phase() == "WaitingToRetry");
    CHECK(m.effect<Persist>()->state.assignment);
  }
}

TEST_CASE("AlwaysOnStartup offline: the start-up attempt falls back to the persisted assignment") {
  Machine m(settings(config::ReprovisioningMode::always_on_startup));
  m.on(Start{}).on(read(reg, persisted())).on(AttemptFinished{network_down()});
  CHECK(m.phase() == "Provisioned");
  CHECK_FALSE(m.has<ArmTimer>());
  REQUIRE(m.effect<Persist>());
  CHECK(m.effect<Persist>()->state.retry.attempts == 1);  // a restart soon after does not hammer DPS
  const auto s = m.status();
  CHECK(s.state == State::provisioned);
  CHECK(s.source == Source::cache);
  CHECK(s.last_attempt->error->kind() == dps::ErrorKind::network);
  CHECK_FALSE(m.answered()->assigned);
}

TEST_CASE("AlwaysOnStartup falls back only when DPS cannot be reached at start-up") {
  SECTION("a terminal DPS answer fails and deletes the assignment") {
    Machine m(settings(config::ReprovisioningMode::always_on_startup));
    m.on(Start{}).on(read(reg, persisted())).on(AttemptFinished{not_found()});
    CHECK(m.phase() == "Failed");
    CHECK_FALSE(m.effect<Persist>()->state.assignment);
  }
  SECTION("a later attempt (a reprovision) that cannot reach DPS retries instead") {
    Machine m(settings(config::ReprovisioningMode::always_on_startup));
    m.on(Start{}).on(read(reg, persisted())).on(AttemptFinished{assigned()});
    m.on(ReprovisionRequested{}).on(AttemptFinished{network_down()});
    CHECK(m.phase() == "WaitingToRetry");
  }
  SECTION("a TPM failure is not a reason to use the cache") {
    Machine m(settings(config::ReprovisioningMode::always_on_startup));
    m.on(Start{}).on(read(reg, persisted())).on(AttemptFinished{tpm_unreachable()});
    CHECK(m.phase() == "WaitingToRetry");
  }
}

TEST_CASE("a terminal DPS answer while the cache is served fails the device and removes the cache") {
  Machine m = serving_cache();
  m.on(ReprovisionRequested{});
  CHECK(m.phase() == "ServingCache(reading)");
  CHECK(m.model.reprovision_pending);
  m.on(read(reg, persisted()));
  CHECK(m.phase() == "Registering");
  m.on(AttemptFinished{not_found()});
  CHECK(m.phase() == "Failed");
  CHECK_FALSE(m.effect<Persist>()->state.assignment);
  CHECK_FALSE(m.status().assignment);
}

// ---- The TPM lost and found while provisioned -------------------------------------------------------------

TEST_CASE("a TPM lost while provisioned: the device stays provisioned, the TPM is asked again until it is back") {
  Machine m = provisioned_from_dps();
  m.on(TpmFailed{tpm_unreachable()});
  CHECK(m.phase() == "Provisioned");
  CHECK(m.status().state == State::provisioned);
  CHECK(m.status().tpm.available == false);
  REQUIRE(m.status().tpm.error);
  REQUIRE(m.effect<ArmTimer>());
  CHECK_THAT(m.log_text(), ContainsSubstring("stays provisioned"));

  m.on(TpmFailed{tpm_unreachable()});  // another signature fails meanwhile: nothing new
  CHECK(m.effects.empty());

  m.fire();
  CHECK(m.phase() == "Provisioned(probing)");
  CHECK(m.has<ReadIdentity>());
  m.on(IdentityUnavailable{tpm_unreachable()});
  CHECK(m.phase() == "Provisioned");
  CHECK(m.has<ArmTimer>());

  m.fire().on(read(reg, std::nullopt));
  CHECK(m.phase() == "Provisioned");
  CHECK_FALSE(m.has<StartAttempt>());
  CHECK(m.status().tpm.available == true);
  CHECK_FALSE(m.status().tpm.error);
  CHECK(m.status().source == Source::dps);
}

TEST_CASE("a signature that works again clears the TPM error at once and stops asking") {
  Machine m = provisioned_from_dps();
  m.on(TpmFailed{tpm_unreachable()});
  m.on(TpmAnswered{});
  CHECK(m.status().tpm.available == true);
  CHECK_FALSE(m.status().tpm.error);
  CHECK(m.has<CancelTimer>());
  CHECK_FALSE(m.model.timer);
}

TEST_CASE("a TPM failure that is not about the TPM being there does not mark it unavailable") {
  Machine m = provisioned_from_dps();
  m.on(TpmFailed{dps::tpm_failure(tpm::Error(tpm::ErrorKind::no_auth_key, "HMAC", 0, "no key", "provision"))});
  CHECK(m.status().tpm.available == true);
  CHECK(m.effects.empty());
}

TEST_CASE("a reprovision whose challenge key the TPM lost is retried with backoff, the assignment still shown") {
  Machine m = provisioned_from_dps();
  m.on(ReprovisionRequested{});
  REQUIRE(m.phase() == "Registering");
  const auto lost = dps::tpm_failure(tpm::Error(tpm::ErrorKind::transient_key_lost, "sign with the DPS key of this attempt",
                                                0, "no longer loaded", "nothing to do"));
  REQUIRE(lost.transient);
  m.on(AttemptFinished{lost});
  CHECK(m.phase() == "WaitingToRetry");
  REQUIRE(m.model.timer);
  const auto s = m.status();
  CHECK(s.tpm.available == true);  // the TPM answers; only the attempt's key went with the old connection
  REQUIRE(s.assignment);
  CHECK(s.assignment->hub == "hub-b.azure-devices.net");
  CHECK(s.source == Source::dps);
  m.fire();
  CHECK(m.phase() == "Registering");  // a new attempt, which starts with a new challenge
  CHECK(m.has<StartAttempt>());
}

// ---- Reprovision ------------------------------------------------------------------------------------------

TEST_CASE("reprovision during a backoff wait registers at once and cancels the wait") {
  Machine m = waiting_to_retry();
  m.on(ReprovisionRequested{});
  CHECK(m.phase() == "Registering");
  CHECK(m.has<CancelTimer>());
  CHECK(m.has<StartAttempt>());
  CHECK_FALSE(m.model.timer);
}

TEST_CASE("reprovision while the TPM is being read registers once it answers, even with a cache") {
  auto s = settings();
  s.registration_id_from_tpm = false;
  Machine m(s);
  m.on(Start{}).on(ReprovisionRequested{});
  CHECK(m.phase() == "ReadingIdentity");
  CHECK(m.effect_names().empty());
  m.on(read(reg, persisted()));
  CHECK(m.phase() == "Registering");
  CHECK(m.has<StartAttempt>());
}

TEST_CASE("reprovision while waiting for the TPM reads it again at once") {
  Machine m;
  m.on(Start{}).on(IdentityUnavailable{tpm_unreachable()});
  CHECK(m.phase() == "WaitingForTpm");
  m.on(ReprovisionRequested{});
  CHECK(m.phase() == "ReadingIdentity");
  CHECK(m.has<CancelTimer>());
  CHECK(m.has<ReadIdentity>());
  m.on(IdentityUnavailable{tpm_unreachable()});
  REQUIRE(m.answered());  // the caller hears why nothing was registered
  CHECK(m.answered()->error->kind() == dps::ErrorKind::tpm);
  m.fire().on(read());
  CHECK(m.phase() == "Registering");  // still asked for: registers once the TPM is back
}

TEST_CASE("reprovision during an attempt joins it: one attempt, every caller answered by it") {
  Machine m = registering();
  m.on(ReprovisionRequested{});
  CHECK(m.phase() == "Registering");
  CHECK(m.effect_names().empty());
  m.on(AttemptFinished{assigned()});
  CHECK(m.model.attempts == 1);
  CHECK(m.answered()->assigned);
}

TEST_CASE("reprovision after failed registers again; after an identity that could not be read, reads it again") {
  SECTION("DPS refused") {
    Machine m = failed_by_dps();
    m.on(ReprovisionRequested{});
    CHECK(m.phase() == "Registering");
    CHECK(m.effect<StartAttempt>()->attempt == 2);
  }
  SECTION("the TPM could not be opened") {
    Machine m;
    m.on(Start{}).on(IdentityUnavailable{tpm_denied()});
    CHECK(m.phase() == "Failed");
    m.on(ReprovisionRequested{});
    CHECK(m.phase() == "ReadingIdentity");
    CHECK(m.has<ReadIdentity>());
    m.on(read());
    CHECK(m.phase() == "Registering");
  }
}

TEST_CASE("the TPM not reachable at start-up without a cache is retrying with the TPM's error, then provisions") {
  Machine m;
  m.on(Start{}).on(IdentityUnavailable{tpm_unreachable()});
  CHECK(m.phase() == "WaitingForTpm");
  auto s = m.status();
  CHECK(s.state == State::retrying);
  CHECK(s.last_attempt->error->kind() == dps::ErrorKind::tpm);
  CHECK(s.next_attempt_at == m.at.system + 1s);
  m.fire();
  CHECK(m.phase() == "ReadingIdentity");
  m.on(read());
  CHECK(m.phase() == "Registering");
}

TEST_CASE("a configuration whose identity cannot be built fails, and says why") {
  Machine m(settings(config::ReprovisioningMode::dynamic, false));
  m.on(Start{}).on(IdentityUnavailable{dps::config_failure("the key file is missing")});
  CHECK(m.phase() == "Failed");
  CHECK(m.status().last_attempt->error->kind() == dps::ErrorKind::config);
}

// ---- Stop -------------------------------------------------------------------------------------------------

TEST_CASE("stop in every phase cancels what runs, answers the waiting callers, and nothing happens after") {
  std::vector<std::pair<std::string, Machine>> cases;
  cases.emplace_back("ReadingIdentity", [] { Machine m; m.on(Start{}); return m; }());
  cases.emplace_back("WaitingForTpm", [] { Machine m; m.on(Start{}).on(IdentityUnavailable{tpm_unreachable()}); return m; }());
  cases.emplace_back("ServingCache", serving_cache());
  cases.emplace_back("Registering", registering());
  cases.emplace_back("WaitingToRetry", waiting_to_retry());
  cases.emplace_back("Provisioned", provisioned_from_dps());
  cases.emplace_back("Failed", failed_by_dps());
  for (auto& [name, m] : cases) {
    INFO(name);
    const bool timer = m.model.timer.has_value();
    const bool attempt = name == "Registering";
    const State shown = m.status().state;
    m.on(Stop{});
    CHECK(m.phase() == "Stopped");
    CHECK(m.has<CancelTimer>() == timer);
    CHECK(m.has<CancelAttempt>() == attempt);
    REQUIRE(m.answered());
    CHECK(m.answered()->error->kind() == dps::ErrorKind::service);
    CHECK(m.status().state == shown);
    for (Event late : {Event{AttemptFinished{assigned()}}, Event{read()}, Event{TimerFired{m.model.timers_armed}},
                       Event{TpmFailed{tpm_unreachable()}}, Event{Stop{}}}) {
      m.on(late);
      CHECK(m.phase() == "Stopped");
      CHECK(m.effects.empty());
    }
    m.on(ReprovisionRequested{});
    REQUIRE(m.answered());
    CHECK(m.answered()->error->kind() == dps::ErrorKind::service);
  }
}

// ---- Clocks -----------------------------------------------------------------------------------------------

TEST_CASE("timers run on the steady clock: a wall clock set back or forward changes neither when they fire nor what they fire") {
  Machine m = registering();
  m.at.random = 0.0;
  m.on(AttemptFinished{throttled(60s)});
  const auto timer = *m.model.timer;
  m.at.system -= 24h;  // the wall clock is set back a day
  m.at.steady += 10s;
  m.on(TimerFired{timer.id + 1});  // a stale or foreign timer id
  CHECK(m.phase() == "WaitingToRetry");
  CHECK(m.effects.empty());
  m.at.system += 48h;  // and then forward two
  CHECK(m.model.timer->at == timer.at);
  m.fire();
  CHECK(m.phase() == "Registering");
}

TEST_CASE("a timer that was cancelled or replaced never fires anything") {
  Machine m = waiting_to_retry();
  const auto old_id = m.model.timer->id;
  m.on(ReprovisionRequested{});
  m.on(AttemptFinished{network_down()});
  CHECK(m.model.timer->id != old_id);
  m.on(TimerFired{old_id});
  CHECK(m.phase() == "WaitingToRetry");
  CHECK(m.effects.empty());
}

TEST_CASE("nothing happens by itself while provisioned: no timer is armed, and time passing changes nothing") {
  Machine m = provisioned_from_dps();
  CHECK_FALSE(m.model.timer);
  const auto before = m.status();
  m.advance(24h * 30);
  CHECK(m.status().state == before.state);
  CHECK(m.status().since == before.since);
}

TEST_CASE("since moves only when the state status shows changes") {
  Machine m = waiting_to_retry();
  const auto since = m.status().since;
  m.advance(10s);
  m.on(TpmFailed{tpm_unreachable()});  // retrying stays retrying
  CHECK(m.status().since == since);
  m.fire();
  CHECK(m.status().since == m.at.system);
}

// ---- The table in docs/architecture.md ----------------------------------------------------------------------

namespace {

// Every phase the machine can be in, each reached by real events (mode Dynamic, TPM attestation).
std::vector<std::pair<std::string, Machine>> every_phase() {
  std::vector<std::pair<std::string, Machine>> phases;
  phases.emplace_back("(new)", Machine{});
  phases.emplace_back("ReadingIdentity", [] { Machine m; m.on(Start{}); return m; }());
  phases.emplace_back("WaitingForTpm", [] { Machine m; m.on(Start{}).on(IdentityUnavailable{tpm_unreachable()}); return m; }());
  phases.emplace_back("ServingCache(reading)", serving_cache());
  phases.emplace_back("ServingCache(waiting)", [] { Machine m = serving_cache(); m.on(IdentityUnavailable{tpm_unreachable()}); return m; }());
  phases.emplace_back("Registering", registering());
  phases.emplace_back("WaitingToRetry", waiting_to_retry());
  phases.emplace_back("Provisioned", provisioned_from_dps());
  phases.emplace_back("Provisioned(probing)", [] { Machine m = provisioned_from_dps(); m.on(TpmFailed{tpm_unreachable()}).fire(); return m; }());
  phases.emplace_back("Failed", failed_by_dps());
  phases.emplace_back("Stopped", [] { Machine m = provisioned_from_dps(); m.on(Stop{}); return m; }());
  return phases;
}

// Every kind of event, in the variants that lead to different places.
std::vector<std::pair<std::string, std::function<Event(const Machine&)>>> every_event() {
  return {
      {"Start (a persisted assignment)", [](const Machine&) { return Event{Start{persisted()}}; }},
      {"Start (none)", [](const Machine&) { return Event{Start{}}; }},
      {"IdentityRead (same id, assignment)", [](const Machine&) { return Event{read(reg, persisted())}; }},
      {"IdentityRead (another id)", [](const Machine&) { return Event{read(other_reg, std::nullopt)}; }},
      {"IdentityUnavailable (transient)", [](const Machine&) { return Event{IdentityUnavailable{tpm_unreachable()}}; }},
      {"IdentityUnavailable (terminal)", [](const Machine&) { return Event{IdentityUnavailable{tpm_denied()}}; }},
      {"AttemptFinished (assigned)", [](const Machine&) { return Event{AttemptFinished{assigned()}}; }},
      {"AttemptFinished (transient)", [](const Machine&) { return Event{AttemptFinished{network_down()}}; }},
      {"AttemptFinished (terminal DPS)", [](const Machine&) { return Event{AttemptFinished{not_found()}}; }},
      {"TimerFired", [](const Machine& m) { return Event{TimerFired{m.model.timer ? m.model.timer->id : 0}}; }},
      {"ReprovisionRequested", [](const Machine&) { return Event{ReprovisionRequested{}}; }},
      {"TpmFailed (transient)", [](const Machine&) { return Event{TpmFailed{tpm_unreachable()}}; }},
      {"TpmAnswered", [](const Machine&) { return Event{TpmAnswered{}}; }},
      {"Stop", [](const Machine&) { return Event{Stop{}}; }},
  };
}

std::string render_transition_table() {
  std::ostringstream out;
  out << "| phase (status shows) | event | next phase | effects |\n";
  out << "|---|---|---|---|\n";
  for (const auto& [name, start] : every_phase()) {
    for (const auto& [event_label, make] : every_event()) {
      Machine m = start;
      const std::string before = m.phase();
      const auto before_model_timer = m.model.timer.has_value();
      m.on(make(m));
      const auto names = m.effect_names();
      const bool changed = m.phase() != before || !m.effects.empty() || m.model.timer.has_value() != before_model_timer ||
                           m.model.reprovision_pending != start.model.reprovision_pending ||
                           m.model.tpm.available != start.model.tpm.available;
      if (!changed) continue;
      std::string effects;
      for (const auto& n : names) effects += (effects.empty() ? "" : ", ") + n;
      const State shown = shown_state(start.model.phase);
      out << "| " << name << " (" << to_string(shown) << ") | " << event_label << " | "
          << (m.phase() == before ? std::string("same") : m.phase()) << " | " << (effects.empty() ? "—" : effects)
          << " |\n";
    }
  }
  return out.str();
}

}  // namespace

TEST_CASE("docs/architecture.md shows the transition table exactly as the machine behaves") {
  std::ifstream file(std::string(EDGEPROV_SOURCE_DIR) + "/docs/architecture.md");
  REQUIRE(file);
  std::stringstream text;
  text << file.rdbuf();
  const std::string doc = text.str();
  const std::string begin = "<!-- transition-table:begin -->\n";
  const std::string end = "<!-- transition-table:end -->";
  const auto from = doc.find(begin);
  const auto to = doc.find(end);
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  const std::string documented = doc.substr(from + begin.size(), to - from - begin.size());
  const std::string actual = render_transition_table();
  INFO("the table the machine gives (paste it between the markers in docs/architecture.md):\n" << actual);
  CHECK(documented == actual);
}
