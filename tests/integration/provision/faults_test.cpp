// Each fault the emulator injects (docs/dps-emulator.md, "Faults"), met by a real edgeprovd: the state and
// error `status` shows while it waits, Retry-After obeyed (measured between the requests in the emulator's
// log), and success once the fault has cleared.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "tests/integration/provision/provision_checks.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

// A symmetric-key device (no TPM: the faults are about the network) whose first attempt meets `fault`.
class FaultedDevice {
 public:
  FaultedDevice(const std::string& transport, const std::string& id) : id_(id) {
    world_.enroll_symmetric_key(id, individual_key);
    world_.init({.attestation = Attestation::symmetric_key, .transport = transport, .registration_id = id,
                 .symmetric_key = individual_key});
  }

  ProvisioningWorld& world() { return world_; }

  // Arms the fault, starts edgeprovd and returns the first `retrying` status.
  json start_against(const json& fault) {
    world_.emulator().add_fault(fault);
    world_.start_daemon();
    const auto status = world_.wait_for(
        [](const json& s) { return s["state"] == "retrying" || s["state"] == "failed" || s["state"] == "provisioned"; },
        30s, "the first attempt's outcome");
    INFO("status after the faulted attempt: " << status.dump() << "\nemulator:\n" << world_.emulator().log()
                                               << "\nedgeprovd:\n" << world_.daemon_log());
    REQUIRE(status["state"] == "retrying");
    CHECK(status["lastAttempt"]["outcome"] == "error");
    CHECK(status["assignment"].is_null());
    REQUIRE(status["nextAttemptAt"].is_string());
    CHECK(time_of(status["nextAttemptAt"]) > time_of(status["lastAttempt"]["at"]));
    CHECK(status["attempts"].get<int>() >= 1);
    return status;
  }

  // Once the fault is used up, the next attempt succeeds.
  json provisioned() {
    const auto status = world_.wait_for_state("provisioned", 60s);
    CHECK(status["source"] == "dps");
    CHECK(status["lastAttempt"]["outcome"] == "assigned");
    CHECK(status["nextAttemptAt"].is_null());
    const auto record = world_.emulator().admin("GET", "/registrations/" + id_).json();
    CHECK(status["assignment"]["deviceId"] == record["deviceId"]);
    return status;
  }

  // The time from the emulator's answer that carried `outcome` to the next register request.
  milliseconds gap_after(const std::string& outcome) {
    const auto requests = world_.emulator().requests(id_);
    INFO("emulator:\n" << world_.emulator().log());
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (requests[i].outcome.find(outcome) == std::string::npos) continue;
      for (std::size_t j = i + 1; j < requests.size(); ++j)
        if (requests[j].kind == "register") return between(requests[i].at, requests[j].at);
      FAIL("no register request after the one answered " << outcome);
    }
    FAIL("the emulator logged no request answered " << outcome);
    return {};
  }

  // A fault with a count leaves the emulator's list once it has struck that often.
  bool fault_used_up() { return world_.emulator().admin("GET", "/faults").json().empty(); }

  bool logged(const std::string& outcome) {
    for (const auto& r : world_.emulator().requests(id_))
      if (r.outcome.find(outcome) != std::string::npos) return true;
    return false;
  }

 private:
  ProvisioningWorld world_{{.tpm = false}};
  std::string id_;
};

}  // namespace

TEST_CASE("a 429 with Retry-After is shown as retrying with DPS's error, and the next request waits at least Retry-After") {
  const std::string transport = GENERATE(as<std::string>{}, "https", "mqtt");
  DYNAMIC_SECTION("over " << transport) {
    const std::string id = "throttled-" + transport;
    FaultedDevice device(transport, id);
    const auto status = device.start_against(
        {{"type", "throttle"}, {"retryAfter", 3}, {"count", 1}, {"registrationId", id}, {"transport", transport}});
    const auto& error = status["lastAttempt"]["error"];
    CHECK(error["kind"] == "dps");
    CHECK(error["httpStatus"] == 429);
    CHECK(error["code"] == 429001);
    CHECK_FALSE(error["message"].get<std::string>().empty());
    CHECK(between(time_of(status["lastAttempt"]["at"]), time_of(status["nextAttemptAt"])) >= 3s);

    const auto done = device.provisioned();
    CHECK(done["attempts"] == 2);
    const auto gap = device.gap_after("429 injected");
    record("429 Retry-After 3 s over " + transport + ": gap to the next register", static_cast<double>(gap.count()), "ms");
    CHECK(gap >= 3s);
  }
}

