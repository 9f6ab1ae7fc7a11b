#include "service/provisioner.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/crypto.h"
#include "dps/proxy.h"
#include "dps/tls.h"
#include "service/build_info.h"
#include "service/provisioning_policy.h"

namespace edgeprov::service {

namespace {

SystemTime now() { return std::chrono::system_clock::now(); }

AttemptError to_attempt_error(const dps::RegistrationFailure& failure) {
  return {.kind = failure.kind, .http_status = failure.http_status, .code = failure.code, .message = failure.message};
}

AttemptError to_attempt_error(const dps::CredentialError& error) {
  return {.kind = error.kind, .http_status = std::nullopt, .code = error.code, .message = error.message};
}

AttemptError config_error(std::string message) {
  return {.kind = "config", .http_status = std::nullopt, .code = std::nullopt, .message = std::move(message)};
}

std::uint64_t random_seed() {
  const Bytes bytes = random_bytes(8);
  std::uint64_t seed = 0;
  for (auto b : bytes) seed = (seed << 8) | b;
  return seed;
}

std::string user_agent() {
  return fmt::format("edgeprov/{} ({})", build_info().version, build_info().platform);
}

// `payload = { uri = "file:///…" }`: the JSON sent as the registration payload. Read for every attempt so
// an operator can fix the file and reprovision without restarting the service.
std::variant<nlohmann::json, AttemptError> read_payload(const std::string& uri) {
  const auto path = config::local_path(uri);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return config_error(fmt::format("cannot read the registration payload file {} ([provisioning] payload uri): "
                                    "check that it exists and that edgeprovd may read it",
                                    path.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto payload = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) {
    return config_error(fmt::format("the registration payload file {} is not valid JSON: fix the file (it is sent "
                                    "to DPS as is), then run edgeprovctl reprovision",
                                    path.string()));
  }
  return payload;
}

std::chrono::steady_clock::duration until(SystemTime when) {
  return std::max<std::chrono::steady_clock::duration>(std::chrono::steady_clock::duration::zero(),
                                                      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          when - now()));
}

}  // namespace

Provisioner::Provisioner(const config::Config& config, boost::asio::io_context& io, StatusBoard& status,
                         tpm::Worker& tpm)
    : config_(config),
      io_(io),
      status_(status),
      tpm_(tpm),
      store_(config.state.dir),
      random_(dps::seeded_unit_random(random_seed())),
      retry_timer_(io),
      tpm_retry_timer_(io) {}

Provisioner::~Provisioner() {
  // Normally stop() ran already; after a failed start the attempt and timers must not call back into a
  // destroyed Provisioner either.
  stopped_ = true;
  retry_timer_.cancel();
  tpm_retry_timer_.cancel();
  if (registration_) registration_->cancel();
}

void Provisioner::start() {
  // Dynamic / OnErrorOnly with a TPM-derived registration id: the persisted assignment is used at once,
  // before the TPM has been asked for its EK (opening the TPM takes tens of milliseconds, and after a
  // boot the TPM may not be ready at all). The registration id it was written for is checked as soon as
  // the TPM answers; a different TPM sets the file aside and registers.
  const auto& attestation = config_.provisioning.attestation;
  if (attestation.method == config::AttestationMethod::tpm && !attestation.registration_id &&
      config_.auto_reprovisioning_mode != config::ReprovisioningMode::always_on_startup) {
    auto peeked = store_.peek();
    if (peeked && peeked->assignment && peeked->settings.global_endpoint == config_.provisioning.global_endpoint &&
        peeked->settings.id_scope == config_.provisioning.id_scope && peeked->settings.attestation == "tpm") {
      provisional_registration_id_ = peeked->settings.registration_id;
      registration_id_ = peeked->settings.registration_id;
      persisted_ = *peeked;
      status_.update([&](StatusSnapshot& s) { s.provisioning.registration_id = *provisional_registration_id_; });
      follow_plan({.action = StartupAction::use_cache});
    }
  }
  resolve_identity();
}

void Provisioner::stop() {
  stopped_ = true;
  retry_timer_.cancel();
  tpm_retry_timer_.cancel();
  if (registration_) registration_->cancel();
  registration_.reset();
  if (channel_) channel_->close();
  finish_waiters({.assigned = false,
                  .error = AttemptError{.kind = "service", .message = "edgeprovd is stopping; the registration "
                                                                      "was cancelled"}});
}

// ---- Identity ---------------------------------------------------------------------------------------

void Provisioner::resolve_identity() {
  if (resolving_) return;
  const auto& attestation = config_.provisioning.attestation;
  if (attestation.method != config::AttestationMethod::tpm) {
    auto id = configured_registration_id(config_);
    if (auto* error = std::get_if<CredentialSetupError>(&id)) {
      enter_failed(config_error(error->message), now());
      finish_waiters({.assigned = false, .error = config_error(error->message)});
      return;
    }
    auto credential = make_software_credential(config_, std::get<std::string>(id));
    if (auto* error = std::get_if<CredentialSetupError>(&credential)) {
      enter_failed(config_error(error->message), now());
      finish_waiters({.assigned = false, .error = config_error(error->message)});
      return;
    }
    credential_ = std::move(std::get<std::unique_ptr<DeviceCredential>>(credential));
    identity_resolved(std::get<std::string>(id));
    return;
  }

  if (!credential_) {
    auto credential = std::make_unique<TpmCredential>(tpm_, io_.get_executor());
    tpm_credential_ = credential.get();
    credential_ = std::move(credential);
  }
  resolving_ = true;
  tpm_.async_keys(io_.get_executor(), [this](tpm::Result<tpm::PublicKeys> keys) {
    resolving_ = false;
    if (stopped_) return;
    if (!keys.ok()) {
      const auto error = credential_error(keys.error());
      const AttemptError attempt_error = to_attempt_error(error);
      if (!error.transient) {
        spdlog::error("the TPM cannot be used: {}", error.message);
        enter_failed(attempt_error, now());
        finish_waiters({.assigned = false, .error = attempt_error});
        return;
      }
      // A TPM that is not there yet (simulator starting, device reset) may come back: try again with the
      // same backoff as DPS failures, without counting it as a DPS attempt.
      auto schedule = dps::schedule_after_failure(tpm_retry_, backoff_, now(), {}, random_);
      tpm_retry_ = schedule.value_or(tpm_retry_);
      const SystemTime next = tpm_retry_.next_attempt_at.value_or(now());
      spdlog::warn("the TPM cannot be reached: {}; trying again at {}", error.message, to_rfc3339(next));
      status_.enter(State::retrying, now(), [&](StatusSnapshot& s) {
        s.last_attempt = Attempt{.at = now(), .outcome = "error", .error = attempt_error};
        s.next_attempt_at = next;
        publish_tpm_facts(s);
      });
      finish_waiters({.assigned = false, .error = attempt_error});
      tpm_retry_timer_.expires_after(until(next));
      tpm_retry_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && !stopped_) resolve_identity();
      });
      return;
    }
    tpm_retry_ = {};
    const auto& k = keys.value();
    tpm_credential_->set_tpm_keys({.endorsement_key = k.endorsement_key, .storage_root_key = k.storage_root_key});
    identity_resolved(config_.provisioning.attestation.registration_id.value_or(k.registration_id));
  });
}

