// One DPS registration attempt against a scripted Channel and a software Credential: the order of
// requests, what each carries, the waits between polls (observed through PollWait, never slept), and
// how every kind of failure reaches the outcome.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "dps/registration.h"

using namespace edgeprov;
using namespace edgeprov::dps;
using namespace std::chrono_literals;
using dps::AttestationMethod;
using nlohmann::json;

namespace {

constexpr const char* scope = "0ne00ABC123";
constexpr const char* registration_id = "device-001";

// What the device sent, as the fake channel saw it.
struct SentRequest {
  bool poll = false;
  std::string operation_id;
  std::string body;
  std::optional<std::string> sas;
};

// Answers each request with the next scripted reply; `hold` keeps the next request unanswered (in flight).
class FakeChannel final : public Channel {
 public:
  explicit FakeChannel(Transport transport = Transport::https) : transport_(transport) {}

  std::deque<ChannelResult> replies;
  std::vector<SentRequest> sent;
  bool hold = false;
  std::optional<ChannelHandler> held;
  int closes = 0;

  void async_register(std::string body, std::optional<Secret> sas, ChannelHandler handler) override {
    record(SentRequest{false, "", std::move(body), reveal(sas)}, std::move(handler));
  }
  void async_operation_status(std::string operation_id, std::string body, std::optional<Secret> sas,
                              ChannelHandler handler) override {
    record(SentRequest{true, std::move(operation_id), std::move(body), reveal(sas)}, std::move(handler));
  }
  void close() override { ++closes; }
  Transport transport() const override { return transport_; }

 private:
  static std::optional<std::string> reveal(const std::optional<Secret>& sas) {
    return sas ? std::optional<std::string>(sas->reveal()) : std::nullopt;
  }
  void record(SentRequest request, ChannelHandler handler) {
    sent.push_back(std::move(request));
    if (hold) {
      held = std::move(handler);
      return;
    }
    REQUIRE_FALSE(replies.empty());
    auto reply = std::move(replies.front());
    replies.pop_front();
    handler(std::move(reply));
  }
  Transport transport_;
};

// A software stand-in for the TPM or the symmetric key. It keeps what the TPM would: the device key
// (persisted; the symmetric key), and the keys loaded for the attempt, each an HMAC key derived from its
// blob. A journal records every key operation in order: "load 1", "sign 1", "sign device", "persist 1",
// "release 1" (numbers are AttemptKey ids).
class FakeCredential final : public Credential {
 public:
  explicit FakeCredential(AttestationMethod method) : method_(method) {}

  // The HMAC key a blob stands for: what the TPM holds once the blob is loaded.
  static Bytes key_of(const Bytes& blob) {
    const auto digest = sha256(blob);
    return Bytes(digest.begin(), digest.end());
  }

  Bytes device_key = Bytes(32, 0x42);  // the persisted key (TPM) or the symmetric key
  std::vector<Bytes> loaded;           // blobs, in order; the i-th has id i + 1
  std::vector<std::string> journal;
  std::vector<std::string> signed_data;
  std::set<std::uint64_t> live;        // loaded, neither persisted nor released (nor lost)
  std::optional<Error> load_error;     // for the load at index fail_load_at
  std::size_t fail_load_at = 0;
  std::optional<Error> persist_error;
  std::optional<Error> sign_error;
  bool hold_loads = false;             // keep the next load's completion until complete_held_load()
  std::optional<std::pair<AttemptKey, LoadDone>> held_load;

  // The connection to the TPM was reset: every loaded key is gone.
  void lose_keys() { live.clear(); }
  void complete_held_load() {
    REQUIRE(held_load.has_value());
    auto [key, done] = std::move(*held_load);
    held_load.reset();
    done(key);
  }

