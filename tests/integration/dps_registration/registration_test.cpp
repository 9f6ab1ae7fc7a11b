// One DPS registration attempt end to end: edgeprov's Registration over the real HTTPS and MQTT transports
// against a dps-emulator process, with a real swtpm behind tpm::Worker for TPM attestation. The emulator
// verifies every credential for real (TPM challenge, SAS, client certificate), and its hub SAS check
// proves that the key imported into the TPM is the one it issued.
#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>

#include "common/encoding.h"
#include "dps/registration.h"
#include "tests/integration/emulator/emulator_fixture.h"
#include "tests/support/swtpm.h"
#include "tpm/worker.h"

using namespace edgeprov;
using namespace edgeprov::dps;
using namespace std::chrono_literals;
using dps::AttestationMethod;
using nlohmann::json;

namespace {

constexpr const char* device_key_b64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

// ---- Credentials as the service provides them, reduced to what a test needs -----------------------------

// The TPM through tpm::Worker, as the service's credential uses it: EK/SRK for the body, DPS keys loaded
// as transient objects and persisted once assigned, HMACs signed in the TPM. Results come back on
// `executor` (the Registration posts them onto its strand again). `after_load` runs once a key is loaded,
// before the attempt hears of it.
class TpmCredential final : public Credential {
 public:
  TpmCredential(tpm::Worker& worker, boost::asio::any_io_executor executor)
      : worker_(worker), executor_(std::move(executor)), keys_(worker.keys()) {}

  const tpm::PublicKeys& keys() const { return keys_; }
  int loads = 0, persists = 0, releases = 0;
  std::function<void()> after_load;

  AttestationMethod method() const override { return AttestationMethod::tpm; }
  std::optional<TpmKeys> tpm_keys() const override {
    return TpmKeys{keys_.endorsement_key, keys_.storage_root_key};
  }
  void async_sign(SigningKey key, std::string data, SignDone done) override {
    tpm::SigningKey which = tpm::PersistedKey{};
    if (const auto* attempt = std::get_if<AttemptKey>(&key)) which = tpm::TransientKey{attempt->id};
    worker_.async_sign(which, Bytes(data.begin(), data.end()), executor_, [done](tpm::Result<Sha256Digest> result) {
      if (result) return done(result.value());
      done(tpm_failure(result.error()));
    });
  }
  void async_load_key(Bytes blob, LoadDone done) override {
    ++loads;
    worker_.async_load_key(std::move(blob), executor_, [this, done](tpm::Result<tpm::TransientKey> result) {
      if (!result) return done(tpm_failure(result.error()));
      if (after_load) std::exchange(after_load, nullptr)();
      done(AttemptKey{result.value().id});
    });
  }
  void async_persist_key(AttemptKey key, PersistDone done) override {
    ++persists;
    worker_.async_persist_key(tpm::TransientKey{key.id}, executor_, [done](tpm::Result<tpm::ImportedKey> result) {
      if (result) return done(std::nullopt);
      done(tpm_failure(result.error()));
    });
  }
  void release_key(AttemptKey key) override {
    ++releases;
    worker_.flush_key(tpm::TransientKey{key.id});
  }

 private:
  tpm::Worker& worker_;
  boost::asio::any_io_executor executor_;
  tpm::PublicKeys keys_;
};

class SymmetricKeyCredential final : public Credential {
 public:
  explicit SymmetricKeyCredential(const std::string& key_b64) {
    auto key = base64_decode(key_b64);
    REQUIRE(key);
    key_ = std::move(*key);
  }
  AttestationMethod method() const override { return AttestationMethod::symmetric_key; }
  std::optional<TpmKeys> tpm_keys() const override { return std::nullopt; }
  void async_sign(SigningKey key, std::string data, SignDone done) override {
    CHECK(std::holds_alternative<DeviceKey>(key));
    done(hmac_sha256(key_, ByteView(reinterpret_cast<const std::uint8_t*>(data.data()), data.size())));
  }
  void async_load_key(Bytes, LoadDone) override { FAIL("a symmetric key loads nothing"); }
  void async_persist_key(AttemptKey, PersistDone) override { FAIL("a symmetric key persists nothing"); }
  void release_key(AttemptKey) override { FAIL("a symmetric key releases nothing"); }

