// Restarts: the persisted assignment used offline, AlwaysOnStartup's rules, a corrupt state file set aside,
// and the backoff schedule continued across a restart.
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
namespace fs = std::filesystem;

namespace {

// A symmetric-key device over HTTPS, provisioned once.
json provision_symmetric_key_device(ProvisioningWorld& world, const std::string& id, const std::string& mode = {}) {
  world.enroll_symmetric_key(id, individual_key);
  world.init({.attestation = Attestation::symmetric_key, .registration_id = id, .symmetric_key = individual_key,
              .reprovisioning_mode = mode});
  world.start_daemon();
  const auto status = world.wait_for_state("provisioned", 30s);
  REQUIRE(status["source"] == "dps");
  return status;
}

// A TPM device enrolled with its EK and provisioned once; returns its registration id and the status.
struct TpmDevice {
  std::string registration_id;
  json status;
};
TpmDevice provision_tpm_device(ProvisioningWorld& world) {
  const auto tpm = world.tpm_identity();
  world.enroll_tpm(tpm);
  world.init({.attestation = Attestation::tpm});
  world.start_daemon();
  const auto status = world.wait_for_state("provisioned", 60s);
  REQUIRE(status["source"] == "dps");
  return {tpm.registration_id, status};
}

std::vector<fs::path> rejected_state_files(const ProvisioningWorld& world) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(world.state_dir()))
    if (entry.path().filename().string().rfind("provisioning.json.rejected-", 0) == 0) out.push_back(entry.path());
  return out;
}

}  // namespace

TEST_CASE("a TPM device restarted while DPS is unreachable is provisioned from its cache at once, and its hub key still works") {
  ProvisioningWorld world;
  const auto [registration_id, first] = provision_tpm_device(world);
  world.stop_daemon();
  world.emulator().stop();

  const auto started = steady_clock::now();
  world.start_daemon();
  const auto cached = world.wait_for(
      [](const json& s) { return s["state"] == "provisioned" || s["state"] == "failed" || s["state"] == "retrying"; },
      5s, "a provisioning outcome");
  record("edgeprovd start to provisioned from cache", duration<double, std::milli>(steady_clock::now() - started).count(), "ms");
  INFO("status: " << cached.dump());
  REQUIRE(cached["state"] == "provisioned");
  CHECK(cached["source"] == "cache");
  CHECK(cached["attempts"] == 0);
  CHECK(cached["assignment"]["hub"] == first["assignment"]["hub"]);
  CHECK(cached["assignment"]["deviceId"] == first["assignment"]["deviceId"]);
  CHECK(cached["assignment"]["assignedAt"] == first["assignment"]["assignedAt"]);
  CHECK(world.call("identity.get")["source"] == "cache");

  // The hub key persisted in the TPM signs what the hub accepts (the emulator keeps its keys in its state file).
  world.emulator().start();
  check_hub_sas_token(world, cached["assignment"]["hub"], cached["assignment"]["deviceId"]);
  // Dynamic mode: still no registration after the emulator came back.
  CHECK(register_requests(world, registration_id) == 2);  // the unsigned PUT (challenge) and the signed one
}

