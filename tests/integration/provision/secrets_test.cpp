// No secret in any log, with edgeprovd at its most verbose and through the paths that log the most: a
// failed attempt, a retry, a reprovision, and every identity method.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>

#include "tests/integration/provision/provision_checks.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("at log level trace, no key or token reaches edgeprovd's log, the emulator's log or edgeprovctl's output") {
  const std::string transport = GENERATE(as<std::string>{}, "https", "mqtt");
  DYNAMIC_SECTION("over " << transport) {
    ProvisioningWorld world({.tpm = false});
    const std::string id = "quiet-" + transport;
    world.enroll_symmetric_key_group("quiet-fleet", group_key);
    const std::string device_key = openssl_derived_key(group_key, id);
    world.init({.attestation = Attestation::symmetric_key, .transport = transport, .registration_id = id,
                .symmetric_key = device_key, .log_level = "trace"});
    world.emulator().add_fault({{"type", "serverError"}, {"count", 1}, {"registrationId", id}});
    world.start_daemon();
    world.wait_for_state("provisioned", 30s);
    CHECK(world.call("reprovision", nullptr, 30s)["state"] == "provisioned");

    const auto status = world.status();
    const std::string token = check_hub_sas_token(world, status["assignment"]["hub"], status["assignment"]["deviceId"]);
    world.ctl({"status"});  // its output joins the transcript that is scanned
    world.call("identity.sign", {{"data", "c2lnbiBtZQ=="}});

    auto secrets = signature_forms(token);
    secrets.insert(secrets.end(), {token, group_key, device_key});
    // The key also as the hex and URL-encoded forms a careless log line could print.
    std::string url_encoded;
    for (char c : device_key) url_encoded += c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : std::string(1, c);
    secrets.push_back(url_encoded);
    check_no_secret_in_logs(world, secrets);

    // The config file holds the key (mode 0600), and init's own output printed it redacted.
    CHECK(read_file(world.config_file()).find(device_key) != std::string::npos);
    CHECK(world.ctl_transcript().find("<redacted>") != std::string::npos);
  }
}
