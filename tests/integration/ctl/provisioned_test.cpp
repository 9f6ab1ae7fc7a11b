// edgeprovctl against a daemon that really provisions: a dps-emulator on loopback ports with the device's
// symmetric-key enrollment, a real edgeprovd, and the emulator's own judgement of the hub SAS token.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/integration/ctl/ctl_daemon.h"
#include "tests/integration/emulator/emulator_fixture.h"
#include "tests/support/notify.h"
#include "tests/support/swtpm.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using nlohmann::json;

namespace {

std::string enrollment() {
  return fmt::format(R"([[enrollments]]
registrationId = "{}"
deviceId = "ctl-edge-1"
iotHubs = ["hub-a.azure-devices.net"]
attestation = {{ type = "symmetricKey", symmetricKey = {{ primaryKey = "{}" }} }}
allocationPolicy = "custom"
replyPayload = {{ site = "lab-3" }}
)",
                     ctl_registration_id, ctl_device_key);
}

CtlDaemonOptions device_of(const Emulator& emulator, std::vector<std::string> principals = {}) {
  return {.global_endpoint = fmt::format("https://localhost:{}/", emulator.https_port()),
          .id_scope = test::id_scope,
          .trusted_ca = emulator.ca(),
          .identity_principals = std::move(principals)};
}

// How many registration PUTs the emulator logged for the device.
std::size_t registrations(const Emulator& emulator) {
  const std::string log = emulator.output();
  const std::string needle = std::string(" register ") + ctl_registration_id + " ";
  std::size_t count = 0;
  for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++count;
  return count;
}

}  // namespace

TEST_CASE("wait started before the service keeps trying to connect and exits 0 once the device is provisioned") {
  Emulator emulator({.enrollments_toml = enrollment()});
  TempDir dir;
  // The daemon's socket will be in the daemon's own temp dir; wait polls it before the daemon exists.
  auto options = device_of(emulator);
  const auto config_dir = dir / "device";
  std::filesystem::create_directories(config_dir / "state");
  write_file(config_dir / "config.toml", ctl_config(config_dir, options));
  Process wait({.argv = {(bin_dir() / "edgeprovctl").string(), "--endpoint", (config_dir / "edgeprov.sock").string(),
                         "wait", "--timeout", "60"}});
  // wait says once that nothing answers yet, then keeps trying.
  REQUIRE(wait.wait_for_output("edgeprovctl: waiting for edgeprovd at", 10s));
  REQUIRE(wait.running());
  Process daemon({.argv = {(bin_dir() / "edgeprovd").string(), "--config", (config_dir / "config.toml").string()}});
  const auto status = wait.wait(60s);
  REQUIRE(status);
  INFO(wait.output() << daemon.output());
  CHECK(status->code == 0);
  CHECK_THAT(wait.output(), ContainsSubstring("\nprovisioned: device ctl-edge-1 on hub hub-a.azure-devices.net (from dps, since "));
  CHECK(daemon.stop().code == 0);
}

TEST_CASE("reprovision of a provisioned device registers again and exits 0; status shows hub, device and payload") {
  Emulator emulator({.enrollments_toml = enrollment()});
  CtlDaemon daemon(device_of(emulator));
  REQUIRE(daemon.ctl({"wait", "--timeout", "60"}).status.code == 0);
  const auto before = registrations(emulator);
  REQUIRE(before >= 1);

  const auto r = daemon.ctl({"reprovision", "--timeout", "60"});
  INFO(r.output << daemon.output());
  CHECK(r.status.code == 0);
  CHECK_THAT(r.output, StartsWith("provisioned: device ctl-edge-1 on hub hub-a.azure-devices.net (from dps"));
  CHECK(registrations(emulator) == before + 1);

  const auto s = daemon.ctl({"status"});
  INFO(s.output);
  CHECK(s.status.code == 0);
  CHECK_THAT(s.output, ContainsSubstring("hub              hub-a.azure-devices.net\n"));
  CHECK_THAT(s.output, ContainsSubstring("device id        ctl-edge-1 ("));
  CHECK_THAT(s.output, ContainsSubstring("payload          {\"site\":\"lab-3\"}\n"));
  CHECK_THAT(s.output, ContainsSubstring(" assigned\n"));

  const auto j = daemon.ctl({"reprovision", "--json"});
  CHECK(j.status.code == 0);
  CHECK(json::parse(j.output)["assignment"]["deviceId"] == "ctl-edge-1");
}