 private:
  Bytes key_;
};

class X509Credential final : public Credential {
 public:
  AttestationMethod method() const override { return AttestationMethod::x509; }
  std::optional<TpmKeys> tpm_keys() const override { return std::nullopt; }
  void async_sign(SigningKey, std::string, SignDone) override { FAIL("X.509 signs nothing"); }
  void async_load_key(Bytes, LoadDone) override { FAIL("X.509 loads nothing"); }
  void async_persist_key(AttemptKey, PersistDone) override { FAIL("X.509 persists nothing"); }
  void release_key(AttemptKey) override { FAIL("X.509 releases nothing"); }
};

// ---- Transports against the emulator --------------------------------------------------------------------

TlsSettings trust(const test::Emulator& emulator) {
  TlsSettings tls;
  tls.trusted_ca = emulator.ca();
  return tls;
}

std::shared_ptr<HttpsTransport> https_transport(boost::asio::io_context& io, const test::Emulator& emulator,
                                                TlsSettings tls) {
  HttpsSettings settings;
  settings.server = Endpoint{"localhost", emulator.https_port()};
  settings.tls = std::move(tls);
  settings.timeout = 15s;
  auto created = HttpsTransport::create(io.get_executor(), settings);
  if (auto* error = std::get_if<TransportError>(&created)) FAIL(error->message);
  return std::get<std::shared_ptr<HttpsTransport>>(created);
}

std::shared_ptr<MqttTransport> mqtt_transport(boost::asio::io_context& io, const test::Emulator& emulator,
                                              const std::string& registration_id, TlsSettings tls) {
  MqttSettings settings;
  settings.server = Endpoint{"localhost", emulator.mqtt_port()};
  settings.tls = std::move(tls);
  settings.id_scope = test::id_scope;
  settings.registration_id = registration_id;
  settings.timeout = 15s;
  auto created = MqttTransport::create(io.get_executor(), settings);
  if (auto* error = std::get_if<TransportError>(&created)) FAIL(error->message);
  return std::get<std::shared_ptr<MqttTransport>>(created);
}

struct Result {
  RegistrationOutcome outcome;
  RegistrationTrace trace;

  const Assigned& assigned() const {
    if (auto* failure = std::get_if<Error>(&outcome)) FAIL("registration failed: " << failure->message);
    return std::get<Assigned>(outcome);
  }
  const Error& failure() const {
    if (auto* ok = std::get_if<Assigned>(&outcome)) FAIL("registration succeeded unexpectedly: " << ok->hub);
    return std::get<Error>(outcome);
  }
};

// Collects what edgeprov logs during one attempt (the default logger, at debug), to check that no token
// or key reaches it.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(text_));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Runs one attempt on `io` until its handler ran (the transports' Paho threads post into `io`, so a work
// guard keeps it running while a reply is on its way).
Result register_once(boost::asio::io_context& io, Channel& channel, Credential& credential,
                     const std::string& registration_id, std::optional<json> payload = std::nullopt) {
  RegistrationRequest request;
  request.id_scope = test::id_scope;
  request.registration_id = registration_id;
  request.payload = std::move(payload);
  LogCapture log;
  auto guard = boost::asio::make_work_guard(io);
  std::optional<RegistrationOutcome> outcome;
  int calls = 0;
  auto registration = Registration::start(io.get_executor(), channel, credential, request,
                                          [&](RegistrationOutcome o) {
                                            ++calls;
                                            outcome = std::move(o);
                                            guard.reset();
                                          });
  io.run_for(90s);
  io.restart();
  REQUIRE(calls == 1);
  REQUIRE(outcome.has_value());
  const std::string logged = log.text();
  INFO(logged);
  CHECK(logged.find("DPS: registering \"" + registration_id + "\"") != std::string::npos);
  for (const char* secret : {"SharedAccessSignature", "sig=", "authenticationKey", device_key_b64}) {
    CHECK(logged.find(secret) == std::string::npos);
  }
  return Result{std::move(*outcome), registration->trace()};
}

json symmetric_enrollment(const std::string& key_b64) {
  return {{"attestation", {{"type", "symmetricKey"}, {"symmetricKey", {{"primaryKey", key_b64}}}}}};
}

// A self-signed P-256 device certificate whose CN is the registration id, by the openssl command line.
void make_device_certificate(const std::filesystem::path& dir, const std::string& registration_id) {
  test::shell(R"(set -e
cd "$DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout device.key -out device.pem \
  -subj "/CN=$REG" -days 2 2>/dev/null
)",
              {{"DIR", dir.string()}, {"REG", registration_id}});
}

}  // namespace

