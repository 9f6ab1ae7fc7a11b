// The TPM's two keys across registration attempts, end to end: an attempt that fails after the DPS challenge
// (its key loaded in the TPM and used) must leave the persisted hub key of the assignment the device still
// shows, so that hub tokens keep passing the hub check; only an assigned attempt replaces it. The faults are
// the emulator's: `"skip": 1` lets the challenge through and fails the signed register request.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "ipc/jsonrpc.h"
#include "tests/integration/provision/provision_checks.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

constexpr const char* probe = "cHJvYmU=";  // "probe"

// identity.sign of a fixed text: the same signature means the same persisted key.
std::string persisted_key_signature(ProvisioningWorld& world) {
  return world.call("identity.sign", {{"data", probe}})["signature"].get<std::string>();
}

// `edgeprovctl identity sas-token`, judged by the emulator's hub check for the assignment `status` shows.
void ctl_token_passes_hub_check(ProvisioningWorld& world, const json& status) {
  const auto r = world.ctl({"identity", "sas-token"});
  INFO("edgeprovctl identity sas-token: exit " << r.status.code);
  REQUIRE(r.status.code == 0);
  std::string token = r.output;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  const auto check = world.emulator().admin("POST", "/hubSasCheck", {{"token", token}});
  INFO("hubSasCheck: " << check.body);
  REQUIRE(check.status == 200);
  CHECK(check.json()["valid"] == true);
  CHECK(check.json()["assignedHub"] == status["assignment"]["hub"]);
  CHECK(check.json()["deviceId"] == status["assignment"]["deviceId"]);
}

std::size_t challenges(const ProvisioningWorld& world, const std::string& registration_id) {
  std::size_t n = 0;
  for (const auto& r : world.emulator().requests(registration_id))
    n += r.outcome.find("401 tpm challenge") != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("a reprovision that fails after the TPM challenge keeps the hub key of the assignment still shown, and the next attempt replaces it") {
  ProvisioningWorld world;
  const auto tpm = world.tpm_identity();
  world.enroll_tpm(tpm);
  world.init({.attestation = Attestation::tpm});
  world.start_daemon();
  const auto provisioned = world.wait_for_state("provisioned", 60s);
  const std::string before = persisted_key_signature(world);

  world.emulator().add_fault(
      {{"type", "serviceUnavailable"}, {"skip", 1}, {"retryAfter", 1}, {"registrationId", tpm.registration_id}});
  try {
    world.call("reprovision", nullptr, 60s);
    FAIL("the reprovision succeeded through a 503");
  } catch (const ipc::ClientError& e) {
    REQUIRE(e.rpc_error().has_value());
    INFO("error: " << e.rpc_error()->message << " " << e.rpc_error()->data.dump());
    CHECK(e.rpc_error()->code == ipc::errc::provisioning_failed);
    CHECK(e.rpc_error()->data["error"]["httpStatus"] == 503);
  }
  INFO("emulator:\n" << world.emulator().log());
  CHECK(challenges(world, tpm.registration_id) == 2);  // the reprovision got as far as a loaded challenge key

  // The old assignment is still shown, and its hub key still signs what the hub accepts.
  const auto status = world.status();
  INFO("status: " << status.dump());
  CHECK(status["state"] == "retrying");
  CHECK(status["source"] == "dps");
  CHECK(status["assignment"] == provisioned["assignment"]);
  CHECK(status["tpm"]["available"] == true);
  CHECK(persisted_key_signature(world) == before);
  ctl_token_passes_hub_check(world, status);

  // The backoff's next attempt is assigned: the hub key DPS gave it replaces the persisted one. The 503
  // named a Retry-After of 1 s, so that attempt comes 1 s plus a share of the throttle spread (a minute,
  // dps::throttle_spread) after the failure: up to 61 s, hence the bound.
  const auto again = world.wait_for(
      [](const json& s) { return s["state"] == "provisioned" && s["lastAttempt"]["outcome"] == "assigned"; }, 120s,
      "the next attempt assigned");
  CHECK(again["attempts"] == 3);
  CHECK(challenges(world, tpm.registration_id) == 3);
  CHECK(persisted_key_signature(world) != before);
  ctl_token_passes_hub_check(world, again);
  check_hub_sas_token(world, again["assignment"]["hub"], again["assignment"]["deviceId"]);
}

TEST_CASE("with AlwaysOnStartup, a start whose attempt fails after the TPM challenge falls back to the persisted assignment, whose hub key still works") {
  ProvisioningWorld world;
  const auto tpm = world.tpm_identity();
  world.enroll_tpm(tpm);
  world.init({.attestation = Attestation::tpm, .reprovisioning_mode = "AlwaysOnStartup"});
  world.start_daemon();
  const auto provisioned = world.wait_for_state("provisioned", 60s);
  const std::string before = persisted_key_signature(world);
  world.stop_daemon();

  world.emulator().add_fault({{"type", "serviceUnavailable"}, {"skip", 1}, {"registrationId", tpm.registration_id}});
  world.start_daemon();
  const auto status = world.wait_for(
      [](const json& s) { return s["state"] == "provisioned" || s["state"] == "failed" || s["state"] == "retrying"; },
      60s, "the start-up attempt's outcome");
  INFO("status: " << status.dump() << "\nemulator:\n" << world.emulator().log());
  REQUIRE(status["state"] == "provisioned");
  CHECK(status["source"] == "cache");
  CHECK(status["lastAttempt"]["error"]["httpStatus"] == 503);
  CHECK(status["assignment"] == provisioned["assignment"]);
  CHECK(challenges(world, tpm.registration_id) == 2);  // the start-up attempt loaded a challenge key

  CHECK(persisted_key_signature(world) == before);
  ctl_token_passes_hub_check(world, status);
  check_hub_sas_token(world, status["assignment"]["hub"], status["assignment"]["deviceId"]);
  CHECK_THAT(world.daemon_log(), ContainsSubstring("using the persisted assignment"));
}