TEST_CASE("reprovision --no-wait returns at once with the registration started") {
  Emulator emulator({.enrollments_toml = enrollment()});
  CtlDaemon daemon(device_of(emulator));
  REQUIRE(daemon.ctl({"wait", "--timeout", "60"}).status.code == 0);
  const auto r = daemon.ctl({"reprovision", "--no-wait", "--json"});
  INFO(r.output);
  CHECK(r.status.code == 0);
  CHECK(json::parse(r.output)["state"] == "provisioning");
  CHECK(daemon.ctl({"wait", "--timeout", "60"}).status.code == 0);
}

TEST_CASE("reprovision exits 8 when --timeout runs out while DPS does not answer") {
  Emulator emulator({.enrollments_toml = enrollment()});
  CtlDaemon daemon(device_of(emulator));
  REQUIRE(daemon.ctl({"wait", "--timeout", "60"}).status.code == 0);
  const auto fault = emulator.admin("POST", "/faults", {{"type", "stall"}, {"stallSeconds", 20}, {"count", 5}});
  REQUIRE(fault.status / 100 == 2);
  const auto r = daemon.ctl({"reprovision", "--timeout", "1"});
  INFO(r.output);
  CHECK(r.status.code == 8);
  CHECK_THAT(r.output, ContainsSubstring("did not answer 'reprovision'"));
  CHECK_THAT(r.output, ContainsSubstring("`edgeprovctl wait` waits for it"));
}

TEST_CASE("identity sas-token run by an identity principal prints only a token the emulator's hub check accepts") {
  Emulator emulator({.enrollments_toml = enrollment()});
  CtlDaemon daemon(device_of(emulator, {"nobody"}));
  REQUIRE(daemon.ctl({"wait", "--timeout", "60"}).status.code == 0);

  const auto r = daemon.ctl({"identity", "sas-token", "--lifetime", "600"}, "nobody");
  INFO(r.output);
  REQUIRE(r.status.code == 0);
  REQUIRE(r.output.back() == '\n');
  const std::string token = r.output.substr(0, r.output.size() - 1);
  CHECK(token.find('\n') == std::string::npos);  // nothing but the token
  CHECK_THAT(token, StartsWith("SharedAccessSignature sr=hub-a.azure-devices.net/devices/ctl-edge-1&sig="));

  const auto check = emulator.admin("POST", "/hubSasCheck", {{"token", token}});
  INFO(check.body);
  CHECK(check.json()["valid"] == true);
  CHECK(check.json()["deviceId"] == "ctl-edge-1");

  // The signature never reaches the service's log.
  const auto sig = token.substr(token.find("sig=") + 4, token.find('&', token.find("sig=")) - token.find("sig=") - 4);
  REQUIRE(sig.size() > 20);
  CHECK_THAT(daemon.output(), !ContainsSubstring(sig));

  const auto show = daemon.ctl({"identity", "show"}, "nobody");
  INFO(show.output);
  CHECK(show.status.code == 0);
  CHECK_THAT(show.output, ContainsSubstring("hub              hub-a.azure-devices.net\n"));
  CHECK_THAT(show.output, ContainsSubstring("device id        ctl-edge-1\n"));
  CHECK_THAT(show.output, ContainsSubstring("registration id  ctl-device\n"));
  CHECK_THAT(show.output, ContainsSubstring("SAS tokens signed with the device key"));
}