TEST_CASE("a TPM that answers only after the service started at boot: provisioned from the cache at once, confirmed within a second of the TPM answering") {
  ProvisioningWorld world;
  const auto [registration_id, first] = provision_tpm_device(world);
  world.stop_daemon();

  // The boot case: the TPM's resource manager (or TBS) is not up when the service starts.
  world.swtpm().stop();
  world.start_daemon();
  const auto serving = world.wait_for([](const json& s) { return s["tpm"]["available"] == false; }, 10s,
                                      "the TPM reported unavailable");
  INFO("while the TPM is away: " << serving.dump());
  CHECK(serving["state"] == "provisioned");
  CHECK(serving["source"] == "cache");
  CHECK(serving["assignment"]["deviceId"] == first["assignment"]["deviceId"]);
  CHECK(serving["tpm"]["error"]["kind"] == "tpm");
  CHECK(serving["nextAttemptAt"].is_null());
  CHECK(world.ctl({"status"}).status.code == 0);
  CHECK(world.ctl({"wait", "--timeout", "5"}).status.code == 0);

  world.swtpm().restart();
  const auto answered = steady_clock::now();
  const auto confirmed = world.wait_for([](const json& s) { return s["tpm"]["available"] == true; }, 10s,
                                        "the TPM confirming the cached identity");
  const double lag_ms = duration<double, std::milli>(steady_clock::now() - answered).count();
  record("TPM answering to the cached identity confirmed", lag_ms, "ms");
  INFO("after the TPM came back: " << confirmed.dump());
  CHECK(lag_ms < 3000);  // a generous bound: the TPM is asked again every second (figure above)
  CHECK(confirmed["state"] == "provisioned");
  CHECK(confirmed["source"] == "cache");
  CHECK(confirmed["tpm"]["error"].is_null());
  CHECK(confirmed["tpm"]["registrationId"] == registration_id);
  CHECK(register_requests(world, registration_id) == 2);  // the first registration's two PUTs only
  check_hub_sas_token(world, confirmed["assignment"]["hub"], confirmed["assignment"]["deviceId"]);
}

TEST_CASE("a TPM lost while provisioned: the device stays provisioned, a signature answers the TPM's error, and it recovers by itself") {
  ProvisioningWorld world;
  const auto [registration_id, provisioned] = provision_tpm_device(world);

  world.swtpm().stop();
  try {
    world.call("identity.sasToken");
    FAIL("identity.sasToken answered without a TPM");
  } catch (const ipc::ClientError& e) {
    REQUIRE(e.rpc_error().has_value());
    CHECK(e.rpc_error()->code == ipc::errc::tpm_unavailable);
  }
  const auto lost = world.wait_for([](const json& s) { return s["tpm"]["available"] == false; }, 10s,
                                   "the TPM reported unavailable");
  CHECK(lost["state"] == "provisioned");
  CHECK(lost["source"] == "dps");
  CHECK(lost["tpm"]["error"]["kind"] == "tpm");

  world.swtpm().restart();
  const auto back = world.wait_for([](const json& s) { return s["tpm"]["available"] == true; }, 10s,
                                   "the TPM answering again");
  CHECK(back["state"] == "provisioned");
  CHECK(back["tpm"]["error"].is_null());
  check_hub_sas_token(world, provisioned["assignment"]["hub"], provisioned["assignment"]["deviceId"]);
  CHECK(register_requests(world, registration_id) == 2);
}

TEST_CASE("a device nobody enrolled fails with DPS's not-found error and does not try again on its own") {
  ProvisioningWorld world({.tpm = false});
  world.init({.attestation = Attestation::symmetric_key, .registration_id = "stranger", .symmetric_key = individual_key});
  world.start_daemon();
  const auto status = world.wait_for(
      [](const json& s) { return s["state"] == "failed" || s["state"] == "provisioned" || s["state"] == "retrying"; }, 30s,
      "an outcome");
  INFO("status: " << status.dump());
  REQUIRE(status["state"] == "failed");
  const auto& error = status["lastAttempt"]["error"];
  CHECK(error["kind"] == "dps");
  CHECK(error["httpStatus"] == 404);
  CHECK(error["code"] == 404201);
  CHECK_THAT(error["message"].get<std::string>(), ContainsSubstring("stranger"));
  CHECK(status["nextAttemptAt"].is_null());  // failed arms no timer (the machine's unit tests show nothing follows)
  CHECK(world.ctl({"status"}).status.code == 3);
  CHECK(register_requests(world, "stranger") == 1);
}