TEST_CASE("a TPM device registers over HTTPS through the challenge, and its hub key signs a SAS the hub accepts") {
  test::Swtpm swtpm;
  tpm::Options options;
  options.tcti = swtpm.tcti();
  tpm::Worker worker(options);
  test::Emulator emulator;
  boost::asio::io_context io;
  TpmCredential credential(worker, io.get_executor());
  const std::string id = credential.keys().registration_id;
  REQUIRE(emulator
              .admin("PUT", "/enrollments/" + id,
                     {{"attestation",
                       {{"type", "tpm"}, {"tpm", {{"endorsementKey", base64_encode(credential.keys().endorsement_key)}}}}},
                      {"capabilities", {{"iotEdge", true}}}})
              .status == 201);
  auto transport = https_transport(io, emulator, trust(emulator));
  auto channel = make_https_channel(transport, test::id_scope, id, "edgeprov-test/1.0");

  const Result result = register_once(io, *channel, credential, id);
  const Assigned& assigned = result.assigned();
  CHECK((assigned.hub == "hub-a.azure-devices.net" || assigned.hub == "hub-b.azure-devices.net"));
  CHECK(assigned.device_id == id);
  CHECK(assigned.substatus == "initialAssignment");
  CHECK(result.trace.tpm_challenge);
  CHECK(result.trace.requests >= 3);  // unsigned PUT, signed PUT, at least one poll
  CHECK(credential.loads == 2);     // the challenge key, then the hub key
  CHECK(credential.persists == 1);  // the hub key, once assigned
  CHECK(worker.info().transient_objects == 0);
  CHECK(transport->connections_opened() == 1);

  // A hub SAS signed in the TPM with the imported hub key: the emulator checks it against the key it issued.
  const std::int64_t expiry = test::now_unix() + 3600;
  SasParams hub;
  hub.resource_uri = hub_resource_uri(assigned.hub, assigned.device_id);
  hub.expiry_unix_seconds = expiry;
  hub.style = SasStyle::c_sdk_hub;
  const std::string to_sign = string_to_sign(encode_sr(hub.resource_uri, hub.style), expiry);
  const Secret token = assemble_sas_token(hub, worker.sign(tpm::PersistedKey{}, Bytes(to_sign.begin(), to_sign.end())));
  auto check = emulator.admin("POST", "/hubSasCheck", {{"token", token.reveal()}});
  INFO(check.body);
  CHECK(check.json()["valid"] == true);
  CHECK(check.json()["deviceId"] == id);
}

namespace {

// A TPM device enrolled with the emulator, its credential and an HTTPS channel: what the tests of a TPM
// key's lifecycle across attempts share.
struct TpmDevice {
  test::Swtpm swtpm;
  tpm::Worker worker{options()};
  test::Emulator emulator;
  boost::asio::io_context io;
  TpmCredential credential{worker, io.get_executor()};
  std::string id = credential.keys().registration_id;
  std::shared_ptr<HttpsTransport> transport;
  std::unique_ptr<Channel> channel;

  TpmDevice() {
    REQUIRE(emulator
                .admin("PUT", "/enrollments/" + id,
                       {{"attestation",
                         {{"type", "tpm"}, {"tpm", {{"endorsementKey", base64_encode(credential.keys().endorsement_key)}}}}}})
                .status == 201);
    transport = https_transport(io, emulator, trust(emulator));
    channel = make_https_channel(transport, test::id_scope, id, "edgeprov-test/1.0");
  }
  tpm::Options options() const {
    tpm::Options o;
    o.tcti = swtpm.tcti();
    return o;
  }
  Result register_once() { return ::register_once(io, *channel, credential, id); }
  void fault(const json& fault) { REQUIRE(emulator.admin("POST", "/faults", fault).status == 201); }

  // HMAC of a fixed text with the persisted key: equal before and after means the key was not replaced.
  std::string persisted_signature() { return base64_encode(worker.sign(tpm::PersistedKey{}, to_bytes("probe"))); }
  // Does the emulator accept a hub SAS for `assigned` signed with the persisted key?
  bool hub_accepts_persisted_key(const Assigned& assigned) {
    SasParams hub;
    hub.resource_uri = hub_resource_uri(assigned.hub, assigned.device_id);
    hub.expiry_unix_seconds = test::now_unix() + 3600;
    hub.style = SasStyle::c_sdk_hub;
    const std::string to_sign = string_to_sign(encode_sr(hub.resource_uri, hub.style), hub.expiry_unix_seconds);
    const Secret token = assemble_sas_token(hub, worker.sign(tpm::PersistedKey{}, to_bytes(to_sign)));
    auto check = emulator.admin("POST", "/hubSasCheck", {{"token", token.reveal()}});
    INFO(check.body);
    REQUIRE(check.status == 200);
    return check.json()["valid"] == true;
  }
};

}  // namespace

