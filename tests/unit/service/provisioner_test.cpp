// The Provisioner (the shell around the provisioning machine) with fake ports: it carries out the effects,
// answers every waiting caller exactly once, drops what arrives after stop, and publishes the status
// projection. No sockets, no TPM, no sleeps: the fakes complete when the test says so.
#include <catch2/catch_test_macros.hpp>

#include "service/provisioner.h"

using namespace edgeprov;
using namespace edgeprov::service;
using namespace std::chrono_literals;

namespace {

class FakeClock final : public Clock {
 public:
  SteadyTime steady = SteadyTime{} + 100h;
  SystemTime system = *parse_rfc3339("2026-12-01T00:00:00Z");
  std::optional<SteadyTime> armed_at;
  std::function<void()> fire_;

  SteadyTime steady_now() override { return steady; }
  SystemTime system_now() override { return system; }
  double unit_random() override { return 0.5; }
  void arm(SteadyTime at, std::function<void()> fire) override {
    armed_at = at;
    fire_ = std::move(fire);
  }
  void cancel() override {
    armed_at.reset();
    fire_ = nullptr;
  }
  void run_until_timer() {
    REQUIRE(fire_);
    system += std::chrono::duration_cast<std::chrono::system_clock::duration>(*armed_at - steady);
    steady = *armed_at;
    auto fire = std::exchange(fire_, nullptr);
    armed_at.reset();
    fire();
  }
};

class FakeCredential final : public DeviceCredential {
 public:
  std::optional<dps::Error> sign_error;
  std::vector<dps::SigningKey> sign_keys;  // the key of each signature asked for
  dps::AttestationMethod method() const override { return dps::AttestationMethod::tpm; }
  std::optional<dps::TpmKeys> tpm_keys() const override { return dps::TpmKeys{}; }
  void async_sign(dps::SigningKey key, std::string, SignDone done) override {
    sign_keys.push_back(key);
    if (sign_error) return done(*sign_error);
    done(Sha256Digest{});
  }
  void async_load_key(Bytes, LoadDone done) override { done(dps::AttemptKey{1}); }
  void async_persist_key(dps::AttemptKey, PersistDone done) override { done(std::nullopt); }
  void release_key(dps::AttemptKey) override {}
  bool signs() const override { return true; }
  std::string key_source() const override { return "tpm"; }
};

class FakeIdentity final : public IdentitySource {
 public:
  FakeCredential credential_;
  bool read_ = false;
  std::vector<std::function<void(std::variant<ResolvedIdentity, dps::Error>)>> pending;
  void async_read(std::function<void(std::variant<ResolvedIdentity, dps::Error>)> done) override {
    pending.push_back(std::move(done));
  }
  DeviceCredential* credential() override { return read_ ? &credential_ : nullptr; }
  void answer(std::variant<ResolvedIdentity, dps::Error> result) {
    REQUIRE(!pending.empty());
    auto done = std::move(pending.front());
    pending.erase(pending.begin());
    if (std::holds_alternative<ResolvedIdentity>(result)) read_ = true;
    done(std::move(result));
  }
};

class FakeAttempts final : public AttemptRunner {
 public:
  std::vector<std::string> started;
  unsigned cancelled = 0;
  std::function<void(dps::RegistrationOutcome)> done;
  void start(const std::string& registration_id, DeviceCredential&,
             std::function<void(dps::RegistrationOutcome)> on_done) override {
    started.push_back(registration_id);
    done = std::move(on_done);
  }
  void cancel() override { ++cancelled; }
  void finish(dps::RegistrationOutcome outcome) {
    REQUIRE(done);
    std::exchange(done, nullptr)(std::move(outcome));
  }
};

class FakeStorage final : public StateStorage {
 public:
  std::optional<PersistedState> file;
  std::vector<PersistedSettings> loads;
  unsigned saves = 0;
  std::optional<PersistedState> peek() override { return file; }
  std::optional<PersistedState> load(const PersistedSettings& expected) override {
    loads.push_back(expected);
    if (file && file->settings == expected) return file;
    return std::nullopt;
  }
  void save(const PersistedState& state) override {
    ++saves;
    file = state;
  }
};

class FakeSink final : public StatusSink {
 public:
  std::vector<StatusSnapshot> published;
  void publish(StatusSnapshot snapshot) override { published.push_back(std::move(snapshot)); }
  State state() const { return published.back().state; }
};

struct World {
  FakeClock clock;
  FakeIdentity identity;
  FakeAttempts attempts;
  FakeStorage storage;
  FakeSink sink;
  Provisioner provisioner;

  World() : provisioner(settings(), StatusSnapshot{}, ProvisionerPorts{clock, identity, attempts, storage, sink}) {}

  static provisioning::Settings settings() {
    provisioning::Settings s;
    s.global_endpoint = "https://global.azure-devices-provisioning.net/";
    s.id_scope = "0ne00000001";
    return s;
  }
};

dps::Assigned assigned() {
  return dps::Assigned{.hub = "hub.azure-devices.net", .device_id = "dev", .substatus = "initialAssignment",
                       .hub_key_blob = std::nullopt, .payload = nullptr};
}
dps::Error tpm_gone() {
  return dps::tpm_failure(tpm::Error(tpm::ErrorKind::connection, "connect", 0xa000a, "no TPM", "start it"));
}

}  // namespace

