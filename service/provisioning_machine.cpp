#include "service/provisioning_machine.h"

#include <algorithm>

#include <fmt/format.h>

namespace edgeprov::service::provisioning {

namespace {

using std::chrono::seconds;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::int64_t whole_seconds(std::chrono::system_clock::duration d) {
  return std::chrono::duration_cast<seconds>(d).count();
}

// The TPM cannot be used at all (as opposed to rejecting one input, such as a malformed DPS key blob).
bool tpm_unusable(const dps::Error& error) {
  const auto* tpm = std::get_if<tpm::Error>(&error.cause);
  if (tpm == nullptr) return false;
  switch (tpm->kind()) {
    case tpm::ErrorKind::connection:
    case tpm::ErrorKind::device_missing:
    case tpm::ErrorKind::permission_denied:
    case tpm::ErrorKind::lockout:
      return true;
    default:
      return false;
  }
}

// A terminal answer from DPS about this device (disabled, deleted or unknown enrollment, blocked, failed,
// unauthorized): the persisted assignment must never be used again.
bool invalidates_assignment(const dps::Error& error) {
  return error.kind() == dps::ErrorKind::dps && !error.transient;
}

// AlwaysOnStartup's first attempt of a run could not reach DPS (no answer, or a transient answer such as
// 5xx or 429): the persisted assignment serves. An answer that rejects the device never falls back.
bool falls_back_to_cache(const Model& m, const dps::Error& error, bool startup_attempt) {
  const auto kind = error.kind();
  return m.settings.mode == config::ReprovisioningMode::always_on_startup && m.persisted.assignment &&
         startup_attempt && error.transient && (kind == dps::ErrorKind::network || kind == dps::ErrorKind::dps);
}

// Builds one step: the transition functions below change `m` and add effects through it.
class Builder {
 public:
  Builder(const Model& model, const Moment& at) : m(model), at(at), shown_before(shown_state(model.phase)) {}

  Model m;
  const Moment& at;
  std::vector<Effect> effects;

  void effect(Effect e) { effects.push_back(std::move(e)); }
  void log(LogLevel level, std::string message) { effect(Log{level, std::move(message)}); }

  void enter(Phase phase) { m.phase = std::move(phase); }

  void arm(std::chrono::system_clock::duration delay) {
    delay = std::max<std::chrono::system_clock::duration>(delay, std::chrono::system_clock::duration::zero());
    Timer timer{.id = ++m.timers_armed,
                .at = at.steady + std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay),
                .shown_at = at.system + delay};
    m.timer = timer;
    effect(ArmTimer{timer});
  }
  void cancel_timer() {
    if (!m.timer) return;
    m.timer.reset();
    effect(CancelTimer{});
  }

  void persist() { effect(Persist{m.persisted}); }
  void answer(AttemptResult result) { effect(AnswerWaiters{std::move(result)}); }
  void answer_error(const dps::Error& error) { answer({.assigned = false, .error = error}); }

  Step finish() {
    if (shown_state(m.phase) != shown_before) m.since = at.system;
    return {std::move(m), std::move(effects)};
  }

