#include "service/provisioner_ports.h"

#include <fstream>
#include <sstream>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "dps/endpoint.h"
#include "dps/proxy.h"
#include "dps/tls.h"
#include "service/build_info.h"

namespace edgeprov::service {

namespace {

// The backoff jitter only has to differ between devices; it protects nothing. std::random_device (the
// kernel's getrandom) seeds it without initialising OpenSSL's DRBG and providers, which a start from the
// cache otherwise never needs.
std::uint64_t random_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) | device();
}

std::string user_agent() {
  return fmt::format("edgeprov/{} ({})", build_info().version, build_info().platform);
}

// `payload = { uri = "file:///…" }`: the JSON sent as the registration payload. Read for every attempt so
// an operator can fix the file and reprovision without restarting the service.
std::variant<nlohmann::json, dps::Error> read_payload(const std::string& uri) {
  const auto path = config::local_path(uri);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return dps::config_failure(fmt::format("cannot read the registration payload file {} ([provisioning] payload "
                                           "uri): check that it exists and that edgeprovd may read it",
                                           path.string()),
                               "provisioning.payload.uri");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto payload = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) {
    return dps::config_failure(fmt::format("the registration payload file {} is not valid JSON: fix the file (it is "
                                           "sent to DPS as is), then run edgeprovctl reprovision",
                                           path.string()),
                               "provisioning.payload.uri");
  }
  return payload;
}

}  // namespace

// ---- AsioClock ----------------------------------------------------------------------------------------------

AsioClock::AsioClock(boost::asio::any_io_executor executor) : timer_(std::move(executor)), random_(random_seed()) {}

SteadyTime AsioClock::steady_now() { return std::chrono::steady_clock::now(); }
SystemTime AsioClock::system_now() { return std::chrono::system_clock::now(); }
double AsioClock::unit_random() { return std::uniform_real_distribution<double>(0.0, 1.0)(random_); }

void AsioClock::arm(SteadyTime at, std::function<void()> fire) {
  const auto generation = ++generation_;
  timer_.expires_at(at);
  timer_.async_wait([this, generation, fire = std::move(fire)](boost::system::error_code ec) {
    // A wait that was cancelled, or replaced by a later arm(), must not fire.
    if (!ec && generation == generation_) fire();
  });
}

void AsioClock::cancel() {
  ++generation_;
  timer_.cancel();
}

// ---- Identity -----------------------------------------------------------------------------------------------

TpmIdentity::TpmIdentity(tpm::Worker& worker, boost::asio::any_io_executor executor,
                         std::optional<std::string> configured_id)
    : worker_(worker), executor_(executor), configured_id_(std::move(configured_id)), credential_(worker, executor) {}

void TpmIdentity::async_read(std::function<void(std::variant<ResolvedIdentity, dps::Error>)> done) {
  worker_.async_keys(executor_, [this, done = std::move(done)](tpm::Result<tpm::PublicKeys> keys) {
    if (!keys.ok()) return done(dps::tpm_failure(keys.error()));
    const auto& k = keys.value();
    credential_.set_tpm_keys({.endorsement_key = k.endorsement_key, .storage_root_key = k.storage_root_key});
    done(ResolvedIdentity{.registration_id = configured_id_.value_or(k.registration_id),
                          .auth_key_present = worker_.snapshot().auth_key_present});
  });
}

void ConfiguredIdentity::async_read(std::function<void(std::variant<ResolvedIdentity, dps::Error>)> done) {
  auto id = configured_registration_id(config_);
  if (auto* error = std::get_if<CredentialSetupError>(&id)) return done(dps::config_failure(error->message));
  auto credential = make_software_credential(config_, std::get<std::string>(id));
  if (auto* error = std::get_if<CredentialSetupError>(&credential)) return done(dps::config_failure(error->message));
  credential_ = std::move(std::get<std::unique_ptr<DeviceCredential>>(credential));
  done(ResolvedIdentity{.registration_id = std::get<std::string>(id), .auth_key_present = std::nullopt});
}

// ---- DPS attempts -------------------------------------------------------------------------------------------

DpsAttempts::~DpsAttempts() { cancel(); }