TEST_CASE("the Provisioner reads the identity, loads the state written for it, registers and persists the assignment") {
  World w;
  w.provisioner.start();
  REQUIRE(w.identity.pending.size() == 1);
  CHECK(w.sink.state() == State::starting);
  w.identity.answer(ResolvedIdentity{"reg-one", true});
  REQUIRE(w.storage.loads.size() == 1);
  CHECK(w.storage.loads[0].registration_id == "reg-one");
  CHECK(w.storage.loads[0].attestation == "tpm");
  REQUIRE(w.attempts.started == std::vector<std::string>{"reg-one"});
  CHECK(w.sink.state() == State::provisioning);
  w.attempts.finish(assigned());
  CHECK(w.sink.state() == State::provisioned);
  CHECK(w.storage.saves == 1);
  REQUIRE(w.storage.file->assignment);
  CHECK(w.storage.file->assignment->hub == "hub.azure-devices.net");
  const auto identity = w.provisioner.identity();
  REQUIRE(identity);
  CHECK(identity->device_id == "dev");
  CHECK(identity->registration_id == "reg-one");
  CHECK(identity->source == Source::dps);
}

TEST_CASE("every caller waiting for a reprovision is answered exactly once, by the one attempt they share") {
  World w;
  w.provisioner.start();
  w.identity.answer(ResolvedIdentity{"reg-one", true});
  w.attempts.finish(assigned());

  std::vector<AttemptResult> answers;
  w.provisioner.reprovision([&](AttemptResult r) { answers.push_back(r); });
  w.provisioner.reprovision([&](AttemptResult r) { answers.push_back(r); });
  w.provisioner.reprovision({});  // --no-wait: nobody to answer
  CHECK(w.attempts.started.size() == 2);
  CHECK(answers.empty());
  w.attempts.finish(assigned());
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].assigned);
  CHECK(answers[1].assigned);
}

TEST_CASE("after stop, a cancelled attempt's late answer is dropped and a new caller is told the service is stopping") {
  World w;
  w.provisioner.start();
  w.identity.answer(ResolvedIdentity{"reg-one", true});
  std::optional<AttemptResult> waiting;
  w.provisioner.reprovision([&](AttemptResult r) { waiting = r; });
  w.provisioner.stop();
  CHECK(w.attempts.cancelled == 1);
  REQUIRE(waiting);
  CHECK(waiting->error->kind() == dps::ErrorKind::service);
  const auto published = w.sink.published.size();
  w.attempts.finish(assigned());
  CHECK(w.storage.saves == 0);
  CHECK(w.sink.published.size() == published);

  std::optional<AttemptResult> late;
  w.provisioner.reprovision([&](AttemptResult r) { late = r; });
  REQUIRE(late);
  CHECK(late->error->kind() == dps::ErrorKind::service);
}

TEST_CASE("a signature the TPM fails shows in status and arms a read of the TPM; one that works clears it") {
  World w;
  w.provisioner.start();
  w.identity.answer(ResolvedIdentity{"reg-one", true});
  w.attempts.finish(assigned());

  w.identity.credential_.sign_error = tpm_gone();
  std::optional<dps::Error> got;
  w.provisioner.async_sign("data", [&](std::variant<Sha256Digest, dps::Error> r) {
    if (auto* e = std::get_if<dps::Error>(&r)) got = *e;
  });
  REQUIRE(got);
  CHECK(got->kind() == dps::ErrorKind::tpm);
  CHECK(w.sink.state() == State::provisioned);
  CHECK(w.sink.published.back().tpm.available == false);
  REQUIRE(w.clock.armed_at);

  w.identity.credential_.sign_error.reset();
  w.provisioner.async_sign("data", [](auto) {});
  CHECK(w.sink.published.back().tpm.available == true);
  CHECK_FALSE(w.clock.armed_at);
}

TEST_CASE("a backoff wait is carried out on the clock: the attempt starts when the timer fires, not before") {
  World w;
  w.provisioner.start();
  w.identity.answer(ResolvedIdentity{"reg-one", true});
  w.attempts.finish(dps::transport_failure({dps::TransportErrorKind::timeout, "slow", true}));
  CHECK(w.sink.state() == State::retrying);
  CHECK(w.attempts.started.size() == 1);
  REQUIRE(w.clock.armed_at);
  w.clock.run_until_timer();
  CHECK(w.attempts.started.size() == 2);
  CHECK(w.sink.state() == State::provisioning);
}

TEST_CASE("an identity read that answers after stop is dropped") {
  World w;
  w.provisioner.start();
  w.provisioner.stop();
  w.identity.answer(ResolvedIdentity{"reg-one", true});
  CHECK(w.storage.loads.empty());
  CHECK(w.attempts.started.empty());
}

TEST_CASE("identity signatures use the device key, also while a reprovision's attempt is in flight") {
  World w;
  w.provisioner.start();
  w.identity.answer(ResolvedIdentity{"reg-one", true});
  w.attempts.finish(assigned());
  w.provisioner.async_sign("before", [](auto) {});
  w.provisioner.reprovision({});
  REQUIRE(w.attempts.started.size() == 2);
  REQUIRE(w.provisioner.identity());  // the assignment still shown
  w.provisioner.async_sign("during", [](auto) {});
  w.attempts.finish(assigned());
  w.provisioner.async_sign("after", [](auto) {});
  const auto& keys = w.identity.credential_.sign_keys;
  REQUIRE(keys.size() == 3);
  for (const auto& key : keys) CHECK(std::holds_alternative<dps::DeviceKey>(key));
}