TEST_CASE("a TPM that cannot be reached at start-up is shown as a TPM error and retried; the device provisions once it is back") {
  ProvisioningWorld world;
  const auto tpm = world.tpm_identity();
  world.enroll_tpm(tpm);
  world.init({.attestation = Attestation::tpm});
  world.swtpm().stop();

  world.start_daemon();
  const auto waiting = world.wait_for(
      [](const json& s) { return s["state"] == "retrying" || s["state"] == "failed" || s["state"] == "provisioned"; }, 30s,
      "an outcome without a TPM");
  INFO("status: " << waiting.dump());
  CHECK(waiting["state"] == "retrying");
  CHECK(waiting["lastAttempt"]["error"]["kind"] == "tpm");
  CHECK_THAT(waiting["lastAttempt"]["error"]["message"].get<std::string>(), ContainsSubstring(world.swtpm().tcti()));
  CHECK(waiting["nextAttemptAt"].is_string());
  CHECK(register_requests(world, tpm.registration_id) == 0);

  world.swtpm().restart();
  // Without waiting out the backoff: reprovision registers as soon as the TPM answers.
  const auto r = world.call("reprovision", nullptr, 60s);
  CHECK(r["state"] == "provisioned");
  check_provisioned(world, world.status(), tpm.registration_id, "tpm", "https");
}

TEST_CASE("with AlwaysOnStartup, a restart while DPS is unreachable falls back to the persisted assignment") {
  ProvisioningWorld world({.tpm = false});
  const auto first = provision_symmetric_key_device(world, "always-offline", "AlwaysOnStartup");
  world.stop_daemon();
  world.emulator().stop();

  world.start_daemon();
  const auto status = world.wait_for(
      [](const json& s) { return s["state"] == "provisioned" || s["state"] == "failed"; }, 30s, "provisioned or failed");
  INFO("status: " << status.dump());
  CHECK(status["state"] == "provisioned");
  CHECK(status["source"] == "cache");
  CHECK(status["assignment"]["hub"] == first["assignment"]["hub"]);
  CHECK(status["attempts"].get<int>() >= 1);  // it did try DPS first
  CHECK(status["lastAttempt"]["error"]["kind"] == "network");
}

TEST_CASE("with AlwaysOnStartup, a disabled enrollment fails the next start and deletes the persisted assignment") {
  ProvisioningWorld world({.tpm = false});
  provision_symmetric_key_device(world, "always-disabled", "AlwaysOnStartup");
  world.stop_daemon();
  REQUIRE(json::parse(read_file(world.state_file()))["assignment"].is_object());
  world.set_enrollment_status("always-disabled", "disabled");

  world.start_daemon();
  const auto status = world.wait_for(
      [](const json& s) { return s["state"] == "failed" || s["state"] == "provisioned"; }, 30s, "failed or provisioned");
  INFO("status: " << status.dump());
  REQUIRE(status["state"] == "failed");
  CHECK(status["assignment"].is_null());
  CHECK(status["lastAttempt"]["outcome"] == "error");
  CHECK(status["lastAttempt"]["error"]["kind"] == "dps");
  CHECK_THAT(status["lastAttempt"]["error"]["message"].get<std::string>(), ContainsSubstring("disabled"));
  CHECK(status["nextAttemptAt"].is_null());
  CHECK(register_requests(world, "always-disabled") == 2);

  // The assignment is gone from disk: the file is removed or holds no assignment.
  if (fs::exists(world.state_file())) {
    const auto persisted = json::parse(read_file(world.state_file()), nullptr, false);
    INFO("provisioning.json: " << persisted.dump());
    CHECK(persisted["assignment"].is_null());
  }
  try {
    world.call("identity.get");
    FAIL("identity.get answered for a device whose enrollment is disabled");
  } catch (const ipc::ClientError& e) {
    REQUIRE(e.rpc_error().has_value());
    CHECK(e.rpc_error()->code == ipc::errc::not_provisioned);
  }
  CHECK(world.ctl({"status"}).status.code == 3);
}