TEST_CASE("a TPM attempt that fails after the challenge leaves the persisted hub key as it was and no transient key; the next one replaces it") {
  TpmDevice d;
  const Assigned first = d.register_once().assigned();
  REQUIRE(d.hub_accepts_persisted_key(first));
  const std::string before = d.persisted_signature();
  REQUIRE(d.credential.loads == 2);

  SECTION("a 503 on the signed PUT: DPS never started the registration") {
    d.fault({{"type", "serviceUnavailable"}, {"skip", 1}, {"registrationId", d.id}});
    const Error failure = d.register_once().failure();
    INFO(failure.message);
    CHECK(failure.http_status() == 503);
    CHECK(failure.transient);
    CHECK(d.credential.loads == 3);  // the challenge's key was loaded and used
    CHECK(d.credential.persists == 1);
    CHECK(d.persisted_signature() == before);
    CHECK(d.hub_accepts_persisted_key(first));  // the hub still knows the key the device holds
  }
  SECTION("a 503 on the first status poll: DPS may finish an assignment the device never hears of") {
    d.fault({{"type", "serviceUnavailable"}, {"skip", 2}, {"registrationId", d.id}});
    const Error failure = d.register_once().failure();
    CHECK(failure.http_status() == 503);
    CHECK(failure.transient);
    CHECK(d.credential.persists == 1);
    CHECK(d.persisted_signature() == before);  // the device keeps its key; only an assigned reply replaces it
    // The emulator, like DPS, assigned at the signed PUT and gave the hub a key the device never received:
    // the next attempt, which the service's backoff starts by itself, brings the device up to date.
    CHECK_FALSE(d.hub_accepts_persisted_key(first));
  }
  CHECK(d.credential.releases == 2);  // the first attempt's challenge key, then this one's
  CHECK(d.worker.info().transient_objects == 0);

  const Assigned next = d.register_once().assigned();
  CHECK(d.persisted_signature() != before);
  CHECK(d.hub_accepts_persisted_key(next));
  CHECK(d.worker.info().transient_objects == 0);
}

TEST_CASE("a TPM reset between the challenge and the signed request fails the attempt as transient, and the next attempt gets a new challenge") {
  TpmDevice d;
  const Assigned first = d.register_once().assigned();
  const std::string before = d.persisted_signature();

  d.credential.after_load = [&] {
    d.swtpm.kill();  // a power cycle of the TPM once the challenge's key is in it
    d.swtpm.restart();
  };
  const Error failure = d.register_once().failure();
  INFO(failure.message);
  CHECK(failure.kind() == ErrorKind::tpm);
  CHECK(failure.transient);
  CHECK(std::get<tpm::Error>(failure.cause).kind() == tpm::ErrorKind::transient_key_lost);
  CHECK(d.persisted_signature() == before);
  CHECK(d.hub_accepts_persisted_key(first));

  const Result again = d.register_once();
  CHECK(again.trace.tpm_challenge);
  CHECK(d.hub_accepts_persisted_key(again.assigned()));
}

TEST_CASE("a TPM attempt cancelled while it polls releases the challenge's key and persists nothing") {
  TpmDevice d;
  d.register_once().assigned();
  const std::string before = d.persisted_signature();

  RegistrationRequest request;
  request.id_scope = test::id_scope;
  request.registration_id = d.id;
  std::shared_ptr<Registration> registration;
  std::optional<RegistrationOutcome> outcome;
  auto guard = boost::asio::make_work_guard(d.io);
  // The first poll's wait is where the attempt is cancelled: after the challenge and the signed PUT.
  registration = Registration::start(
      d.io.get_executor(), *d.channel, d.credential, request,
      [&](RegistrationOutcome o) {
        outcome = std::move(o);
        guard.reset();
      },
      {}, [&](std::chrono::seconds, std::function<void()>) { registration->cancel(); });
  d.io.run_for(60s);
  d.io.restart();
  REQUIRE(outcome.has_value());
  REQUIRE(std::holds_alternative<Error>(*outcome));
  CHECK(std::get<TransportError>(std::get<Error>(*outcome).cause).kind == TransportErrorKind::closed);
  CHECK(d.credential.loads == 3);
  CHECK(d.credential.releases == 2);  // the first attempt's challenge key, then this one's
  CHECK(d.credential.persists == 1);
  CHECK(d.worker.info().transient_objects == 0);
  CHECK(d.persisted_signature() == before);
}