std::optional<dps::Error> DpsAttempts::prepare_channel(const std::string& registration_id) {
  if (channel_ && channel_registration_id_ == registration_id) return std::nullopt;
  if (channel_) channel_->close();
  channel_.reset();
  https_.reset();
  mqtt_.reset();
  const auto transport = config_.dps.transport;
  auto server = dps::dps_server(config_.provisioning.global_endpoint, transport, config_.dps.mqtt_port);
  if (auto* problem = std::get_if<dps::Problem>(&server))
    return dps::config_failure(problem->problem + ": " + problem->fix, "provisioning.global_endpoint");
  auto endpoint = std::get<dps::Endpoint>(server);

  dps::TlsSettings tls;
  if (config_.dps.trusted_ca) tls.trusted_ca = config::local_path(*config_.dps.trusted_ca);
  const auto& attestation = config_.provisioning.attestation;
  if (attestation.method == dps::AttestationMethod::x509) {
    if (attestation.identity_cert) tls.client_cert = config::local_path(*attestation.identity_cert);
    if (attestation.identity_pk) tls.client_key = config::local_path(*attestation.identity_pk);
  }

  if (transport == dps::Transport::https) {
    auto proxy = dps::select_proxy(config_.dps.proxy, endpoint.host, dps::process_environment());
    if (auto* error = std::get_if<dps::TransportError>(&proxy)) return dps::transport_failure(*error);
    dps::HttpsSettings settings{.server = endpoint,
                                .tls = tls,
                                .proxy = std::get<std::optional<dps::ProxyUrl>>(proxy),
                                .timeout = config_.cloud_timeout};
    auto created = dps::HttpsTransport::create(executor_, std::move(settings));
    if (auto* error = std::get_if<dps::TransportError>(&created)) return dps::transport_failure(*error);
    https_ = std::get<std::shared_ptr<dps::HttpsTransport>>(created);
    channel_ = dps::make_https_channel(https_, config_.provisioning.id_scope, registration_id, user_agent());
  } else {
    dps::MqttSettings settings{.server = endpoint,
                               .tls = tls,
                               .id_scope = config_.provisioning.id_scope,
                               .registration_id = registration_id,
                               .password = std::nullopt,
                               .client_version = {},
                               .timeout = config_.cloud_timeout};
    auto created = dps::MqttTransport::create(executor_, std::move(settings));
    if (auto* error = std::get_if<dps::TransportError>(&created)) return dps::transport_failure(*error);
    mqtt_ = std::get<std::shared_ptr<dps::MqttTransport>>(created);
    channel_ = dps::make_mqtt_channel(mqtt_);
  }
  channel_registration_id_ = registration_id;
  return std::nullopt;
}

void DpsAttempts::start(const std::string& registration_id, DeviceCredential& credential,
                        std::function<void(dps::RegistrationOutcome)> done) {
  // Failures before the first request still complete asynchronously, as an attempt does.
  auto fail = [&](dps::Error error) {
    boost::asio::post(executor_, [done = std::move(done), error = std::move(error)]() mutable { done(std::move(error)); });
  };
  dps::RegistrationRequest request{.id_scope = config_.provisioning.id_scope, .registration_id = registration_id};
  if (config_.provisioning.payload_uri) {
    auto payload = read_payload(*config_.provisioning.payload_uri);
    if (auto* error = std::get_if<dps::Error>(&payload)) return fail(std::move(*error));
    request.payload = std::get<nlohmann::json>(std::move(payload));
  }
  if (auto error = prepare_channel(registration_id)) {
    spdlog::error("cannot reach DPS: {}", error->message);
    return fail(std::move(*error));
  }
  spdlog::info("DPS {} over {}, {} attestation", config_.provisioning.global_endpoint,
               dps::display_name(config_.dps.transport), dps::display_name(credential.method()));
  registration_ = dps::Registration::start(executor_, *channel_, credential, std::move(request), std::move(done));
}

void DpsAttempts::cancel() {
  if (registration_) registration_->cancel();
  registration_.reset();
  if (channel_) channel_->close();
}

// ---- Storage ------------------------------------------------------------------------------------------------

void StoreStorage::save(const PersistedState& state) {
  try {
    store_.save(state);
  } catch (const std::exception& error) {
    spdlog::warn("state: cannot save {}: {}; the assignment is kept in memory only, fix the directory "
                 "([edgeprov.state] dir) so that a restart can use it",
                 store_.file().string(), error.what());
  }
}

// ---- Wiring -------------------------------------------------------------------------------------------------

namespace {
std::unique_ptr<IdentitySource> identity_for(const config::Config& config, boost::asio::any_io_executor executor,
                                             tpm::Worker& tpm) {
  const auto& attestation = config.provisioning.attestation;
  if (attestation.method == dps::AttestationMethod::tpm)
    return std::make_unique<TpmIdentity>(tpm, std::move(executor), attestation.registration_id);
  return std::make_unique<ConfiguredIdentity>(config);
}
}  // namespace

DaemonPorts::DaemonPorts(const config::Config& config, boost::asio::any_io_executor executor, StatusBoard& board,
                         tpm::Worker& tpm)
    : clock_(executor),
      identity_(identity_for(config, executor, tpm)),
      attempts_(config, executor),
      storage_(config.state.dir),
      sink_(board) {}

}  // namespace edgeprov::service