void Provisioner::identity_resolved(std::string registration_id) {
  registration_id_ = std::move(registration_id);
  identity_ready_ = true;
  status_.update([&](StatusSnapshot& s) {
    s.provisioning.registration_id = registration_id_;
    publish_tpm_facts(s);
  });

  const PersistedSettings expected{.global_endpoint = config_.provisioning.global_endpoint,
                                   .id_scope = config_.provisioning.id_scope,
                                   .registration_id = registration_id_,
                                   .attestation = std::string(config::to_string(config_.provisioning.attestation.method))};
  auto loaded = store_.load(expected);
  persisted_ = loaded.value_or(PersistedState{.settings = expected, .assignment = std::nullopt, .retry = {}});

  if (auto provisional = std::exchange(provisional_registration_id_, std::nullopt)) {
    if (*provisional == registration_id_ && loaded) {
      if (reprovision_pending_) {
        reprovision_pending_ = false;
        attempt();
      }
      return;  // already provisioned from the cache; the TPM confirmed it is the same device
    }
    spdlog::warn("the TPM's registration id is {}, not {} as in the persisted assignment: registering with DPS",
                 registration_id_, *provisional);
    source_.reset();
    status_.enter(State::starting, now(), [](StatusSnapshot& s) {
      s.assignment.reset();
      s.source.reset();
    });
  }

  if (reprovision_pending_) {
    reprovision_pending_ = false;
    attempt();
    return;
  }
  follow_plan(plan_startup(config_.auto_reprovisioning_mode, loaded, now()));
}