TEST_CASE("a symmetric-key device with an individual enrollment registers over HTTPS and over MQTT") {
  test::Emulator emulator;
  const std::string id = "sym-device-01";
  REQUIRE(emulator.admin("PUT", "/enrollments/" + id, symmetric_enrollment(device_key_b64)).status == 201);
  SymmetricKeyCredential credential(device_key_b64);
  boost::asio::io_context io;

  SECTION("HTTPS, with a payload sent and stored") {
    auto channel = make_https_channel(https_transport(io, emulator, trust(emulator)), test::id_scope, id, "edgeprov-test");
    const Result result = register_once(io, *channel, credential, id, json{{"modelId", "dtmi:edgeprov:test;1"}});
    CHECK(result.assigned().device_id == id);
    CHECK(result.trace.sas_minted == 1);
    CHECK_FALSE(result.trace.tpm_challenge);
  }
  SECTION("MQTT") {
    auto channel = make_mqtt_channel(mqtt_transport(io, emulator, id, trust(emulator)));
    const Result result = register_once(io, *channel, credential, id);
    CHECK(result.assigned().device_id == id);
    CHECK(result.trace.polls >= 1);
    channel->close();
  }
}

TEST_CASE("a symmetric-key device of a group enrollment registers with the key derived from the group key") {
  test::Emulator emulator;
  const std::string group_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const std::string id = "group-device-07";
  REQUIRE(emulator.admin("PUT", "/enrollmentGroups/fleet", symmetric_enrollment(group_key)).status == 201);
  auto derived = derive_group_device_key(Secret(group_key), id);
  REQUIRE(derived.has_value());
  // The same derivation by the openssl command line (docs/dps-protocol.md §4.4).
  CHECK(derived->reveal() == test::openssl_derived_key(group_key, id));
  SymmetricKeyCredential credential(derived->reveal());
  boost::asio::io_context io;

  SECTION("HTTPS") {
    auto channel = make_https_channel(https_transport(io, emulator, trust(emulator)), test::id_scope, id, "edgeprov-test");
    CHECK(register_once(io, *channel, credential, id).assigned().device_id == id);
  }
  SECTION("MQTT") {
    auto channel = make_mqtt_channel(mqtt_transport(io, emulator, id, trust(emulator)));
    CHECK(register_once(io, *channel, credential, id).assigned().device_id == id);
    channel->close();
  }
  SECTION("the group key itself is refused: only the derived key is the device's") {
    SymmetricKeyCredential group_credential(group_key);
    auto channel = make_https_channel(https_transport(io, emulator, trust(emulator)), test::id_scope, id, "edgeprov-test");
    const auto failure = register_once(io, *channel, group_credential, id).failure();
    CHECK(failure.kind() == ErrorKind::dps);
    CHECK(failure.http_status() == 404);  // no enrollment accepts that key (errorCode 404201)
    CHECK(failure.code() == 404201);
    CHECK_FALSE(failure.transient);
  }
}

TEST_CASE("an X.509 device registers with its client certificate over HTTPS and over MQTT") {
  test::Emulator emulator;
  const std::string id = "x509-device-01";
  const auto dir = emulator.dir().path();
  make_device_certificate(dir, id);
  REQUIRE(emulator
              .admin("PUT", "/enrollments/" + id,
                     {{"attestation",
                       {{"type", "x509"},
                        {"x509", {{"clientCertificates",
                                   {{"primary", {{"certificate", test::read_file(dir / "device.pem")}}}}}}}}}})
              .status == 201);
  TlsSettings tls = trust(emulator);
  tls.client_cert = dir / "device.pem";
  tls.client_key = dir / "device.key";
  X509Credential credential;
  boost::asio::io_context io;

  SECTION("HTTPS") {
    auto channel = make_https_channel(https_transport(io, emulator, tls), test::id_scope, id, "edgeprov-test");
    const Result result = register_once(io, *channel, credential, id);
    CHECK(result.assigned().device_id == id);
    CHECK(result.trace.sas_minted == 0);
  }
  SECTION("MQTT") {
    auto channel = make_mqtt_channel(mqtt_transport(io, emulator, id, tls));
    CHECK(register_once(io, *channel, credential, id).assigned().device_id == id);
    channel->close();
  }
  SECTION("without the certificate DPS refuses the device, terminally") {
    auto channel = make_https_channel(https_transport(io, emulator, trust(emulator)), test::id_scope, id, "edgeprov-test");
    const auto failure = register_once(io, *channel, credential, id).failure();
    CHECK(failure.kind() == ErrorKind::dps);
    CHECK(failure.http_status() == 401);
    CHECK_FALSE(failure.transient);
  }
}