TEST_CASE("a corrupt provisioning.json is set aside with a warning and the device registers again") {
  ProvisioningWorld world({.tpm = false});
  provision_symmetric_key_device(world, "corrupt-state");
  world.stop_daemon();
  const std::string garbage = "{\"version\":1,\"assignment\":{\"hub\":";  // cut short, as by a full disk
  write_file(world.state_file(), garbage);

  world.start_daemon();
  const auto status = world.wait_for_state("provisioned", 30s);
  CHECK(status["source"] == "dps");
  CHECK(status["attempts"] == 1);
  CHECK(register_requests(world, "corrupt-state") == 2);

  const auto rejected = rejected_state_files(world);
  REQUIRE(rejected.size() == 1);
  CHECK(read_file(rejected.front()) == garbage);
  // provisioning.json.rejected-YYYYmmddTHHMMSSZ
  const std::string suffix = rejected.front().filename().string().substr(std::string("provisioning.json.rejected-").size());
  CHECK(suffix.size() == 16);
  CHECK(suffix[8] == 'T');
  CHECK(suffix.back() == 'Z');
  // The warning says which file was set aside.
  bool warned = false;
  for (const auto& line : lines_containing(world.daemon_log(), "provisioning.json"))
    warned = warned || line.find("warn") != std::string::npos;
  INFO(world.daemon_log());
  CHECK(warned);

  const auto persisted = json::parse(read_file(world.state_file()), nullptr, false);
  CHECK(persisted["version"] == 1);
  CHECK(persisted["assignment"]["hub"] == status["assignment"]["hub"]);
}

TEST_CASE("a provisioning.json written for another registration id is not trusted: set aside, and the device registers") {
  ProvisioningWorld world({.tpm = false});
  provision_symmetric_key_device(world, "first-identity");
  world.stop_daemon();
  world.enroll_symmetric_key("second-identity", individual_key);
  world.init({.attestation = Attestation::symmetric_key, .registration_id = "second-identity",
              .symmetric_key = individual_key});

  world.start_daemon();
  const auto status = world.wait_for_state("provisioned", 30s);
  CHECK(status["source"] == "dps");
  CHECK(status["provisioning"]["registrationId"] == "second-identity");
  CHECK(register_requests(world, "second-identity") == 1);
  CHECK(rejected_state_files(world).size() == 1);
  CHECK(json::parse(read_file(world.state_file()))["settings"]["registrationId"] == "second-identity");
}

TEST_CASE("a restart during a long Retry-After continues the wait instead of asking DPS again, and reprovision cuts it short") {
  ProvisioningWorld world({.tpm = false});
  const std::string id = "patient-device";
  world.enroll_symmetric_key(id, individual_key);
  world.init({.attestation = Attestation::symmetric_key, .registration_id = id, .symmetric_key = individual_key});
  world.emulator().add_fault({{"type", "throttle"}, {"retryAfter", 60}, {"count", 1}, {"registrationId", id}});
  world.start_daemon();
  const auto waiting = world.wait_for_state("retrying", 30s);
  INFO("status: " << waiting.dump());
  const auto next_attempt = time_of(waiting["nextAttemptAt"]);
  CHECK(between(time_of(waiting["lastAttempt"]["at"]), next_attempt) >= 60s);
  world.stop_daemon();

  world.start_daemon();
  const auto resumed = world.wait_for(
      [](const json& s) { return s["state"] != "starting"; }, 5s, "a state after start-up");
  INFO("after the restart: " << resumed.dump());
  CHECK(resumed["state"] == "retrying");
  REQUIRE(resumed["nextAttemptAt"].is_string());
  const auto resumed_at = time_of(resumed["nextAttemptAt"]);
  CHECK(between(next_attempt, resumed_at) <= 1s);
  CHECK(between(resumed_at, next_attempt) <= 1s);
  CHECK(register_requests(world, id) == 1);  // only the throttled one: the wait is a timer until nextAttemptAt

  // An operator does not have to wait the minute out.
  const auto r = world.call("reprovision", {{"wait", true}}, 30s);
  CHECK(r["state"] == "provisioned");
  CHECK(register_requests(world, id) == 2);
}