void Provisioner::follow_plan(const StartupPlan& plan) {
  switch (plan.action) {
    case StartupAction::use_cache: {
      source_ = Source::cache;
      const auto& a = *persisted_.assignment;
      status_.enter(State::provisioned, now(), [&](StatusSnapshot& s) {
        s.source = Source::cache;
        s.assignment = a;
        s.next_attempt_at.reset();
        publish_tpm_facts(s);
      });
      spdlog::info("provisioned from the persisted assignment (mode {}): hub {}, device {}; no DPS request made",
                   config::to_string(config_.auto_reprovisioning_mode), a.hub, a.device_id);
      return;
    }
    case StartupAction::wait_backoff: {
      const SystemTime next = *plan.wait_until;
      spdlog::info("earlier attempts failed ({} in a row): continuing the backoff, next attempt at {}",
                   persisted_.retry.attempts, to_rfc3339(next));
      status_.enter(State::retrying, now(), [&](StatusSnapshot& s) {
        s.next_attempt_at = next;
        publish_tpm_facts(s);
      });
      retry_at(next);
      return;
    }
    case StartupAction::register_now:
      attempt();
      return;
  }
}

// ---- Attempts ---------------------------------------------------------------------------------------

std::optional<AttemptError> Provisioner::prepare_channel() {
  if (channel_) return std::nullopt;
  const bool mqtt = config_.dps.transport == config::Transport::mqtt;
  auto server = dps::parse_endpoint(config_.provisioning.global_endpoint, mqtt ? config_.dps.mqtt_port : 443);
  if (auto* error = std::get_if<dps::TransportError>(&server)) return config_error(error->message);
  auto endpoint = std::get<dps::Endpoint>(server);
  if (mqtt) endpoint.port = config_.dps.mqtt_port;  // the https URL's port is the HTTPS one

  dps::TlsSettings tls;
  if (config_.dps.trusted_ca) tls.trusted_ca = config::local_path(*config_.dps.trusted_ca);
  const auto& attestation = config_.provisioning.attestation;
  if (attestation.method == config::AttestationMethod::x509) {
    if (attestation.identity_cert) tls.client_cert = config::local_path(*attestation.identity_cert);
    if (attestation.identity_pk) tls.client_key = config::local_path(*attestation.identity_pk);
  }

  if (!mqtt) {
    auto proxy = dps::select_proxy(config_.dps.proxy, endpoint.host, dps::process_environment());
    if (auto* error = std::get_if<dps::TransportError>(&proxy)) return config_error(error->message);
    dps::HttpsSettings settings{.server = endpoint,
                                .tls = tls,
                                .proxy = std::get<std::optional<dps::ProxyUrl>>(proxy),
                                .timeout = config_.cloud_timeout};
    auto transport = dps::HttpsTransport::create(io_.get_executor(), std::move(settings));
    if (auto* error = std::get_if<dps::TransportError>(&transport)) return config_error(error->message);
    https_ = std::get<std::shared_ptr<dps::HttpsTransport>>(transport);
    channel_ = dps::make_https_channel(https_, config_.provisioning.id_scope, registration_id_, user_agent());
    return std::nullopt;
  }
  dps::MqttSettings settings{.server = endpoint,
                             .tls = tls,
                             .id_scope = config_.provisioning.id_scope,
                             .registration_id = registration_id_,
                             .password = std::nullopt,
                             .client_version = {},
                             .timeout = config_.cloud_timeout};
  auto transport = dps::MqttTransport::create(io_.get_executor(), std::move(settings));
  if (auto* error = std::get_if<dps::TransportError>(&transport)) return config_error(error->message);
  mqtt_ = std::get<std::shared_ptr<dps::MqttTransport>>(transport);
  channel_ = dps::make_mqtt_channel(mqtt_);
  return std::nullopt;
}

