// The fleet simulation's pieces, without a socket or a process: the attempt model follows the real
// dps::Registration answer by answer (both fed the emulator's own replies), the simulated front door decides
// as the emulator's does, and small fleets end as they must.
#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <deque>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "bench/fleet/attempt_model.h"
#include "bench/fleet/figures.h"
#include "bench/fleet/simulation.h"
#include "common/crypto.h"
#include "dps/registration.h"
#include "emulator/device_gate.h"

using namespace edgeprov;
using namespace edgeprov::fleet;
using namespace std::chrono_literals;
using emulator::DeviceReply;
using emulator::Outcome;
using emulator::RequestKind;

namespace {

const std::string device = "fleet-000001";
const SystemTime noon = SystemTime(std::chrono::seconds(1'800'000'000));

// ---- The emulator's answers, as it builds them ---------------------------------------------------------------

DeviceReply assigning(int retry_after = 1) { return emulator::assigning_reply("4." + device, retry_after); }
DeviceReply still_assigning(int retry_after = 1) {
  return emulator::assigning_poll_reply("4." + device, device, retry_after);
}
DeviceReply assigned() {
  return emulator::final_poll_reply("4." + device, {{"registrationId", device},
                                                   {"assignedHub", "hub-a.azure-devices.net"},
                                                   {"deviceId", device},
                                                   {"status", "assigned"},
                                                   {"substatus", "initialAssignment"}});
}
DeviceReply throttled(emulator::QuotaKind quota, int retry_after) {
  const emulator::RateLimit limit = quota == emulator::QuotaKind::registrations ? emulator::RateLimit{60, 60s}
                                                                                 : emulator::RateLimit{5, 10s};
  return emulator::throttled_reply({quota, limit, {}, std::chrono::seconds(retry_after)}, noon);
}
DeviceReply unavailable() { return emulator::outage_reply({.id = 1}, noon); }

// ---- The real attempt, against a channel that plays those answers ------------------------------------------

class ScriptedChannel final : public dps::Channel {
 public:
  explicit ScriptedChannel(std::deque<DeviceReply> script) : script_(std::move(script)) {}
  std::vector<std::string> sent;

  void async_register(std::string, std::optional<Secret>, dps::ChannelHandler handler) override {
    answer("register", std::move(handler));
  }
  void async_operation_status(std::string, std::string, std::optional<Secret>, dps::ChannelHandler handler) override {
    answer("poll", std::move(handler));
  }
  void close() override {}
  dps::Transport transport() const override { return dps::Transport::https; }

 private:
  void answer(const std::string& what, dps::ChannelHandler handler) {
    sent.push_back(what);
    REQUIRE_FALSE(script_.empty());
    const DeviceReply r = script_.front();
    script_.pop_front();
    handler(dps::ChannelReply{r.status, r.retry_after ? std::to_string(*r.retry_after) : std::string(),
                              "application/json; charset=utf-8", r.body});
  }
  std::deque<DeviceReply> script_;
};

class SymmetricKey final : public dps::Credential {
 public:
  dps::AttestationMethod method() const override { return dps::AttestationMethod::symmetric_key; }
  std::optional<dps::TpmKeys> tpm_keys() const override { return std::nullopt; }
  void async_sign(dps::SigningKey, std::string data, SignDone done) override {
    done(hmac_sha256(Bytes(32, 7), ByteView(reinterpret_cast<const std::uint8_t*>(data.data()), data.size())));
  }
  // Symmetric keys have no key lifecycle; dps::Registration never calls these for them.
  void async_load_key(Bytes, LoadDone) override { FAIL("a symmetric-key attempt loads no key"); }
  void async_persist_key(dps::AttemptKey, PersistDone) override { FAIL("a symmetric-key attempt persists no key"); }
  void release_key(dps::AttemptKey) override {}
};

struct Trace {
  std::vector<std::string> requests;
  std::vector<std::chrono::seconds> waits;
  std::optional<dps::RegistrationOutcome> outcome;
};

Trace real_attempt(const std::deque<DeviceReply>& script, unsigned max_polls) {
  boost::asio::io_context io;
  ScriptedChannel channel(script);
  SymmetricKey key;
  Trace trace;
  dps::RegistrationRequest request;
  request.id_scope = simulated_id_scope;
  request.registration_id = device;
  request.max_polls = max_polls;
  auto attempt = dps::Registration::start(
      io.get_executor(), channel, key, request, [&](dps::RegistrationOutcome o) { trace.outcome = std::move(o); },
      [] { return noon; },
      [&](std::chrono::seconds delay, std::function<void()> resume) {
        trace.waits.push_back(delay);
        resume();
      });
  io.run();
  trace.requests = channel.sent;
  return trace;
}

Trace modelled_attempt(std::deque<DeviceReply> script, unsigned max_polls) {
  Trace trace;
  AttemptState state{device, 0, {}};
  trace.requests.push_back("register");
  for (;;) {
    REQUIRE_FALSE(script.empty());
    const DeviceReply r = script.front();
    script.pop_front();
    AttemptStep step = next_step(state, read_reply(r, state), r.status, noon, max_polls);
    if (auto* over = std::get_if<AttemptOver>(&step)) {
      trace.outcome = std::move(over->outcome);
      return trace;
    }
    trace.waits.push_back(std::get<PollAfter>(step).wait);
    trace.requests.push_back("poll");
  }
}

// The model and dps::Registration, fed the same answers, send the same requests, wait the same and end alike.
void agree(const std::deque<DeviceReply>& script, unsigned max_polls = 60) {
  const Trace real = real_attempt(script, max_polls);
  const Trace model = modelled_attempt(script, max_polls);
  CHECK(model.requests == real.requests);
  CHECK(model.waits == real.waits);
  REQUIRE(real.outcome);
  REQUIRE(model.outcome);
  REQUIRE(real.outcome->index() == model.outcome->index());
  if (const auto* a = std::get_if<dps::Assigned>(&*real.outcome)) {
    CHECK(std::get<dps::Assigned>(*model.outcome).hub == a->hub);
    CHECK(std::get<dps::Assigned>(*model.outcome).device_id == a->device_id);
    return;
  }
  const auto& r = std::get<dps::Error>(*real.outcome);
  const auto& m = std::get<dps::Error>(*model.outcome);
  CHECK(m.kind() == r.kind());
  CHECK(m.http_status() == r.http_status());
  CHECK(m.code() == r.code());
  CHECK(m.transient == r.transient);
  CHECK(m.retry_after() == r.retry_after());
  CHECK(std::get<dps::Rejection>(m.cause).cause == std::get<dps::Rejection>(r.cause).cause);
}

}  // namespace

TEST_CASE("the attempt model makes the requests dps::Registration makes and ends as it does") {
  SECTION("registered, polled after the 202's Retry-After, assigned") { agree({assigning(3), assigned()}); }
  SECTION("polled while the emulator still says assigning") {
    agree({assigning(1), still_assigning(2), still_assigning(1), assigned()});
  }
  SECTION("a register request throttled: the attempt ends with DPS's Retry-After") {
    agree({throttled(emulator::QuotaKind::registrations, 23)});
  }
  SECTION("a poll throttled by the per-device quota is sent again after the Retry-After") {
    agree({assigning(1), throttled(emulator::QuotaKind::polls_per_device, 4), still_assigning(1), assigned()});
  }
  SECTION("polls throttled up to the poll limit end the attempt with the last refusal") {
    agree({assigning(1), throttled(emulator::QuotaKind::polls_per_device, 4),
           throttled(emulator::QuotaKind::polls_per_device, 3)},
          2);
  }
  SECTION("a poll refused by an outage ends the attempt") { agree({assigning(1), unavailable()}); }
  SECTION("a register request refused by an outage") { agree({unavailable()}); }
  SECTION("still assigning after the poll limit: a transient failure") {
    agree({assigning(1), still_assigning(1), still_assigning(1), still_assigning(1)}, 3);
  }
}

TEST_CASE("the simulated front door decides as the emulator's: an outage refuses first, and only what passes uses the quota") {
  FleetSpec spec;
  spec.scenario = Scenario::outage;
  spec.outage_length = 10s;
  spec.registrations = {1, 60s};
  const emulator::AdmissionTime origin{};
  SimulatedDps dps(spec, origin, noon);
  CHECK(dps.judge("a", RequestKind::register_device, 1s).outcome == Outcome::refused);
  CHECK(dps.judge("a", RequestKind::register_device, 11s).outcome == Outcome::accepted);
  const Verdict late = dps.judge("b", RequestKind::register_device, 12s);
  CHECK(late.outcome == Outcome::throttled);
  CHECK(late.retry_after() == 59s);  // the one registration let through leaves the window at 71 s
  const auto answer = dps.answer(late, RequestKind::register_device, "b", 0, 12s);
  CHECK(answer.status == 429);
  CHECK(answer.retry_after == 59);
  // Polls are metered per device, five in any ten seconds.
  for (int i = 0; i < 5; ++i) CHECK(dps.judge("a", RequestKind::operation_status, 20s).outcome == Outcome::accepted);
  CHECK(dps.judge("a", RequestKind::operation_status, 21s).outcome == Outcome::throttled);
  CHECK(dps.judge("b", RequestKind::operation_status, 21s).outcome == Outcome::accepted);
}

TEST_CASE("a fleet the quota lets through at once: one register request and one poll each, nobody throttled") {
  FleetSpec spec;
  spec.devices = 50;
  spec.registrations = {100, 60s};
  spec.start_spread = 10s;
  spec.request_latency = 20ms;
  for (Client client : {Client::edgeprov, Client::naive}) {
    INFO(to_string(client));
    const FleetRun run = simulate(spec, client, 7);
    const Figures f = figures(spec, run);
    CHECK(f.failed == 0);
    CHECK(f.throttled_per_device_mean == 0);
    CHECK(f.requests_per_device_mean == 2);
    // Register (20 ms), the 202's Retry-After of 1 s, the poll (20 ms).
    CHECK(std::abs(f.p50_seconds - 1.04) < 1e-6);
    CHECK(std::abs(f.converged_seconds - (9.8 + 1.04)) < 1e-6);
    CHECK(f.peak_requests_per_minute == 50);
  }
}

TEST_CASE("a fleet twice what the window lets through: the devices past the quota are throttled once, then all provisioned") {
  FleetSpec spec;
  spec.devices = 20;
  spec.registrations = {10, 60s};
  spec.start_spread = 1s;
  const FleetRun run = simulate(spec, Client::edgeprov, 3);
  const Figures f = figures(spec, run);
  CHECK(f.failed == 0);
  CHECK(f.throttled_per_device_mean == 0.5);
  CHECK(f.throttled_per_device_max == 1);
  // Back after the Retry-After (the first window ends at 60 s) and within the first spread (a minute).
  CHECK(f.converged_seconds > 60);
  CHECK(f.converged_seconds < 60 + 1 + 60 + 2);
  for (const auto& d : run.devices) CHECK(d.registers == 1 + d.throttled);
}

TEST_CASE("through an outage the naive client asks every 3 s, edgeprov less and less often") {
  FleetSpec spec;
  spec.scenario = Scenario::outage;
  spec.devices = 1;
  spec.outage_length = 30s;
  spec.request_latency = 20ms;
  const Figures naive = figures(spec, simulate(spec, Client::naive, 1));
  CHECK(naive.refused_per_device_mean == 10);  // at 0, 3.02, …, 27.18 s; the 11th, at 30.2 s, passes
  // Full jitter under 2, 4, 8, 16 s: at least four refusals before 30 s, about six on average.
  std::vector<Figures> runs;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) runs.push_back(figures(spec, simulate(spec, Client::edgeprov, seed)));
  const Figures edgeprov = mean(runs);
  for (const auto& f : runs) {
    CHECK(f.refused_per_device_mean >= 4);
    CHECK(f.failed == 0);
    CHECK(f.converged_seconds >= 30);
  }
  CHECK(edgeprov.refused_per_device_mean < 8);
}

TEST_CASE("figures: the last device provisioned, per-device percentiles, the busiest minute of register requests") {
  FleetSpec spec;
  spec.devices = 4;
  spec.registrations = {2, 60s};
  FleetRun run;
  for (int i = 0; i < 4; ++i) {
    DeviceRecord d;
    d.started = std::chrono::seconds(i);
    d.provisioned = std::chrono::seconds(10 * (i + 1));
    d.registers = 1;
    d.throttled = static_cast<std::uint32_t>(i);
    run.devices.push_back(d);
    run.traffic.add(std::chrono::seconds(i), RequestKind::register_device, Outcome::accepted);
  }
  run.traffic.add(100s, RequestKind::register_device, Outcome::throttled);
  run.traffic.add(101s, RequestKind::operation_status, Outcome::accepted);  // polls are not register requests
  const Figures f = figures(spec, run);
  CHECK(f.floor_seconds == 120);  // 4 devices at 2 per minute
  CHECK(f.converged_seconds == 40);
  CHECK(f.convergence_ratio == 40.0 / 120);
  CHECK(f.throttled_per_device_mean == 1.5);
  CHECK(f.throttled_per_device_max == 3);
  CHECK(f.p50_seconds == 19);  // 10, 19, 28, 37 s from each start
  CHECK(f.p99_seconds == 37);
  CHECK(f.peak_requests_per_minute == 4);
  CHECK(f.failed == 0);
}
