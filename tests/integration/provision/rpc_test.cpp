// The local API around a registration: `status` answering while one is in flight, `reprovision` and who may
// call it, concurrent calls joining one registration, and a failed reprovision reported as such.
#include <algorithm>
#include <future>
#include <numeric>
#include <thread>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "ipc/jsonrpc.h"
#include "tests/integration/provision/provision_checks.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

json provision_symmetric_key_device(ProvisioningWorld& world, const std::string& id) {
  world.enroll_symmetric_key(id, individual_key);
  world.init({.attestation = Attestation::symmetric_key, .registration_id = id, .symmetric_key = individual_key});
  world.start_daemon();
  return world.wait_for_state("provisioned", 30s);
}

// One JSON-RPC line sent by socat running as `user`: the caller's OS identity is what the service judges.
json call_as(ProvisioningWorld& world, const std::string& user, const std::string& method) {
  const auto r = run({.argv = {"socat", "-t", "10", "-", "UNIX-CONNECT:" + world.socket().string()},
                      .run_as_user = user,
                      .stdin_text = json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}}.dump() + "\n"},
                     30s);
  INFO("socat as " << user << ": exit " << r.status.code << ": " << r.output);
  REQUIRE(r.status.code == 0);
  return json::parse(r.output);
}

}  // namespace

TEST_CASE("status answers at once while a TPM registration is in flight") {
  // The emulator keeps the operation `assigning` for 3 s: the registration (TPM challenge, import, signed
  // PUT, polls) stays in flight while status is polled as fast as a monitoring script could.
  ProvisioningWorld world({.emulator_args = {"--assigning-seconds", "3", "--retry-after", "1"}});
  const auto tpm = world.tpm_identity();
  world.enroll_tpm(tpm);
  world.init({.attestation = Attestation::tpm});
  world.start_daemon();

  std::vector<double> latencies_ms;
  std::size_t in_flight = 0;
  const auto deadline = steady_clock::now() + 60s;
  std::string state;
  while (state != "provisioned" && steady_clock::now() < deadline) {
    const auto before = steady_clock::now();
    json s;
    try {
      s = world.call("status", nullptr, 2s);  // a generous bound: the answer comes from a snapshot
    } catch (const ipc::ClientError& e) {
      FAIL("status did not answer within 2 s during the registration: " << e.what());
    }
    latencies_ms.push_back(duration<double, std::milli>(steady_clock::now() - before).count());
    state = s["state"].get<std::string>();
    if (state == "provisioning") ++in_flight;
  }
  REQUIRE(state == "provisioned");
  CHECK(in_flight > 10);  // the loop did observe the registration in flight
  std::sort(latencies_ms.begin(), latencies_ms.end());
  record("status calls during the registration", static_cast<double>(latencies_ms.size()), "calls");
  record("status latency median", latencies_ms[latencies_ms.size() / 2], "ms");
  record("status latency max", latencies_ms.back(), "ms");
}

TEST_CASE("reprovision by a user who is not an administrator is refused with -32001 and registers nothing") {
  ProvisioningWorld world({.tpm = false});
  provision_symmetric_key_device(world, "guarded");
  const auto before = register_requests(world, "guarded");

  const auto reply = call_as(world, "nobody", "reprovision");
  INFO(reply.dump());
  REQUIRE(reply.contains("error"));
  CHECK(reply["error"]["code"] == ipc::errc::unauthorized);
  CHECK_THAT(reply["error"]["message"].get<std::string>(), ContainsSubstring("nobody"));

  const auto ctl = world.ctl({"reprovision"}, "nobody");
  INFO(ctl.output);
  CHECK(ctl.status.code == 5);

  // Status stays open to everyone, identity.* does not.
  CHECK(call_as(world, "nobody", "status")["result"]["state"] == "provisioned");
  CHECK(call_as(world, "nobody", "identity.sasToken")["error"]["code"] == ipc::errc::unauthorized);

  // An accepted reprovision would have moved the state to provisioning before any later call is
  // answered: the requests of one service are handled in order on its one io thread.
  const auto after = world.status();
  CHECK(after["state"] == "provisioned");
  CHECK(after["attempts"] == 1);
  CHECK(register_requests(world, "guarded") == before);
}