void Provisioner::attempt() {
  retry_timer_.cancel();
  if (stopped_ || registration_) return;

  dps::RegistrationRequest request{.id_scope = config_.provisioning.id_scope,
                                   .registration_id = registration_id_};
  if (config_.provisioning.payload_uri) {
    auto payload = read_payload(*config_.provisioning.payload_uri);
    if (auto* error = std::get_if<AttemptError>(&payload)) {
      enter_failed(*error, now());
      finish_waiters({.assigned = false, .error = *error});
      return;
    }
    request.payload = std::get<nlohmann::json>(std::move(payload));
  }
  if (auto error = prepare_channel()) {
    spdlog::error("cannot reach DPS: {}", error->message);
    enter_failed(*error, now());
    finish_waiters({.assigned = false, .error = *error});
    return;
  }

  ++attempts_;
  status_.enter(State::provisioning, now(), [&](StatusSnapshot& s) {
    s.attempts = attempts_;
    s.next_attempt_at.reset();
    publish_tpm_facts(s);
  });
  spdlog::info("registering {} with DPS {} (id scope {}) over {}, {} attestation, attempt {}", registration_id_,
               config_.provisioning.global_endpoint, config_.provisioning.id_scope,
               config::to_string(config_.dps.transport), config::to_string(config_.provisioning.attestation.method),
               attempts_);
  registration_ = dps::Registration::start(io_.get_executor(), *channel_, *credential_, std::move(request),
                                           [this](dps::RegistrationOutcome outcome) {
                                             if (stopped_) return;
                                             attempt_finished(std::move(outcome));
                                           });
}

void Provisioner::attempt_finished(dps::RegistrationOutcome outcome) {
  registration_.reset();
  const bool startup = std::exchange(startup_attempt_, false);
  const SystemTime at = now();
  if (const auto* assigned = std::get_if<dps::Assigned>(&outcome)) {
    on_assigned(*assigned, at);
  } else {
    on_failure(std::get<dps::RegistrationFailure>(outcome), at, startup);
  }
}

void Provisioner::on_assigned(const dps::Assigned& assigned, SystemTime at) {
  Assignment assignment{.hub = assigned.hub,
                        .device_id = assigned.device_id,
                        .substatus = assigned.substatus,
                        .assigned_at = at,
                        .payload = assigned.payload};
  persisted_.assignment = assignment;
  persisted_.retry = {};
  persist();
  source_ = Source::dps;
  status_.enter(State::provisioned, at, [&](StatusSnapshot& s) {
    s.source = Source::dps;
    s.assignment = assignment;
    s.last_attempt = Attempt{.at = at, .outcome = "assigned", .error = std::nullopt};
    s.next_attempt_at.reset();
    s.attempts = attempts_;
    publish_tpm_facts(s);
  });
  spdlog::info("provisioned: hub {}, device {}; the assignment is kept in {}", assignment.hub,
               assignment.device_id, store_.file().string());
  finish_waiters({.assigned = true, .error = std::nullopt});
}

void Provisioner::on_failure(const dps::RegistrationFailure& failure, SystemTime at, bool startup) {
  const AttemptError error = to_attempt_error(failure);
  const Attempt last{.at = at, .outcome = "error", .error = error};

  if (!failure.transient) {
    if (invalidates_assignment(failure) && persisted_.assignment) {
      spdlog::warn("DPS rejected this device; the persisted assignment ({} / {}) is deleted and will not be used",
                   persisted_.assignment->hub, persisted_.assignment->device_id);
      persisted_.assignment.reset();
      source_.reset();
    }
    persisted_.retry = {};
    persist();
    spdlog::error("provisioning failed: {}", failure.message);
    status_.enter(State::failed, at, [&](StatusSnapshot& s) {
      s.last_attempt = last;
      s.next_attempt_at.reset();
      s.attempts = attempts_;
      s.assignment = persisted_.assignment;
      s.source = persisted_.assignment ? source_ : std::nullopt;
      publish_tpm_facts(s);
    });
    finish_waiters({.assigned = false, .error = error});
    return;
  }

  persisted_.retry =
      dps::schedule_after_failure(persisted_.retry, backoff_, at, failure.retry_after, random_).value_or(persisted_.retry);
  persist();

  if (falls_back_to_cache(config_.auto_reprovisioning_mode, failure, persisted_.assignment.has_value(), startup)) {
    source_ = Source::cache;
    spdlog::warn("DPS could not be reached ({}); using the persisted assignment: hub {}, device {}", failure.message,
                 persisted_.assignment->hub, persisted_.assignment->device_id);
    status_.enter(State::provisioned, at, [&](StatusSnapshot& s) {
      s.source = Source::cache;
      s.assignment = persisted_.assignment;
      s.last_attempt = last;
      s.next_attempt_at.reset();
      s.attempts = attempts_;
      publish_tpm_facts(s);
    });
    finish_waiters({.assigned = false, .error = error});
    return;
  }

  const SystemTime next = persisted_.retry.next_attempt_at.value_or(at);
  spdlog::warn("attempt {} failed: {}; next attempt at {} (in {} s)", attempts_, failure.message, to_rfc3339(next),
               std::chrono::duration_cast<std::chrono::seconds>(next - at).count());
  status_.enter(State::retrying, at, [&](StatusSnapshot& s) {
    s.last_attempt = last;
    s.next_attempt_at = next;
    s.attempts = attempts_;
    publish_tpm_facts(s);
  });
  finish_waiters({.assigned = false, .error = error});
  retry_at(next);
}