 private:
  State shown_before;
};

// ---- Shared steps -----------------------------------------------------------------------------------------

void read_identity(Builder& b) {
  b.cancel_timer();
  b.effect(ReadIdentity{});
}

void start_attempt(Builder& b) {
  b.cancel_timer();
  b.m.reprovision_pending = false;
  ++b.m.attempts;
  b.enter(Registering{});
  b.log(LogLevel::info, fmt::format("registering {} with DPS {} (id scope {}), attempt {}", *b.m.registration_id,
                                    b.m.settings.global_endpoint, b.m.settings.id_scope, b.m.attempts));
  b.effect(StartAttempt{*b.m.registration_id, b.m.attempts});
}

void serve_cache(Builder& b, const char* why) {
  b.m.source = Source::cache;
  b.enter(Provisioned{});
  const auto& a = *b.m.persisted.assignment;
  b.log(LogLevel::info, fmt::format("provisioned from the persisted assignment ({}): hub {}, device {}", why, a.hub,
                                    a.device_id));
}

// After a restart, the persisted backoff is continued, but never longer than max_persisted_wait: a time
// further ahead comes from a clock that was set back or a damaged file.
void wait_persisted_backoff(Builder& b) {
  const SystemTime next = *b.m.persisted.retry.next_attempt_at;
  auto delay = next - b.at.system;
  if (delay > b.m.settings.max_persisted_wait) {
    b.log(LogLevel::warn,
          fmt::format("the persisted next attempt ({}) is {} s away, more than the {} s a wait may last (was the "
                      "clock set back?): trying again in {} s",
                      to_rfc3339(next), whole_seconds(delay), b.m.settings.max_persisted_wait.count(),
                      b.m.settings.max_persisted_wait.count()));
    delay = b.m.settings.max_persisted_wait;
  }
  b.enter(WaitingToRetry{});
  b.arm(delay);
  b.log(LogLevel::info, fmt::format("earlier attempts failed ({} in a row): continuing the backoff, next attempt at {}",
                                    b.m.persisted.retry.attempts, to_rfc3339(b.m.timer->shown_at)));
}

// What to do once the identity is known and nothing else was asked for: the start-up policy.
// Dynamic and OnErrorOnly use a persisted assignment as it is; AlwaysOnStartup registers on every start
// (the assignment only serves when DPS cannot be reached, or while a backoff from a moment ago runs).
// Without an assignment, a backoff still running from an earlier run is continued rather than restarted.
void follow_startup_policy(Builder& b) {
  const auto& p = b.m.persisted;
  const bool backoff_running = !p.retry.may_attempt(b.at.system);
  if (p.assignment && (b.m.settings.mode != config::ReprovisioningMode::always_on_startup || backoff_running)) {
    serve_cache(b, b.m.settings.mode == config::ReprovisioningMode::always_on_startup
                       ? "AlwaysOnStartup, DPS failed moments ago"
                       : "no DPS request made");
    return;
  }
  if (backoff_running) return wait_persisted_backoff(b);
  start_attempt(b);
}

PersistedState fresh_state(const Model& m, const std::string& registration_id) {
  return PersistedState{.settings = {.global_endpoint = m.settings.global_endpoint,
                                     .id_scope = m.settings.id_scope,
                                     .registration_id = registration_id,
                                     .attestation = std::string(dps::to_string(m.settings.attestation))},
                        .assignment = std::nullopt,
                        .retry = {}};
}

void tpm_healthy(Builder& b, const IdentityRead& read) {
  if (!b.m.settings.tpm) return;
  b.m.tpm.available = true;
  b.m.tpm.error.reset();
  b.m.tpm.registration_id = read.registration_id;
  if (read.auth_key_present) b.m.tpm.auth_key_present = read.auth_key_present;
  b.m.tpm_retry = {};
}

void tpm_trouble(Builder& b, const dps::Error& error) {
  if (!tpm_unusable(error)) return;
  b.m.tpm.available = false;
  b.m.tpm.error = error;
}

// Waits before reading the TPM again (Settings::tpm_poll says how long, and why no jitter is needed).
void arm_tpm_retry(Builder& b) {
  const auto& s = b.m.settings;
  const unsigned n = ++b.m.tpm_retry.attempts;
  std::chrono::seconds delay = s.tpm_poll;
  if (n > s.tpm_quick_polls) {
    const unsigned doublings = std::min(n - s.tpm_quick_polls, 16u);
    delay = std::min<std::chrono::seconds>(s.tpm_max_poll, s.tpm_poll * (1LL << doublings));
  }
  b.arm(delay);
  b.m.tpm_retry.next_attempt_at = b.m.timer->shown_at;
}

// ---- Events -------------------------------------------------------------------------------------------

void on(Builder& b, const Start& start) {
  if (!std::holds_alternative<ReadingIdentity>(b.m.phase) || b.m.started) return;
  b.m.started = true;
  const auto& s = b.m.settings;
  // Dynamic / OnErrorOnly with the TPM's registration id: the persisted assignment serves at once, before
  // the TPM has been asked (opening it takes tens of milliseconds; after a boot it may not answer for
  // seconds). The TPM's answer confirms the registration id; a different TPM sets the file aside.
  if (s.registration_id_from_tpm && s.mode != config::ReprovisioningMode::always_on_startup && start.peeked &&
      start.peeked->assignment && start.peeked->settings.global_endpoint == s.global_endpoint &&
      start.peeked->settings.id_scope == s.id_scope &&
      start.peeked->settings.attestation == dps::to_string(s.attestation)) {
    b.m.persisted = *start.peeked;
    b.m.registration_id = start.peeked->settings.registration_id;
    b.m.source = Source::cache;
    b.enter(ServingCache{.reading = true});
    const auto& a = *b.m.persisted.assignment;
    b.log(LogLevel::info, fmt::format("provisioned from the persisted assignment (mode {}): hub {}, device {}; the "
                                      "TPM confirms the registration id {} when it answers",
                                      config::to_string(s.mode), a.hub, a.device_id, *b.m.registration_id));
  }
  read_identity(b);
}

void on(Builder& b, const IdentityRead& read) {
  const bool was_serving = std::holds_alternative<ServingCache>(b.m.phase);
  const bool probing = std::holds_alternative<Provisioned>(b.m.phase) && std::get<Provisioned>(b.m.phase).probing;
  const bool reading = (std::holds_alternative<ReadingIdentity>(b.m.phase) && b.m.started) ||
                       (was_serving && std::get<ServingCache>(b.m.phase).reading) || probing;
  if (!reading) return;  // no read was asked for: a late answer after stop

  const std::optional<std::string> known = b.m.registration_id;
  tpm_healthy(b, read);
  b.m.registration_id = read.registration_id;
  b.m.identity_confirmed = true;

  if (probing) {
    b.enter(Provisioned{});
    if (known == read.registration_id) {
      b.log(LogLevel::info, "the TPM answers again");
      return;
    }
    b.log(LogLevel::warn, fmt::format("the TPM's registration id is now {}, not {}: registering with DPS",
                                      read.registration_id, known.value_or("")));
    b.m.persisted = read.loaded.value_or(fresh_state(b.m, read.registration_id));
    b.m.source.reset();
    return start_attempt(b);
  }

  const bool confirmed_cache =
      was_serving && known == read.registration_id && read.loaded && read.loaded->assignment;
  if (confirmed_cache) {
    b.m.persisted = *read.loaded;
    b.enter(Provisioned{});
    b.log(LogLevel::info, fmt::format("the TPM confirms the registration id {} of the persisted assignment",
                                      read.registration_id));
    if (b.m.reprovision_pending) start_attempt(b);
    return;
  }
  if (was_serving) {
    if (known != read.registration_id)
      b.log(LogLevel::warn, fmt::format("the TPM's registration id is {}, not {} as in the persisted assignment: "
                                        "registering with DPS",
                                        read.registration_id, known.value_or("")));
    else
      b.log(LogLevel::warn, "the persisted assignment can no longer be used (see the warning above): registering "
                            "with DPS");
    b.m.source.reset();
  }
  b.m.persisted = read.loaded.value_or(fresh_state(b.m, read.registration_id));
  if (b.m.reprovision_pending) return start_attempt(b);
  follow_startup_policy(b);
}

void on(Builder& b, const IdentityUnavailable& unavailable) {
  const auto& error = unavailable.error;
  const Phase& phase = b.m.phase;
  const bool reading = (std::holds_alternative<ReadingIdentity>(phase) && b.m.started) ||
                       (std::holds_alternative<ServingCache>(phase) && std::get<ServingCache>(phase).reading);
  const bool probing = std::holds_alternative<Provisioned>(phase) && std::get<Provisioned>(phase).probing;
  if (!reading && !probing) return;
  tpm_trouble(b, error);

  if (probing) {
    // Still provisioned: the assignment is valid; only signatures wait for the TPM.
    b.enter(Provisioned{});
    if (error.transient) {
      arm_tpm_retry(b);
      b.log(LogLevel::warn, fmt::format("the TPM still cannot be used: {}; trying again at {}", error.message,
                                        to_rfc3339(b.m.timer->shown_at)));
    } else {
      b.log(LogLevel::error, fmt::format("the TPM cannot be used: {}", error.message));
    }
    return;
  }

  if (!error.transient) {
    b.log(LogLevel::error, fmt::format("the device identity cannot be read: {}", error.message));
    b.m.last_attempt = Attempt{.at = b.at.system, .outcome = "error", .error = error};
    b.enter(Failed{error});
    b.answer_error(error);
    return;
  }
  b.answer_error(error);
  arm_tpm_retry(b);
  if (std::holds_alternative<ServingCache>(phase)) {
    // The boot case: the TPM (its resource manager, TBS) comes up after the service. The device stays
    // provisioned from its cache and is confirmed as soon as the TPM answers.
    b.enter(ServingCache{.reading = false});
    b.log(LogLevel::warn, fmt::format("the TPM cannot be reached yet: {}; serving the persisted assignment and "
                                      "asking the TPM again at {}",
                                      error.message, to_rfc3339(b.m.timer->shown_at)));
    return;
  }
  b.m.last_attempt = Attempt{.at = b.at.system, .outcome = "error", .error = error};
  b.enter(WaitingForTpm{});
  b.log(LogLevel::warn, fmt::format("the TPM cannot be reached: {}; trying again at {}", error.message,
                                    to_rfc3339(b.m.timer->shown_at)));
}

void on(Builder& b, const AttemptFinished& finished) {
  if (!std::holds_alternative<Registering>(b.m.phase)) return;
  const bool startup = std::exchange(b.m.startup_attempt, false);
  if (const auto* assigned = std::get_if<dps::Assigned>(&finished.outcome)) {
    Assignment assignment{.hub = assigned->hub,
                          .device_id = assigned->device_id,
                          .substatus = assigned->substatus,
                          .assigned_at = b.at.system,
                          .payload = assigned->payload};
    b.m.persisted.assignment = assignment;
    b.m.persisted.retry = {};
    b.persist();
    b.m.source = Source::dps;
    b.m.last_attempt = Attempt{.at = b.at.system, .outcome = "assigned", .error = std::nullopt};
    if (b.m.settings.tpm) {
      b.m.tpm.available = true;
      b.m.tpm.error.reset();
      b.m.tpm.auth_key_present = true;
    }
    b.enter(Provisioned{});
    b.log(LogLevel::info, fmt::format("provisioned: hub {}, device {}", assignment.hub, assignment.device_id));
    b.answer({.assigned = true, .error = std::nullopt});
    return;
  }

  const auto& error = std::get<dps::Error>(finished.outcome);
  tpm_trouble(b, error);
  b.m.last_attempt = Attempt{.at = b.at.system, .outcome = "error", .error = error};

  if (!error.transient) {
    if (invalidates_assignment(error) && b.m.persisted.assignment) {
      b.log(LogLevel::warn, fmt::format("DPS rejected this device; the persisted assignment ({} / {}) is deleted "
                                        "and will not be used",
                                        b.m.persisted.assignment->hub, b.m.persisted.assignment->device_id));
      b.m.persisted.assignment.reset();
      b.m.source.reset();
    }
    b.m.persisted.retry = {};
    b.persist();
    b.enter(Failed{error});
    b.log(LogLevel::error, fmt::format("provisioning failed: {}", error.message));
    b.answer_error(error);
    return;
  }

  b.m.persisted.retry = dps::schedule_after_failure(b.m.persisted.retry, b.m.settings.backoff, b.at.system,
                                                    error.retry_after(), [r = b.at.random] { return r; })
                            .value_or(b.m.persisted.retry);
  b.persist();
  if (falls_back_to_cache(b.m, error, startup)) {
    b.m.source = Source::cache;
    b.enter(Provisioned{});
    b.log(LogLevel::warn, fmt::format("DPS could not be reached ({}); using the persisted assignment: hub {}, device {}",
                                      error.message, b.m.persisted.assignment->hub,
                                      b.m.persisted.assignment->device_id));
    b.answer_error(error);
    return;
  }
  b.enter(WaitingToRetry{});
  b.arm(b.m.persisted.retry.next_attempt_at.value_or(b.at.system) - b.at.system);
  b.log(LogLevel::warn, fmt::format("attempt {} failed: {}; next attempt at {} (in {} s)", b.m.attempts, error.message,
                                    to_rfc3339(b.m.timer->shown_at),
                                    whole_seconds(b.m.timer->shown_at - b.at.system)));
  b.answer_error(error);
}

void on(Builder& b, const TimerFired& fired) {
  if (!b.m.timer || b.m.timer->id != fired.id) return;  // cancelled or replaced meanwhile
  b.m.timer.reset();
  std::visit(Overloaded{
                 [&](const WaitingForTpm&) {
                   b.enter(ReadingIdentity{});
                   read_identity(b);
                 },
                 [&](const ServingCache&) {
                   b.enter(ServingCache{.reading = true});
                   read_identity(b);
                 },
                 [&](const WaitingToRetry&) { start_attempt(b); },
                 [&](const Provisioned&) {
                   b.enter(Provisioned{.probing = true});
                   read_identity(b);
                 },
                 [](const auto&) {},
             },
             b.m.phase);
}

void on(Builder& b, const ReprovisionRequested&) {
  std::visit(Overloaded{
                 [&](const ReadingIdentity&) {
                   b.m.reprovision_pending = true;
                   b.log(LogLevel::info, "reprovision requested: registering once the device identity is known");
                 },
                 [&](const WaitingForTpm&) {
                   b.m.reprovision_pending = true;
                   b.log(LogLevel::info, "reprovision requested: reading the TPM again now, then registering");
                   b.enter(ReadingIdentity{});
                   read_identity(b);
                 },
                 [&](const ServingCache& serving) {
                   b.m.reprovision_pending = true;
                   b.log(LogLevel::info, "reprovision requested: registering once the TPM confirms the identity");
                   if (!serving.reading) {
                     b.enter(ServingCache{.reading = true});
                     read_identity(b);
                   }
                 },
                 [&](const Registering&) {
                   b.log(LogLevel::info, "reprovision requested: joining the registration in progress");
                 },
                 [&](const WaitingToRetry&) {
                   b.log(LogLevel::info, "reprovision requested: registering now instead of at the end of the backoff");
                   start_attempt(b);
                 },
                 [&](const Provisioned&) {
                   b.log(LogLevel::info, "reprovision requested: registering with DPS again");
                   start_attempt(b);
                 },
                 [&](const Failed&) {
                   if (b.m.identity_confirmed) {
                     b.log(LogLevel::info, "reprovision requested: registering with DPS again");
                     return start_attempt(b);
                   }
                   b.m.reprovision_pending = true;
                   b.log(LogLevel::info, "reprovision requested: reading the device identity again, then registering");
                   b.enter(ReadingIdentity{});
                   read_identity(b);
                 },
                 [&](const Stopped&) {
                   b.answer_error(dps::service_stopping("edgeprovd is stopping; nothing was registered"));
                 },
             },
             b.m.phase);
}

void on(Builder& b, const TpmFailed& failed) {
  if (std::holds_alternative<Stopped>(b.m.phase)) return;
  if (!tpm_unusable(failed.error)) return;
  const bool was_available = b.m.tpm.available.value_or(true);
  tpm_trouble(b, failed.error);
  if (auto* provisioned = std::get_if<Provisioned>(&b.m.phase);
      provisioned && !provisioned->probing && !b.m.timer && failed.error.transient) {
    // Stays provisioned (the assignment is valid); the TPM is asked again until it answers, so status
    // clears the error and signatures work again without anyone acting.
    arm_tpm_retry(b);
    if (was_available)
      b.log(LogLevel::warn, fmt::format("the TPM cannot be used: {}; the device stays provisioned, signatures fail "
                                        "until the TPM answers (asking again at {})",
                                        failed.error.message, to_rfc3339(b.m.timer->shown_at)));
  }
}

void on(Builder& b, const TpmAnswered&) {
  if (std::holds_alternative<Stopped>(b.m.phase) || b.m.tpm.available.value_or(true)) return;
  b.m.tpm.available = true;
  b.m.tpm.error.reset();
  b.m.tpm_retry = {};
  if (auto* provisioned = std::get_if<Provisioned>(&b.m.phase); provisioned && !provisioned->probing) b.cancel_timer();
  b.log(LogLevel::info, "the TPM answers again");
}

void on(Builder& b, const Stop&) {
  if (std::holds_alternative<Stopped>(b.m.phase)) return;
  const State shown = shown_state(b.m.phase);
  b.cancel_timer();
  if (std::holds_alternative<Registering>(b.m.phase)) b.effect(CancelAttempt{});
  b.answer_error(dps::service_stopping("edgeprovd is stopping; the registration was cancelled"));
  b.enter(Stopped{shown});
}

}  // namespace