  AttestationMethod method() const override { return method_; }
  std::optional<TpmKeys> tpm_keys() const override {
    if (method_ != AttestationMethod::tpm) return std::nullopt;
    return TpmKeys{Bytes{0x01, 0x3a, 0xee}, Bytes{0x01, 0x1a, 0x55}};
  }
  void async_sign(SigningKey key, std::string data, SignDone done) override {
    signed_data.push_back(data);
    if (sign_error) return done(*sign_error);
    Bytes hmac_key = device_key;
    if (const auto* attempt = std::get_if<AttemptKey>(&key)) {
      journal.push_back("sign " + std::to_string(attempt->id));
      if (!live.contains(attempt->id)) return done(lost("HMAC"));
      hmac_key = key_of(loaded.at(attempt->id - 1));
    } else {
      journal.push_back("sign device");
    }
    done(hmac_sha256(hmac_key, ByteView(reinterpret_cast<const std::uint8_t*>(data.data()), data.size())));
  }
  void async_load_key(Bytes blob, LoadDone done) override {
    loaded.push_back(std::move(blob));
    const AttemptKey key{loaded.size()};
    journal.push_back("load " + std::to_string(key.id));
    if (load_error && loaded.size() == fail_load_at + 1) return done(*load_error);
    live.insert(key.id);
    if (hold_loads) {
      held_load.emplace(key, std::move(done));
      return;
    }
    done(key);
  }
  void async_persist_key(AttemptKey key, PersistDone done) override {
    journal.push_back("persist " + std::to_string(key.id));
    if (!live.contains(key.id)) return done(lost("EvictControl"));
    live.erase(key.id);  // flushed on every path, as the TPM does
    if (persist_error) return done(*persist_error);
    device_key = key_of(loaded.at(key.id - 1));
    done(std::nullopt);
  }
  void release_key(AttemptKey key) override {
    journal.push_back("release " + std::to_string(key.id));
    live.erase(key.id);
  }