void Provisioner::retry_at(SystemTime when) {
  retry_timer_.expires_after(until(when));
  retry_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && !stopped_) attempt();
  });
}

void Provisioner::enter_failed(AttemptError error, SystemTime at) {
  status_.enter(State::failed, at, [&](StatusSnapshot& s) {
    s.last_attempt = Attempt{.at = at, .outcome = "error", .error = std::move(error)};
    s.next_attempt_at.reset();
    s.attempts = attempts_;
    publish_tpm_facts(s);
  });
}

void Provisioner::finish_waiters(const AttemptResult& result) {
  auto waiters = std::exchange(waiters_, {});
  for (auto& done : waiters) done(result);
}

void Provisioner::persist() {
  try {
    store_.save(persisted_);
  } catch (const std::exception& error) {
    spdlog::warn("state: cannot save {}: {}; the assignment is kept in memory only, fix the directory "
                 "([edgeprov.state] dir) so that a restart can use it",
                 store_.file().string(), error.what());
  }
}

void Provisioner::publish_tpm_facts(StatusSnapshot& s) const {
  if (config_.provisioning.attestation.method != config::AttestationMethod::tpm) return;
  const auto facts = tpm_.snapshot();
  s.tpm.available = facts.available;
  if (facts.registration_id) s.tpm.registration_id = facts.registration_id;
  if (facts.auth_key_present) s.tpm.auth_key_present = facts.auth_key_present;
}

// ---- Requests from the local API --------------------------------------------------------------------

void Provisioner::reprovision(AttemptDone done) {
  if (done) waiters_.push_back(std::move(done));
  if (stopped_) {
    finish_waiters({.assigned = false, .error = AttemptError{.kind = "service", .message = "edgeprovd is stopping"}});
    return;
  }
  if (registration_) {
    spdlog::info("reprovision requested: joining the registration in progress");
    return;
  }
  if (!identity_ready_) {
    // The TPM's keys are still being read, or could not be: register as soon as the identity is known.
    spdlog::info("reprovision requested: registering once the device identity is known");
    reprovision_pending_ = true;
    tpm_retry_timer_.cancel();
    resolve_identity();
    return;
  }
  spdlog::info("reprovision requested: registering with DPS again");
  attempt();
}

std::optional<DeviceIdentity> Provisioner::identity() const {
  const auto snapshot = status_.current();
  if (!snapshot->assignment || !credential_) return std::nullopt;
  return DeviceIdentity{.hub = snapshot->assignment->hub,
                        .device_id = snapshot->assignment->device_id,
                        .registration_id = registration_id_,
                        .key_source = credential_->key_source(),
                        .signs = credential_->signs(),
                        .assigned_at = snapshot->assignment->assigned_at,
                        .source = snapshot->source.value_or(Source::dps)};
}

void Provisioner::async_sign(std::string data, dps::Credential::SignDone done) {
  if (!credential_) {
    done(dps::CredentialError{.kind = "config", .message = "the device identity is not known yet"});
    return;
  }
  credential_->async_sign(std::move(data), std::move(done));
}

}  // namespace edgeprov::service