TEST_CASE("two reprovision calls at the same time cause exactly one new registration, and both get its result") {
  // Each registration stays `assigning` for 2 s, so the second call arrives while the first one runs.
  ProvisioningWorld world({.tpm = false, .emulator_args = {"--assigning-seconds", "2", "--retry-after", "1"}});
  const auto first = provision_symmetric_key_device(world, "twice");
  REQUIRE(register_requests(world, "twice") == 1);

  auto reprovision = [&world] { return world.call("reprovision", nullptr, 30s); };
  auto a = std::async(std::launch::async, reprovision);
  world.wait_for_state("provisioning", 10s);  // the first call's registration is in flight
  auto b = std::async(std::launch::async, reprovision);
  const auto ra = a.get();
  const auto rb = b.get();
  INFO("first: " << ra.dump() << "\nsecond: " << rb.dump());
  CHECK(ra["state"] == "provisioned");
  CHECK(rb["state"] == "provisioned");
  CHECK(ra["assignment"] == rb["assignment"]);
  CHECK(ra["lastAttempt"]["at"] == rb["lastAttempt"]["at"]);
  CHECK(time_of(ra["assignment"]["assignedAt"]) > time_of(first["assignment"]["assignedAt"]));

  INFO(world.emulator().log());
  CHECK(register_requests(world, "twice") == 2);
}

TEST_CASE("reprovision with wait false answers at once with state provisioning, and the registration completes") {
  ProvisioningWorld world({.tpm = false, .emulator_args = {"--assigning-seconds", "2", "--retry-after", "1"}});
  provision_symmetric_key_device(world, "no-wait-rpc");

  const auto before = steady_clock::now();
  const auto r = world.call("reprovision", {{"wait", false}}, 30s);
  record("reprovision wait=false answered after", duration<double, std::milli>(steady_clock::now() - before).count(), "ms");
  INFO(r.dump());
  CHECK(r["state"] == "provisioning");
  CHECK(steady_clock::now() - before < 2s);  // it did not wait for the 2 s the emulator keeps it assigning
  const auto status = world.wait_for_state("provisioned", 30s);
  CHECK(status["source"] == "dps");
  CHECK(register_requests(world, "no-wait-rpc") == 2);
}

TEST_CASE("edgeprovctl reprovision --no-wait answers at once with state provisioning; the device is provisioned again") {
  ProvisioningWorld world({.tpm = false, .emulator_args = {"--assigning-seconds", "2", "--retry-after", "1"}});
  provision_symmetric_key_device(world, "no-wait");

  const auto r = world.ctl({"--json", "reprovision", "--no-wait"});
  INFO(r.output);
  CHECK(r.status.code == 0);
  CHECK(json::parse(r.output)["state"] == "provisioning");
  const auto status = world.wait_for_state("provisioned", 30s);
  CHECK(status["source"] == "dps");
  CHECK(register_requests(world, "no-wait") == 2);
}

TEST_CASE("a reprovision that DPS refuses answers -32022 with the attempt's error, and the device is failed") {
  ProvisioningWorld world({.tpm = false});
  provision_symmetric_key_device(world, "soon-disabled");
  world.set_enrollment_status("soon-disabled", "disabled");

  try {
    world.call("reprovision", nullptr, 30s);
    FAIL("reprovision succeeded with a disabled enrollment");
  } catch (const ipc::ClientError& e) {
    REQUIRE(e.rpc_error().has_value());
    const auto& error = *e.rpc_error();
    INFO("error: " << error.code << " " << error.message << " " << error.data.dump());
    CHECK(error.code == ipc::errc::provisioning_failed);
    CHECK_THAT(error.message, ContainsSubstring("disabled"));
    CHECK(error.data["state"] == "failed");
    CHECK(error.data["error"]["kind"] == "dps");
    CHECK(error.data["nextAttemptAt"].is_null());
  }
  const auto status = world.status();
  CHECK(status["state"] == "failed");
  CHECK(status["assignment"].is_null());

  // edgeprovctl says so with a non-zero exit and DPS's reason.
  const auto r = world.ctl({"reprovision"});
  INFO(r.output);
  CHECK(r.status.code != 0);
  CHECK_THAT(r.output, ContainsSubstring("disabled"));
}