TEST_CASE("a disabled enrollment ends the attempt as a terminal failure with cause disabled") {
  test::Emulator emulator;
  const std::string id = "sym-disabled";
  json enrollment = symmetric_enrollment(device_key_b64);
  enrollment["provisioningStatus"] = "disabled";
  REQUIRE(emulator.admin("PUT", "/enrollments/" + id, enrollment).status == 201);
  SymmetricKeyCredential credential(device_key_b64);
  boost::asio::io_context io;
  auto channel = make_https_channel(https_transport(io, emulator, trust(emulator)), test::id_scope, id, "edgeprov-test");
  const auto failure = register_once(io, *channel, credential, id).failure();
  INFO(failure.message);
  CHECK(failure.kind() == ErrorKind::dps);
  CHECK(std::get<Rejection>(failure.cause).cause == RejectionCause::disabled);
  CHECK_FALSE(failure.transient);
  CHECK(failure.message.find("disabled") != std::string::npos);
}

TEST_CASE("a throttled request is a transient failure that carries Retry-After: 7") {
  test::Emulator emulator;
  const std::string id = "sym-throttled";
  REQUIRE(emulator.admin("PUT", "/enrollments/" + id, symmetric_enrollment(device_key_b64)).status == 201);
  REQUIRE(emulator.admin("POST", "/faults", {{"type", "throttle"}, {"retryAfter", 7}, {"registrationId", id}}).status / 100 == 2);
  SymmetricKeyCredential credential(device_key_b64);
  boost::asio::io_context io;

  SECTION("HTTPS") {
    auto channel = make_https_channel(https_transport(io, emulator, trust(emulator)), test::id_scope, id, "edgeprov-test");
    const auto failure = register_once(io, *channel, credential, id).failure();
    CHECK(failure.kind() == ErrorKind::dps);
    CHECK(failure.http_status() == 429);
    CHECK(failure.code() == 429001);
    CHECK(std::get<Rejection>(failure.cause).cause == RejectionCause::throttled);
    CHECK(failure.transient);
    CHECK(failure.retry_after().delay == 7s);
  }
  SECTION("MQTT") {
    auto channel = make_mqtt_channel(mqtt_transport(io, emulator, id, trust(emulator)));
    const auto failure = register_once(io, *channel, credential, id).failure();
    CHECK(failure.http_status() == 429);
    CHECK(failure.transient);
    CHECK(failure.retry_after().delay == 7s);
    channel->close();
  }
}

TEST_CASE("a server certificate from another CA is a network failure of kind certificate_verification") {
  test::Emulator emulator;
  const std::string id = "sym-wrong-ca";
  const auto dir = emulator.dir().path();
  test::shell(R"(set -e
cd "$DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key -out other-ca.pem \
  -subj "/CN=not the emulator's CA" -days 2 -addext basicConstraints=critical,CA:TRUE 2>/dev/null
)",
              {{"DIR", dir.string()}});
  TlsSettings tls;
  tls.trusted_ca = dir / "other-ca.pem";
  SymmetricKeyCredential credential(device_key_b64);
  boost::asio::io_context io;

  SECTION("HTTPS") {
    auto channel = make_https_channel(https_transport(io, emulator, tls), test::id_scope, id, "edgeprov-test");
    const auto failure = register_once(io, *channel, credential, id).failure();
    INFO(failure.message);
    CHECK(failure.kind() == ErrorKind::network);
    CHECK(std::get<TransportError>(failure.cause).kind == TransportErrorKind::certificate_verification);
    CHECK_FALSE(failure.transient);
    CHECK(failure.message.find("other-ca.pem") != std::string::npos);
  }
  SECTION("MQTT") {
    auto channel = make_mqtt_channel(mqtt_transport(io, emulator, id, tls));
    const auto failure = register_once(io, *channel, credential, id).failure();
    INFO(failure.message);
    CHECK(failure.kind() == ErrorKind::network);
    CHECK(std::get<TransportError>(failure.cause).kind == TransportErrorKind::certificate_verification);
    CHECK_FALSE(failure.transient);
  }
}