 private:
  static Error lost(const char* command) {
    return tpm_failure(tpm::Error(tpm::ErrorKind::transient_key_lost, command, 0, "the DPS key is no longer loaded",
                                  "nothing to do"));
  }
  AttestationMethod method_;
};

using Journal = std::vector<std::string>;

ChannelReply reply(int status, const json& body, std::string retry_after = "") {
  return ChannelReply{status, std::move(retry_after), "application/json", body.dump()};
}

ChannelReply challenge(const Bytes& blob, const std::string& key_name = "registration") {
  return reply(401, {{"authenticationKey", base64_encode(blob)}, {"keyName", key_name}});
}

ChannelReply assigning(const std::string& operation_id, std::string retry_after = "") {
  return reply(202, {{"operationId", operation_id}, {"status", "assigning"}}, std::move(retry_after));
}

ChannelReply polled_assigning(const std::string& operation_id, std::string retry_after = "") {
  return reply(202,
               {{"operationId", operation_id},
                {"status", "assigning"},
                {"registrationState", {{"registrationId", registration_id}, {"status", "assigning"}}}},
               std::move(retry_after));
}

ChannelReply assigned(const std::string& operation_id, std::optional<Bytes> hub_key = std::nullopt) {
  json state = {{"registrationId", registration_id},
                {"assignedHub", "hub-a.azure-devices.net"},
                {"deviceId", "edge-01"},
                {"status", "assigned"},
                {"substatus", "initialAssignment"}};
  if (hub_key) state["tpm"] = {{"authenticationKey", base64_encode(*hub_key)}};
  return reply(200, {{"operationId", operation_id}, {"status", "assigned"}, {"registrationState", state}});
}

// Runs one attempt to its end on an io_context; the clock is fake and every poll wait advances it.
struct Harness {
  boost::asio::io_context io;
  FakeChannel channel;
  FakeCredential credential;
  RegistrationRequest request;
  SystemTime now = SystemTime(std::chrono::seconds(1'800'000'000));
  std::vector<std::chrono::seconds> waits;
  std::vector<RegistrationOutcome> outcomes;
  std::shared_ptr<Registration> registration;
  std::function<void()> on_wait;  // runs in each poll wait, before the poll

  explicit Harness(AttestationMethod method, Transport transport = Transport::https)
      : channel(transport), credential(method) {
    request.id_scope = scope;
    request.registration_id = registration_id;
  }

  void start(bool observe_waits = true) {
    PollWait wait;
    if (observe_waits) {
      wait = [this](std::chrono::seconds delay, std::function<void()> resume) {
        waits.push_back(delay);
        now += delay;
        if (on_wait) on_wait();
        resume();
      };
    }
    registration = Registration::start(
        io.get_executor(), channel, credential, request,
        [this](RegistrationOutcome outcome) { outcomes.push_back(std::move(outcome)); }, [this] { return now; },
        std::move(wait));
  }

  void run() {
    io.run();
    io.restart();
  }

  const Assigned& success() {
    REQUIRE(outcomes.size() == 1);
    REQUIRE(std::holds_alternative<Assigned>(outcomes.front()));
    return std::get<Assigned>(outcomes.front());
  }
  const Error& failure() {
    REQUIRE(outcomes.size() == 1);
    REQUIRE(std::holds_alternative<Error>(outcomes.front()));
    return std::get<Error>(outcomes.front());
  }
};

const Rejection& rejection(const Error& error) {
  REQUIRE(std::holds_alternative<Rejection>(error.cause));
  return std::get<Rejection>(error.cause);
}

SasToken parse_token(const std::optional<std::string>& token) {
  REQUIRE(token.has_value());
  auto parsed = parse_sas_token(*token);
  REQUIRE(std::holds_alternative<SasToken>(parsed));
  return std::get<SasToken>(parsed);
}

const Error& fails_with(Harness& h, ChannelReply answer) {
  h.channel.replies = {std::move(answer)};
  h.start();
  h.run();
  return h.failure();
}

}  // namespace

TEST_CASE("a TPM device answers the challenge with a transient key, is assigned after polling and only then persists the hub key") {
  Harness h(AttestationMethod::tpm);
  const Bytes challenge_blob{1, 2, 3, 4};
  const Bytes hub_blob{9, 8, 7};
  h.channel.replies = {challenge(challenge_blob, "registration-key"), assigning("op-1", "3"),
                       polled_assigning("op-1"), assigned("op-1", hub_blob)};
  h.start();
  h.run();

  const Assigned& result = h.success();
  CHECK(result.hub == "hub-a.azure-devices.net");
  CHECK(result.device_id == "edge-01");
  CHECK(result.substatus == "initialAssignment");

  REQUIRE(h.channel.sent.size() == 4);
  const auto& first = h.channel.sent[0];
  const auto& second = h.channel.sent[1];
  CHECK_FALSE(first.poll);
  CHECK_FALSE(second.poll);
  CHECK(h.channel.sent[2].poll);
  CHECK(h.channel.sent[3].poll);
  CHECK(h.channel.sent[2].operation_id == "op-1");
  CHECK(h.channel.sent[3].operation_id == "op-1");
  // Both PUTs carry the EK and SRK (as the C SDK sends them).
  for (const auto* put : {&first, &second}) {
    const json body = json::parse(put->body);
    CHECK(body["registrationId"] == registration_id);
    CHECK(body["tpm"]["endorsementKey"] == base64_encode(Bytes{0x01, 0x3a, 0xee}));
    CHECK(body["tpm"]["storageRootKey"] == base64_encode(Bytes{0x01, 0x1a, 0x55}));
  }
  // No SAS before the challenge; afterwards one token, signed with the challenge's key (not the persisted
  // one), named by keyName.
  CHECK_FALSE(first.sas.has_value());
  const SasToken token = parse_token(second.sas);
  CHECK(token.key_name == "registration-key");
  CHECK(token.resource_uri == "0ne00ABC123/registrations/device-001");
  CHECK(token.sr == "0ne00ABC123%2fregistrations%2fdevice-001");
  CHECK(token.expiry_unix_seconds == 1'800'000'000 + 2400);
  const SystemTime at(std::chrono::seconds(1'800'000'000));
  CHECK(verify_sas_token(token, "0ne00ABC123/registrations/device-001", FakeCredential::key_of(challenge_blob), at) ==
        SasVerdict::valid);
  CHECK(verify_sas_token(token, "0ne00ABC123/registrations/device-001", Bytes(32, 0x42), at) ==
        SasVerdict::bad_signature);
  CHECK(h.channel.sent[2].sas == second.sas);
  CHECK(h.channel.sent[3].sas == second.sas);
  REQUIRE(h.credential.signed_data.size() == 1);
  CHECK(h.credential.signed_data[0] == "0ne00ABC123%2fregistrations%2fdevice-001\n1800002400");

  // The challenge's key is loaded and signs; only the assignment persists a key, the hub key DPS sent, and
  // the challenge's key is released before the hub key is loaded. Nothing stays loaded.
  REQUIRE(h.credential.loaded.size() == 2);
  CHECK(h.credential.loaded[0] == challenge_blob);
  CHECK(h.credential.loaded[1] == hub_blob);
  CHECK(h.credential.journal == Journal{"load 1", "sign 1", "release 1", "load 2", "persist 2"});
  CHECK(h.credential.device_key == FakeCredential::key_of(hub_blob));
  CHECK(h.credential.live.empty());

  // Retry-After: 3 on the register reply; none on the poll reply, so the 2 s default.
  CHECK(h.waits == std::vector<std::chrono::seconds>{3s, 2s});

  const RegistrationTrace trace = h.registration->trace();
  CHECK(trace.requests == 4);
  CHECK(trace.polls == 2);
  CHECK(trace.sas_minted == 1);
  CHECK(trace.tpm_challenge);
}

TEST_CASE("a TPM assignment without a hub key persists the challenge's key, which then is the hub key") {
  Harness h(AttestationMethod::tpm);
  h.channel.replies = {challenge({1, 2}), assigning("op-1"), assigned("op-1")};
  h.start();
  h.run();
  CHECK(h.success().device_id == "edge-01");
  CHECK(h.credential.journal == Journal{"load 1", "sign 1", "persist 1"});
  CHECK(h.credential.device_key == FakeCredential::key_of({1, 2}));
  CHECK(h.credential.live.empty());
}

TEST_CASE("a symmetric-key device signs its first request with skn=registration and reuses the token") {
  Harness h(AttestationMethod::symmetric_key);
  h.request.payload = json{{"modelId", "dtmi:x;1"}};
  h.channel.replies = {assigning("op-7", "1"), assigned("op-7", Bytes{5})};
  h.start();
  h.run();
  CHECK(h.success().hub == "hub-a.azure-devices.net");
  REQUIRE(h.channel.sent.size() == 2);
  const SasToken token = parse_token(h.channel.sent[0].sas);
  CHECK(token.key_name == "registration");
  CHECK(h.channel.sent[1].sas == h.channel.sent[0].sas);
  const json body = json::parse(h.channel.sent[0].body);
  CHECK_FALSE(body.contains("tpm"));
  CHECK(body["payload"]["modelId"] == "dtmi:x;1");
  CHECK(h.credential.loaded.empty());  // only the TPM loads keys
  CHECK(h.credential.journal == Journal{"sign device"});
  CHECK(h.waits == std::vector<std::chrono::seconds>{1s});
  CHECK_FALSE(h.registration->trace().tpm_challenge);
}

TEST_CASE("an X.509 device sends no SAS token at all") {
  Harness h(AttestationMethod::x509);
  h.channel.replies = {assigning("op-9"), assigned("op-9")};
  h.start();
  h.run();
  CHECK(h.success().device_id == "edge-01");
  REQUIRE(h.channel.sent.size() == 2);
  CHECK_FALSE(h.channel.sent[0].sas.has_value());
  CHECK_FALSE(h.channel.sent[1].sas.has_value());
  CHECK(h.credential.signed_data.empty());
  CHECK(h.registration->trace().sas_minted == 0);
}

TEST_CASE("the Retry-After of an assigning reply is the wait before the next poll") {
  Harness h(AttestationMethod::symmetric_key);
  h.channel.replies = {assigning("op-1", "7"), polled_assigning("op-1", "0"), assigned("op-1")};
  h.start();
  h.run();
  h.success();
  // 7 s as asked; "0" is raised to the 1 s floor so a server cannot make the device spin.
  CHECK(h.waits == std::vector<std::chrono::seconds>{7s, 1s});
}

TEST_CASE("a SAS token that would expire before the next poll is minted again") {
  Harness h(AttestationMethod::symmetric_key);
  // 2350 s of assigning leaves 50 s of the 2400 s token, less than the 60 s renewal margin.
  h.channel.replies = {assigning("op-1", "2350"), assigned("op-1")};
  h.start();
  h.run();
  h.success();
  REQUIRE(h.channel.sent.size() == 2);
  const SasToken first = parse_token(h.channel.sent[0].sas);
  const SasToken second = parse_token(h.channel.sent[1].sas);
  CHECK(first.expiry_unix_seconds == 1'800'000'000 + 2400);
  CHECK(second.expiry_unix_seconds == 1'800'000'000 + 2350 + 2400);
  CHECK(h.registration->trace().sas_minted == 2);
}

TEST_CASE("a SAS token with time left is not minted again for a poll") {
  Harness h(AttestationMethod::symmetric_key);
  h.channel.replies = {assigning("op-1", "2300"), assigned("op-1")};
  h.start();
  h.run();
  h.success();
  CHECK(h.registration->trace().sas_minted == 1);
}

TEST_CASE("a 429 with Retry-After: 7 is a transient dps failure that carries the 7 seconds") {
  Harness h(AttestationMethod::symmetric_key);
  const auto& failure = fails_with(h, reply(429, {{"errorCode", 429001}, {"message", "throttled"}}, "7"));
  CHECK(failure.kind() == ErrorKind::dps);
  CHECK(failure.http_status() == 429);
  CHECK(failure.code() == 429001);
  CHECK(failure.transient);
  CHECK(failure.retry_after().delay == 7s);
  CHECK(rejection(failure).cause == RejectionCause::throttled);
  CHECK_FALSE(std::holds_alternative<TransportError>(failure.cause));
}

TEST_CASE("a 503 is a transient server error") {
  Harness h(AttestationMethod::x509);
  const auto& failure = fails_with(h, reply(503, {{"errorCode", 503000}, {"message", "unavailable"}}));
  CHECK(failure.kind() == ErrorKind::dps);
  CHECK(failure.http_status() == 503);
  CHECK(failure.transient);
  CHECK(rejection(failure).cause == RejectionCause::server_error);
}

TEST_CASE("a 401 without a challenge is terminal for a symmetric-key device") {
  Harness h(AttestationMethod::symmetric_key);
  const auto& failure = fails_with(h, reply(401, {{"errorCode", 401002}, {"message", "bad sas"}}));
  CHECK(failure.kind() == ErrorKind::dps);
  CHECK(failure.http_status() == 401);
  CHECK(failure.code() == 401002);
  CHECK_FALSE(failure.transient);
  CHECK(rejection(failure).cause == RejectionCause::unauthorized);
}

TEST_CASE("a 401 without a challenge to the TPM's first request is terminal") {
  Harness h(AttestationMethod::tpm);
  const auto& failure = fails_with(h, reply(401, {{"errorCode", 401002}, {"message", "EK mismatch"}}));
  CHECK(rejection(failure).cause == RejectionCause::unauthorized);
  CHECK_FALSE(failure.transient);
  CHECK(h.credential.loaded.empty());
}

TEST_CASE("a 404 (no enrollment) is terminal") {
  Harness h(AttestationMethod::x509);
  const auto& failure = fails_with(h, reply(404, {{"errorCode", 404201}, {"message", "no enrollment"}}));
  CHECK(failure.http_status() == 404);
  CHECK(failure.code() == 404201);
  CHECK_FALSE(failure.transient);
  CHECK(rejection(failure).cause == RejectionCause::not_found);
}

TEST_CASE("a disabled enrollment found while polling is terminal with cause disabled") {
  Harness h(AttestationMethod::symmetric_key);
  h.channel.replies = {assigning("op-1"),
                       reply(200, {{"operationId", "op-1"},
                                   {"status", "disabled"},
                                   {"registrationState", {{"registrationId", registration_id}, {"status", "disabled"}}}})};
  h.start();
  h.run();
  const auto& failure = h.failure();
  CHECK(failure.kind() == ErrorKind::dps);
  CHECK(rejection(failure).cause == RejectionCause::disabled);
  CHECK_FALSE(failure.transient);
}

TEST_CASE("a failed registration carries DPS's errorCode and message") {
  Harness h(AttestationMethod::symmetric_key);
  h.channel.replies = {assigning("op-1"),
                       reply(200, {{"operationId", "op-1"},
                                   {"status", "failed"},
                                   {"registrationState",
                                    {{"registrationId", registration_id},
                                     {"status", "failed"},
                                     {"errorCode", 400208},
                                     {"errorMessage", "no hub"}}}})};
  h.start();
  h.run();
  const auto& failure = h.failure();
  CHECK(rejection(failure).cause == RejectionCause::failed);
  CHECK(failure.code() == 400208);
  CHECK_FALSE(failure.transient);
  CHECK(failure.message.find("400208") != std::string::npos);
}

TEST_CASE("malformed JSON in a 202 is a transient malformed reply") {
  Harness h(AttestationMethod::x509);
  const auto& failure = fails_with(h, ChannelReply{202, "", "application/json", "{\"operationId\":\"op"});
  CHECK(failure.kind() == ErrorKind::dps);
  CHECK(rejection(failure).cause == RejectionCause::malformed_reply);
  CHECK(failure.transient);
}

TEST_CASE("a transport error becomes a network failure with its kind and its own transient flag") {
  Harness h(AttestationMethod::x509);
  h.channel.replies = {
      TransportError{TransportErrorKind::certificate_verification, "the certificate of 127.0.0.1:1 is not trusted",
                     false}};
  h.start();
  h.run();
  const auto& failure = h.failure();
  CHECK(failure.kind() == ErrorKind::network);
  CHECK(std::get<TransportError>(failure.cause).kind == TransportErrorKind::certificate_verification);
  CHECK_FALSE(failure.transient);
  CHECK_FALSE(failure.http_status().has_value());
  CHECK(failure.message == "the certificate of 127.0.0.1:1 is not trusted");
}

TEST_CASE("a timeout while polling is a transient network failure") {
  Harness h(AttestationMethod::symmetric_key);
  h.channel.replies = {assigning("op-1"), TransportError{TransportErrorKind::timeout, "no answer in 70 s", true}};
  h.start();
  h.run();
  const auto& failure = h.failure();
  CHECK(failure.kind() == ErrorKind::network);
  CHECK(std::get<TransportError>(failure.cause).kind == TransportErrorKind::timeout);
  CHECK(failure.transient);
}

TEST_CASE("a TPM that fails to load the challenge blob is a tpm failure with its data") {
  Harness h(AttestationMethod::tpm);
  h.credential.load_error =
      tpm_failure(tpm::Error(tpm::ErrorKind::bad_blob, "ActivateCredential", 0x1df, "TPM_RC_INTEGRITY",
                             "check the enrollment's EK", tpm::BlobPart::credential));
  const auto& failure = fails_with(h, challenge({1, 2, 3}));
  CHECK(failure.kind() == ErrorKind::tpm);
  CHECK(failure.code() == 0x1df);
  CHECK_FALSE(failure.transient);
  CHECK(std::get<tpm::Error>(failure.cause).blob_part() == tpm::BlobPart::credential);
  CHECK(failure.message.find("TPM_RC_INTEGRITY") != std::string::npos);
  CHECK(h.channel.sent.size() == 1);  // no signed PUT after a failed load
  CHECK(h.credential.journal == Journal{"load 1"});
}

TEST_CASE("a TPM that fails to load the hub key fails the attempt and keeps its persisted key") {
  Harness h(AttestationMethod::tpm);
  h.credential.load_error = tpm_failure(
      tpm::Error(tpm::ErrorKind::bad_blob, "Import", 0x3df, "Import failed", "", tpm::BlobPart::duplicate));
  h.credential.fail_load_at = 1;
  h.channel.replies = {challenge({1}), assigning("op-1"), assigned("op-1", Bytes{2})};
  h.start();
  h.run();
  CHECK(h.failure().kind() == ErrorKind::tpm);
  CHECK(std::get<tpm::Error>(h.failure().cause).blob_part() == tpm::BlobPart::duplicate);
  CHECK(h.credential.journal == Journal{"load 1", "sign 1", "release 1", "load 2"});
  CHECK(h.credential.device_key == Bytes(32, 0x42));
  CHECK(h.credential.live.empty());
}

TEST_CASE("a TPM that fails to persist the hub key fails the attempt and leaves no key loaded") {
  Harness h(AttestationMethod::tpm);
  h.credential.persist_error = tpm_failure(tpm::Error(tpm::ErrorKind::hierarchy_auth, "EvictControl", 0x9a2,
                                                      "TPM_RC_BAD_AUTH", "set [tpm.hierarchy_authorization] owner"));
  h.channel.replies = {challenge({1}), assigning("op-1"), assigned("op-1", Bytes{2})};
  h.start();
  h.run();
  CHECK(std::get<tpm::Error>(h.failure().cause).kind() == tpm::ErrorKind::hierarchy_auth);
  CHECK_FALSE(h.failure().transient);
  // Released again after the failed persist: a no-op for the TPM, which flushed it, but never a leak.
  CHECK(h.credential.journal == Journal{"load 1", "sign 1", "release 1", "load 2", "persist 2", "release 2"});
  CHECK(h.credential.device_key == Bytes(32, 0x42));
  CHECK(h.credential.live.empty());
}

TEST_CASE("a TPM attempt that fails after the challenge releases the challenge's key and persists nothing") {
  Harness h(AttestationMethod::tpm);
  const Bytes challenge_blob{7, 7, 7};
  SECTION("503 on the signed PUT") {
    h.channel.replies = {challenge(challenge_blob), reply(503, {{"errorCode", 503000}, {"message", "down"}}, "2")};
  }
  SECTION("429 on a status poll") {
    h.channel.replies = {challenge(challenge_blob), assigning("op-1"),
                         reply(429, {{"errorCode", 429001}, {"message", "throttled"}}, "5")};
  }
  SECTION("a timeout on a status poll") {
    h.channel.replies = {challenge(challenge_blob), assigning("op-1"),
                         TransportError{TransportErrorKind::timeout, "no answer in 70 s", true}};
  }
  SECTION("DPS still assigning after max_polls") {
    h.request.max_polls = 1;
    h.channel.replies = {challenge(challenge_blob), assigning("op-1"), polled_assigning("op-1")};
  }
  h.start();
  h.run();
  CHECK(h.failure().transient);
  const Journal& journal = h.credential.journal;
  REQUIRE(journal.size() >= 3);
  CHECK(journal.front() == "load 1");
  CHECK(journal.back() == "release 1");
  CHECK(std::count(journal.begin(), journal.end(), "release 1") == 1);
  for (const auto& entry : journal) CHECK(entry.rfind("persist", 0) == std::string::npos);
  CHECK(h.credential.device_key == Bytes(32, 0x42));
  CHECK(h.credential.live.empty());
}

TEST_CASE("a TPM key lost with the TPM connection while polling fails the attempt as transient, with its kind") {
  Harness h(AttestationMethod::tpm);
  // The connection to the TPM resets during the poll wait: the challenge's key is gone.
  h.on_wait = [&] { h.credential.lose_keys(); };
  SECTION("when the SAS must be minted again for the poll") {
    h.channel.replies = {challenge({1}), assigning("op-1", "2350"), assigned("op-1", Bytes{2})};
    h.start();
    h.run();
    CHECK(h.credential.journal == Journal{"load 1", "sign 1", "sign 1", "release 1"});
    CHECK(h.channel.sent.size() == 2);  // the poll was never sent
  }
  SECTION("when DPS sent no hub key and the challenge's key was to be persisted") {
    h.channel.replies = {challenge({1}), assigning("op-1"), assigned("op-1")};
    h.start();
    h.run();
    CHECK(h.credential.journal == Journal{"load 1", "sign 1", "persist 1", "release 1"});
  }
  const auto& failure = h.failure();
  CHECK(failure.kind() == ErrorKind::tpm);
  CHECK(failure.transient);
  CHECK(std::get<tpm::Error>(failure.cause).kind() == tpm::ErrorKind::transient_key_lost);
  CHECK(h.credential.device_key == Bytes(32, 0x42));
}

TEST_CASE("cancel while polling after the challenge releases the challenge's key and persists nothing") {
  Harness h(AttestationMethod::tpm);
  h.channel.replies = {challenge({1}), assigning("op-1", "3600"), assigned("op-1", Bytes{2})};
  h.start(false);
  h.io.poll();
  REQUIRE(h.channel.sent.size() == 2);
  h.registration->cancel();
  h.run();
  CHECK(std::get<TransportError>(h.failure().cause).kind == TransportErrorKind::closed);
  CHECK(h.credential.journal == Journal{"load 1", "sign 1", "release 1"});
  CHECK(h.credential.live.empty());
}

TEST_CASE("a challenge key that finishes loading after cancel is released at once and signs nothing") {
  Harness h(AttestationMethod::tpm);
  h.credential.hold_loads = true;
  h.channel.replies = {challenge({1})};
  h.start();
  h.run();
  REQUIRE(h.credential.held_load.has_value());
  h.registration->cancel();
  h.run();
  CHECK(std::get<TransportError>(h.failure().cause).kind == TransportErrorKind::closed);
  CHECK(h.credential.journal == Journal{"load 1"});
  h.credential.complete_held_load();
  h.run();
  CHECK(h.credential.journal == Journal{"load 1", "release 1"});
  CHECK(h.credential.live.empty());
  CHECK(h.channel.sent.size() == 1);
  CHECK(h.outcomes.size() == 1);
}

TEST_CASE("a key that cannot sign fails the attempt before any request with a config failure") {
  Harness h(AttestationMethod::symmetric_key);
  h.credential.sign_error = config_failure("the symmetric key file is unreadable");
  h.start();
  h.run();
  CHECK(h.failure().kind() == ErrorKind::config);
  CHECK(h.channel.sent.empty());
}

TEST_CASE("a TPM challenge to a device that does not attest with a TPM is terminal and says why") {
  Harness h(AttestationMethod::symmetric_key);
  const auto& failure = fails_with(h, challenge({1, 2}));
  CHECK(failure.kind() == ErrorKind::dps);
  CHECK_FALSE(failure.transient);
  CHECK(failure.message.find("TPM challenge") != std::string::npos);
  CHECK(h.credential.loaded.empty());
}

TEST_CASE("a second challenge after the signed request is terminal: DPS refused the key it gave") {
  Harness h(AttestationMethod::tpm);
  h.channel.replies = {challenge({1}), challenge({2})};
  h.start();
  h.run();
  const auto& failure = h.failure();
  CHECK(failure.kind() == ErrorKind::dps);
  CHECK(failure.http_status() == 401);
  CHECK_FALSE(failure.transient);
  CHECK(failure.message.find("challenged the TPM") != std::string::npos);
  CHECK(h.credential.journal == Journal{"load 1", "sign 1", "release 1"});
}

TEST_CASE("more assigning answers than max_polls end the attempt as a transient failure") {
  Harness h(AttestationMethod::x509);
  h.request.max_polls = 2;
  h.channel.replies = {assigning("op-1"), polled_assigning("op-1"), polled_assigning("op-1"),
                       polled_assigning("op-1")};
  h.start();
  h.run();
  const auto& failure = h.failure();
  CHECK(failure.transient);
  CHECK(failure.message.find("after 2 status polls") != std::string::npos);
  CHECK(h.registration->trace().polls == 2);
  CHECK(h.channel.replies.size() == 1);  // the third poll was never sent
}

TEST_CASE("TPM attestation over MQTT is refused as a configuration error without a request") {
  Harness h(AttestationMethod::tpm, Transport::mqtt);
  h.start();
  h.run();
  CHECK(h.failure().kind() == ErrorKind::config);
  CHECK(h.channel.sent.empty());
}

TEST_CASE("done is never called inside start, only once the executor runs") {
  Harness h(AttestationMethod::x509);
  h.channel.replies = {reply(404, {{"errorCode", 404201}, {"message", "no"}})};
  h.start();
  CHECK(h.outcomes.empty());
  h.run();
  CHECK(h.outcomes.size() == 1);
}

TEST_CASE("cancel during a request completes once with a closed network failure and closes the channel") {
  Harness h(AttestationMethod::x509);
  h.channel.hold = true;
  h.start();
  h.run();
  REQUIRE(h.channel.held.has_value());
  CHECK(h.outcomes.empty());
  h.registration->cancel();
  h.registration->cancel();
  h.run();
  const auto& failure = h.failure();
  CHECK(failure.kind() == ErrorKind::network);
  CHECK(std::get<TransportError>(failure.cause).kind == TransportErrorKind::closed);
  CHECK(h.channel.closes == 1);
  // The reply that arrives late is ignored: still exactly one outcome.
  (*h.channel.held)(assigning("op-1"));
  h.run();
  CHECK(h.outcomes.size() == 1);
}

TEST_CASE("cancel during the poll wait stops the real timer at once and completes once") {
  Harness h(AttestationMethod::x509);
  // An hour's Retry-After on the steady_timer: io.run() returns only because cancel() stopped the wait.
  h.channel.replies = {assigning("op-1", "3600"), assigned("op-1")};
  h.start(false);
  h.io.poll();
  REQUIRE(h.channel.sent.size() == 1);
  CHECK(h.outcomes.empty());
  h.registration->cancel();
  h.run();
  CHECK(std::get<TransportError>(h.failure().cause).kind == TransportErrorKind::closed);
  CHECK(h.channel.sent.size() == 1);
  CHECK(h.channel.closes == 0);  // nothing was in flight
}

TEST_CASE("cancel after the outcome changes nothing") {
  Harness h(AttestationMethod::x509);
  h.channel.replies = {assigning("op-1"), assigned("op-1")};
  h.start();
  h.run();
  h.success();
  h.registration->cancel();
  h.run();
  CHECK(h.outcomes.size() == 1);
  CHECK(std::holds_alternative<Assigned>(h.outcomes.front()));
}