TEST_CASE("a 503 with Retry-After is retried no sooner than it says") {
  const std::string id = "unavailable";
  FaultedDevice device("https", id);
  const auto status = device.start_against({{"type", "serviceUnavailable"}, {"retryAfter", 2}, {"count", 1}, {"registrationId", id}});
  const auto& error = status["lastAttempt"]["error"];
  CHECK(error["kind"] == "dps");
  CHECK(error["httpStatus"] == 503);
  CHECK(error["code"] == 503000);
  device.provisioned();
  const auto gap = device.gap_after("503 injected");
  record("503 Retry-After 2 s: gap to the next register", static_cast<double>(gap.count()), "ms");
  CHECK(gap >= 2s);
}

TEST_CASE("a reply cut off mid-body is a network error to retry") {
  const std::string id = "cut-off";
  FaultedDevice device("https", id);
  const auto status = device.start_against({{"type", "closeMidBody"}, {"count", 1}, {"registrationId", id}});
  const auto& error = status["lastAttempt"]["error"];
  CHECK(error["kind"] == "network");
  CHECK(error["httpStatus"].is_null());
  CHECK_FALSE(error["message"].get<std::string>().empty());
  device.provisioned();
  CHECK(device.logged("close mid-body injected"));
  // No Retry-After here: the backoff's first delay, at least 1 s (docs/dps-client.md, "Retrying").
  CHECK(device.gap_after("close mid-body injected") >= 1s);
}

TEST_CASE("a server that stalls and then hangs up is a network error to retry") {
  const std::string id = "stalled";
  FaultedDevice device("https", id);
  const auto started = system_clock::now();
  const auto status = device.start_against({{"type", "stall"}, {"stallSeconds", 3}, {"count", 1}, {"registrationId", id}});
  CHECK(status["lastAttempt"]["error"]["kind"] == "network");
  // The attempt ended when the emulator hung up after its 3 s stall, not before.
  CHECK(between(started, system_clock::now()) >= 3s);
  device.provisioned();
  CHECK(device.logged("stall injected"));
  CHECK(device.gap_after("stall injected") >= 3s + 1s);  // the stall, then at least the first backoff delay
}

TEST_CASE("a reply that is not valid JSON is shown as an error of DPS's answer and retried") {
  const std::string id = "garbled";
  FaultedDevice device("https", id);
  const auto status = device.start_against({{"type", "malformedJson"}, {"count", 1}, {"registrationId", id}});
  const auto& error = status["lastAttempt"]["error"];
  CHECK(error["kind"] == "dps");
  CHECK(error["httpStatus"] == 202);
  CHECK_FALSE(error["message"].get<std::string>().empty());
  device.provisioned();
  CHECK(device.gap_after("malformed json injected") >= 1s);
}

TEST_CASE("a TLS handshake failure is a network error naming TLS, retried") {
  const std::string id = "tls-refused";
  FaultedDevice device("https", id);
  const auto status = device.start_against({{"type", "tlsHandshakeFailure"}, {"count", 1}, {"transport", "https"}});
  const auto& error = status["lastAttempt"]["error"];
  CHECK(error["kind"] == "network");
  CHECK_THAT(error["message"].get<std::string>(), ContainsSubstring("TLS"));
  device.provisioned();
  CHECK(device.fault_used_up());
}

TEST_CASE("an MQTT connection dropped right after CONNACK is a network error, retried on a new connection") {
  const std::string id = "mqtt-dropped";
  FaultedDevice device("mqtt", id);
  const auto status = device.start_against({{"type", "mqttDropAfterConnack"}, {"count", 1}, {"registrationId", id}});
  CHECK(status["lastAttempt"]["error"]["kind"] == "network");
  device.provisioned();
  CHECK(device.logged("dropped after CONNACK (injected)"));
  std::size_t connects = 0;
  for (const auto& r : device.world().emulator().requests(id)) connects += r.kind == "connect";
  CHECK(connects >= 2);
}
