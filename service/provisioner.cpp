#include "service/provisioner.h"

#include <spdlog/spdlog.h>

namespace edgeprov::service {

namespace pm = provisioning;

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

provisioning::Settings machine_settings(const config::Config& config) {
  const auto& p = config.provisioning;
  pm::Settings settings;
  settings.mode = config.auto_reprovisioning_mode;
  settings.tpm = p.attestation.method == dps::AttestationMethod::tpm;
  settings.registration_id_from_tpm = settings.tpm && !p.attestation.registration_id;
  settings.global_endpoint = p.global_endpoint;
  settings.id_scope = p.id_scope;
  settings.attestation = p.attestation.method;
  return settings;
}

Provisioner::Provisioner(pm::Settings settings, StatusSnapshot base, ProvisionerPorts ports)
    : model_(pm::initial_model(std::move(settings), ports.clock.system_now())),
      base_(std::move(base)),
      ports_(ports) {}

Provisioner::~Provisioner() { *alive_ = false; }

void Provisioner::start() { dispatch(pm::Start{ports_.storage.peek()}); }

void Provisioner::stop() {
  dispatch(pm::Stop{});
  *alive_ = false;  // nothing a port still delivers reaches the machine now
}

void Provisioner::reprovision(AttemptDone done) {
  if (done) waiters_.push_back(std::move(done));
  dispatch(pm::ReprovisionRequested{});
}

std::optional<DeviceIdentity> Provisioner::identity() const {
  const auto snapshot = pm::project(model_, base_);
  auto* credential = ports_.identity.credential();
  if (!snapshot.assignment || credential == nullptr) return std::nullopt;
  return DeviceIdentity{.hub = snapshot.assignment->hub,
                        .device_id = snapshot.assignment->device_id,
                        .registration_id = model_.registration_id.value_or(""),
                        .key_source = credential->key_source(),
                        .signs = credential->signs(),
                        .assigned_at = snapshot.assignment->assigned_at,
                        .source = snapshot.source.value_or(Source::dps)};
}

void Provisioner::async_sign(std::string data, dps::Credential::SignDone done) {
  auto* credential = ports_.identity.credential();
  if (credential == nullptr) {
    done(dps::config_failure("the device identity is not known yet: see edgeprovctl status"));
    return;
  }
  // The device key always: an attempt in flight signs DPS requests with its own transient key and never
  // touches this one before it is assigned.
  credential->async_sign(dps::DeviceKey{}, std::move(data), [this, alive = alive_, done = std::move(done)](
                                              std::variant<Sha256Digest, dps::Error> result) {
    if (*alive) {
      if (const auto* error = std::get_if<dps::Error>(&result); error && error->kind() == dps::ErrorKind::tpm) {
        dispatch(pm::TpmFailed{*error});
      } else if (std::holds_alternative<Sha256Digest>(result) && model_.settings.tpm) {
        dispatch(pm::TpmAnswered{});
      }
    }
    done(std::move(result));
  });
}

// Events raised while effects run (a port that answers at once) wait in the queue, so every transition
// sees the model its predecessor left and effects run in order.
void Provisioner::dispatch(pm::Event event) {
  queue_.push_back(std::move(event));
  if (dispatching_) return;
  dispatching_ = true;
  while (!queue_.empty()) {
    pm::Event next = std::move(queue_.front());
    queue_.pop_front();
    const pm::Moment at{ports_.clock.steady_now(), ports_.clock.system_now(), ports_.clock.unit_random()};
    auto step = pm::transition(model_, next, at);
    model_ = std::move(step.model);
    // Callers are answered after the new status is published, so an answer and a `status` read right
    // after it agree (the answer of a failed reprovision names the next attempt the status shows).
    std::vector<pm::AnswerWaiters> answers;
    for (auto& effect : step.effects) {
      if (auto* answer = std::get_if<pm::AnswerWaiters>(&effect)) {
        answers.push_back(std::move(*answer));
        continue;
      }
      execute(effect);
    }
    if (!std::holds_alternative<pm::Stopped>(model_.phase)) ports_.status.publish(pm::project(model_, base_));
    for (auto& answer : answers) execute(answer);
  }
  dispatching_ = false;
}

void Provisioner::execute(const pm::Effect& effect) {
  std::visit(Overloaded{
                 [&](const pm::ReadIdentity&) { read_identity(); },
                 [&](const pm::StartAttempt& start) {
                   auto* credential = ports_.identity.credential();
                   if (credential == nullptr) {  // the machine starts attempts only once the identity was read
                     queue_.push_back(pm::AttemptFinished{dps::config_failure("the device identity is not known")});
                     return;
                   }
                   const auto number = ++attempt_no_;
                   ports_.attempts.start(start.registration_id, *credential,
                                         [this, alive = alive_, number](dps::RegistrationOutcome outcome) {
                                           if (!*alive || number != attempt_no_) return;
                                           dispatch(pm::AttemptFinished{std::move(outcome)});
                                         });
                 },
                 [&](const pm::CancelAttempt&) {
                   ++attempt_no_;
                   ports_.attempts.cancel();
                 },
                 [&](const pm::Persist& persist) { ports_.storage.save(persist.state); },
                 [&](const pm::ArmTimer& arm) {
                   ports_.clock.arm(arm.timer.at, [this, alive = alive_, id = arm.timer.id] {
                     if (*alive) dispatch(pm::TimerFired{id});
                   });
                 },
                 [&](const pm::CancelTimer&) { ports_.clock.cancel(); },
                 [&](const pm::AnswerWaiters& answer) {
                   auto waiters = std::exchange(waiters_, {});
                   for (auto& done : waiters) done(answer.result);
                 },
                 [&](const pm::Log& log) {
                   switch (log.level) {
                     case pm::LogLevel::info: spdlog::info("{}", log.message); break;
                     case pm::LogLevel::warn: spdlog::warn("{}", log.message); break;
                     case pm::LogLevel::error: spdlog::error("{}", log.message); break;
                   }
                 },
             },
             effect);
}

void Provisioner::read_identity() {
  const auto read = ++reads_;
  ports_.identity.async_read([this, alive = alive_, read](std::variant<ResolvedIdentity, dps::Error> result) {
    if (!*alive || read != reads_) return;
    if (auto* error = std::get_if<dps::Error>(&result)) {
      dispatch(pm::IdentityUnavailable{std::move(*error)});
      return;
    }
    auto& identity = std::get<ResolvedIdentity>(result);
    // Loaded for the identity just read: a file written for another one is set aside by the storage.
    auto loaded = ports_.storage.load(expected_settings(identity.registration_id));
    dispatch(pm::IdentityRead{identity.registration_id, std::move(loaded), identity.auth_key_present});
  });
}

PersistedSettings Provisioner::expected_settings(const std::string& registration_id) const {
  const auto& s = model_.settings;
  return {.global_endpoint = s.global_endpoint,
          .id_scope = s.id_scope,
          .registration_id = registration_id,
          .attestation = std::string(dps::to_string(s.attestation))};
}

}  // namespace edgeprov::service