Model initial_model(Settings settings, SystemTime now) {
  Model m;
  m.settings = std::move(settings);
  m.since = now;
  return m;
}

Step transition(const Model& model, const Event& event, const Moment& at) {
  Builder b(model, at);
  std::visit([&](const auto& e) { on(b, e); }, event);
  return b.finish();
}

State shown_state(const Phase& phase) {
  return std::visit(Overloaded{
                        [](const ReadingIdentity&) { return State::starting; },
                        [](const WaitingForTpm&) { return State::retrying; },
                        [](const ServingCache&) { return State::provisioned; },
                        [](const Registering&) { return State::provisioning; },
                        [](const WaitingToRetry&) { return State::retrying; },
                        [](const Provisioned&) { return State::provisioned; },
                        [](const Failed&) { return State::failed; },
                        [](const Stopped& s) { return s.shown; },
                    },
                    phase);
}

StatusSnapshot project(const Model& m, StatusSnapshot s) {
  s.state = shown_state(m.phase);
  s.since = m.since;
  // An assignment is shown while it is in use (source set): served from the cache or obtained from DPS in
  // this run. AlwaysOnStartup's persisted fallback is not in use while DPS is being asked.
  const bool in_use = m.source.has_value() && m.persisted.assignment.has_value();
  s.assignment = in_use ? m.persisted.assignment : std::nullopt;
  s.source = in_use ? m.source : std::nullopt;
  s.last_attempt = m.last_attempt;
  const bool waiting = std::holds_alternative<WaitingForTpm>(m.phase) || std::holds_alternative<WaitingToRetry>(m.phase);
  s.next_attempt_at = waiting && m.timer ? std::optional(m.timer->shown_at) : std::nullopt;
  s.attempts = m.attempts;
  if (m.registration_id) s.provisioning.registration_id = m.registration_id;
  if (m.settings.tpm) {
    s.tpm.available = m.tpm.available;
    s.tpm.registration_id = m.tpm.registration_id;
    if (m.tpm.auth_key_present) s.tpm.auth_key_present = m.tpm.auth_key_present;
    s.tpm.error = m.tpm.error;
  }
  return s;
}

