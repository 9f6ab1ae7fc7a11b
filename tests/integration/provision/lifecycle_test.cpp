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

std::vector<fs::path> rejected_state_files(const ProvisioningWorld& world) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(world.state_dir()))
    if (entry.path().filename().string().rfind("provisioning.json.rejected-", 0) == 0) out.push_back(entry.path());
  return out;
}

}  // namespace

TEST_CASE("a TPM device restarted while DPS is unreachable is provisioned from its cache at once, and its hub key still works") {
  ProvisioningWorld world;
  const auto tpm = world.tpm_identity();
  world.enroll_tpm(tpm);
  world.init({.attestation = Attestation::tpm});
  world.start_daemon();
  const auto first = world.wait_for_state("provisioned", 60s);
  REQUIRE(first["source"] == "dps");
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
  CHECK(register_requests(world, tpm.registration_id) == 2);  // the unsigned PUT (challenge) and the signed one
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
  CHECK(status["nextAttemptAt"].is_null());
  CHECK(world.ctl({"status"}).status.code == 3);
  std::this_thread::sleep_for(3s);
  CHECK(register_requests(world, "stranger") == 1);
  CHECK(world.status()["state"] == "failed");
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

  // Failed is terminal: no further attempt on its own.
  std::this_thread::sleep_for(3s);
  CHECK(register_requests(world, "always-disabled") == 2);
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
  std::this_thread::sleep_for(2s);
  CHECK(register_requests(world, id) == 1);  // only the throttled one
  CHECK(world.status()["state"] == "retrying");

  // An operator does not have to wait the minute out.
  const auto r = world.call("reprovision", {{"wait", true}}, 30s);
  CHECK(r["state"] == "provisioned");
  CHECK(register_requests(world, id) == 2);
}