TEST_CASE("a TPM device: reprovision registers again through the TPM challenge and its TPM-signed SAS token passes the hub check") {
  Swtpm swtpm;
  // The enrollment as an operator makes it: the registration id and EK that `tpm info` prints.
  const auto info = edgeprovctl({"--json", "tpm", "info", "--tcti", swtpm.tcti()});
  INFO(info.output);
  REQUIRE(info.status.code == 0);
  const auto facts = json::parse(info.output);
  const std::string registration_id = facts["registrationId"];
  Emulator emulator;
  REQUIRE(emulator.admin("PUT", "/enrollments/" + registration_id,
                         {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", facts["endorsementKey"]}}}}},
                          {"capabilities", {{"iotEdge", true}}}})
              .status /
              100 ==
          2);

  auto options = device_of(emulator);
  options.tpm_tcti = swtpm.tcti();
  CtlDaemon daemon(options);
  const auto wait = daemon.ctl({"wait", "--timeout", "60"});
  INFO(wait.output << daemon.output());
  REQUIRE(wait.status.code == 0);

  const auto r = daemon.ctl({"reprovision", "--timeout", "60"});
  INFO(r.output << daemon.output());
  CHECK(r.status.code == 0);
  CHECK_THAT(r.output, StartsWith("provisioned: device " + registration_id + " on hub "));

  const auto show = daemon.ctl({"identity", "show"});
  CHECK(show.status.code == 0);
  CHECK_THAT(show.output, ContainsSubstring("SAS tokens signed in the TPM (sas, tpm)"));

  const auto token = daemon.ctl({"identity", "sas-token"});
  REQUIRE(token.status.code == 0);
  const auto check = emulator.admin("POST", "/hubSasCheck", {{"token", token.output.substr(0, token.output.size() - 1)}});
  INFO(check.body);
  CHECK(check.json()["valid"] == true);
  CHECK(check.json()["registrationId"] == registration_id);
}

TEST_CASE("init --group-key writes a group-key configuration with which edgeprovd provisions from a group enrollment") {
  // The group's key: base64 of "ctl-group-key-for-the-emulator-1" (32 bytes).
  const std::string group_key = "Y3RsLWdyb3VwLWtleS1mb3ItdGhlLWVtdWxhdG9yLTE=";
  Emulator emulator({.enrollments_toml = fmt::format(R"([[enrollmentGroups]]
enrollmentGroupId = "ctl-fleet"
attestation = {{ type = "symmetricKey", symmetricKey = {{ primaryKey = "{}" }} }}
)",
                                                     group_key)});
  TempDir dir;
  const auto config = dir / "config.toml";
  const auto socket = dir / "edgeprov.sock";
  const auto init = edgeprovctl({"--config", config.string(), "--endpoint", socket.string(), "init", "--scope-id",
                                 test::id_scope, "--registration-id", "ctl-fleet-7", "--symmetric-key", group_key,
                                 "--group-key", "--global-endpoint",
                                 fmt::format("https://localhost:{}/", emulator.https_port()), "--trusted-ca",
                                 emulator.ca().string(), "--state-dir", (dir / "state").string()});
  INFO(init.output);
  REQUIRE(init.status.code == 0);
  CHECK_THAT(init.output, ContainsSubstring("the enrollment group's: the device key is derived from it"));
  CHECK_THAT(init.output, !ContainsSubstring(group_key));
  CHECK_THAT(read_file(config), ContainsSubstring("symmetric_key_source = \"group\""));

  const auto daemon = start_until_ready({.argv = {(bin_dir() / "edgeprovd").string(), "--config", config.string()}},
                                        dir / "notify.sock");
  const auto wait = edgeprovctl({"--endpoint", socket.string(), "wait", "--timeout", "60"});
  INFO(wait.output << daemon->output());
  REQUIRE(wait.status.code == 0);
  CHECK_THAT(wait.output, StartsWith("provisioned: device ctl-fleet-7 on hub "));

  // The hub accepts tokens signed with the derived device key, HMAC-SHA-256(group key, registration id).
  const auto token = edgeprovctl({"--endpoint", socket.string(), "identity", "sas-token"});
  REQUIRE(token.status.code == 0);
  const auto check = emulator.admin("POST", "/hubSasCheck", {{"token", token.output.substr(0, token.output.size() - 1)}});
  INFO(check.body);
  CHECK(check.json()["valid"] == true);
  CHECK(daemon->stop().code == 0);
}

TEST_CASE("init refuses --group-key without a symmetric-key attestation") {
  TempDir dir;
  const auto r = edgeprovctl({"--config", (dir / "config.toml").string(), "init", "--scope-id", "0ne00ABC123",
                              "--attestation", "tpm", "--group-key"});
  CHECK(r.status.code == 2);
  CHECK_THAT(r.output, ContainsSubstring("--group-key"));
  CHECK_THAT(r.output, ContainsSubstring("--attestation symmetric-key"));
  CHECK_FALSE(std::filesystem::exists(dir / "config.toml"));
}