std::string_view phase_name(const Phase& phase) {
  return std::visit(Overloaded{
                        [](const ReadingIdentity&) { return "ReadingIdentity"; },
                        [](const WaitingForTpm&) { return "WaitingForTpm"; },
                        [](const ServingCache& s) { return s.reading ? "ServingCache(reading)" : "ServingCache(waiting)"; },
                        [](const Registering&) { return "Registering"; },
                        [](const WaitingToRetry&) { return "WaitingToRetry"; },
                        [](const Provisioned& p) { return p.probing ? "Provisioned(probing)" : "Provisioned"; },
                        [](const Failed&) { return "Failed"; },
                        [](const Stopped&) { return "Stopped"; },
                    },
                    phase);
}

std::string_view event_name(const Event& event) {
  return std::visit(Overloaded{
                        [](const Start&) { return "Start"; },
                        [](const IdentityRead&) { return "IdentityRead"; },
                        [](const IdentityUnavailable&) { return "IdentityUnavailable"; },
                        [](const AttemptFinished&) { return "AttemptFinished"; },
                        [](const TimerFired&) { return "TimerFired"; },
                        [](const ReprovisionRequested&) { return "ReprovisionRequested"; },
                        [](const TpmFailed&) { return "TpmFailed"; },
                        [](const TpmAnswered&) { return "TpmAnswered"; },
                        [](const Stop&) { return "Stop"; },
                    },
                    event);
}

std::string_view effect_name(const Effect& effect) {
  return std::visit(Overloaded{
                        [](const ReadIdentity&) { return "ReadIdentity"; },
                        [](const StartAttempt&) { return "StartAttempt"; },
                        [](const CancelAttempt&) { return "CancelAttempt"; },
                        [](const Persist&) { return "Persist"; },
                        [](const ArmTimer&) { return "ArmTimer"; },
                        [](const CancelTimer&) { return "CancelTimer"; },
                        [](const AnswerWaiters&) { return "AnswerWaiters"; },
                        [](const Log&) { return "Log"; },
                    },
                    effect);
}

}  // namespace edgeprov::service::provisioning
