// Each attestation and transport end to end, as a user sets it up: the enrollment made through the
// emulator's admin API, the configuration written by `edgeprovctl init`, edgeprovd started, and the result
// judged from every side (status, identity.*, the persisted file, the emulator's records and hub-SAS check).
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <fmt/format.h>

#include "ipc/jsonrpc.h"
#include "tests/integration/provision/provision_checks.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("a TPM device enrolled with the EK that edgeprovctl tpm info prints is provisioned over HTTPS, and its hub SAS token passes the hub check") {
  ProvisioningWorld world;
  const auto tpm = world.tpm_identity();

  // The registration id as the Azure C SDK derives it, computed independently: tpm2_readpublic writes the
  // EK's TPM2B_PUBLIC, openssl hashes it, base32 encodes it (lowercase, unpadded).
  const auto ek_file = (world.dir() / "ek.pub").string();
  REQUIRE(world.swtpm().tpm2({"tpm2_readpublic", "-c", "0x81010001", "-o", ek_file}).status.code == 0);
  const auto id = run({.argv = {"sh", "-c", fmt::format("openssl dgst -sha256 -binary '{}' | base32 | tr A-Z a-z | tr -d '=\\n'", ek_file)}});
  REQUIRE(id.status.code == 0);
  REQUIRE(tpm.registration_id == id.output);

  world.enroll_tpm(tpm);
  world.init({.attestation = Attestation::tpm});
  world.start_daemon();
  const auto status = world.wait_for_state("provisioned", 60s);
  check_provisioned(world, status, tpm.registration_id, "tpm", "https");
  CHECK(status["attempts"] == 1);
  CHECK(status["tpm"]["available"] == true);
  CHECK(status["tpm"]["registrationId"] == tpm.registration_id);
  CHECK(status["tpm"]["authKeyPresent"] == true);

  // The emulator saw the TPM challenge: an unsigned PUT answered 401 with the key blob, then a signed one.
  const auto requests = world.emulator().requests(tpm.registration_id);
  bool challenged = false;
  for (const auto& r : requests) challenged = challenged || r.outcome.find("401 tpm challenge") != std::string::npos;
  INFO(world.emulator().log());
  CHECK(challenged);

  const auto ctl_status = world.ctl({"status", "--json"});
  CHECK(ctl_status.status.code == 0);
  CHECK(json::parse(ctl_status.output)["state"] == "provisioned");

  const std::string token = check_hub_sas_token(world, status["assignment"]["hub"], status["assignment"]["deviceId"]);

  // identity.sign: HMAC-SHA256 with the hub key, inside the TPM; 32 bytes.
  const auto signed_data = world.call("identity.sign", {{"data", "aGVsbG8gaHVi"}});
  CHECK(signed_data["algorithm"] == "HMAC-SHA256");
  CHECK(signed_data["signature"].get<std::string>().size() == 44);

  auto secrets = signature_forms(token);
  secrets.push_back(token);
  check_no_secret_in_logs(world, secrets);
}

TEST_CASE("a symmetric-key individual enrollment is provisioned over HTTPS and over MQTT") {
  const std::string transport = GENERATE(as<std::string>{}, "https", "mqtt");
  DYNAMIC_SECTION("over " << transport) {
    ProvisioningWorld world({.tpm = false});
    const std::string id = "sym-" + transport;
    world.enroll_symmetric_key(id, individual_key);
    world.init({.attestation = Attestation::symmetric_key, .transport = transport, .registration_id = id,
                .symmetric_key = individual_key});
    world.start_daemon();
    const auto status = world.wait_for_state("provisioned", 30s);
    check_provisioned(world, status, id, "symmetric_key", transport);
    CHECK(status["attempts"] == 1);

    // It went over the configured transport.
    const auto requests = world.emulator().requests(id);
    REQUIRE_FALSE(requests.empty());
    for (const auto& r : requests) CHECK(r.transport == transport);

    const std::string token = check_hub_sas_token(world, status["assignment"]["hub"], status["assignment"]["deviceId"]);
    // identity.sign ("hello hub" in base64) agrees with openssl keyed with the device key.
    const auto signed_data = world.call("identity.sign", {{"data", "aGVsbG8gaHVi"}});
    CHECK(signed_data["algorithm"] == "HMAC-SHA256");
    CHECK(signed_data["signature"] == openssl_hmac(individual_key, "hello hub"));
    auto secrets = signature_forms(token);
    secrets.insert(secrets.end(), {token, individual_key});
    check_no_secret_in_logs(world, secrets);
  }
}

TEST_CASE("a member of a symmetric-key enrollment group is provisioned with the key derived by openssl (as aziot takes it) or with the group key edgeprov derives from") {
  const std::string transport = GENERATE(as<std::string>{}, "https", "mqtt");
  const std::string key_source = GENERATE(as<std::string>{}, "device", "group");
  DYNAMIC_SECTION("over " << transport << ", symmetric_key_source " << key_source) {
    ProvisioningWorld world({.tpm = false});
    const std::string id = "fleet-member-" + transport + "-" + key_source;
    world.enroll_symmetric_key_group("fleet", group_key);
    const std::string device_key = openssl_derived_key(group_key, id);
    world.init({.attestation = Attestation::symmetric_key, .transport = transport, .registration_id = id,
                .symmetric_key = key_source == "group" ? std::string(group_key) : device_key,
                .symmetric_key_source = key_source == "group" ? "group" : ""});
    world.start_daemon();
    const auto status = world.wait_for_state("provisioned", 30s);
    check_provisioned(world, status, id, "symmetric_key", transport);

    const auto record = world.emulator().admin("GET", "/registrations/" + id).json();
    CHECK(record["enrollmentGroupId"] == "fleet");

    // The hub check accepts only the device key: so edgeprov signed with the derived key, not the group's.
    const std::string token = check_hub_sas_token(world, status["assignment"]["hub"], status["assignment"]["deviceId"]);
    auto secrets = signature_forms(token);
    secrets.insert(secrets.end(), {token, group_key, device_key});
    check_no_secret_in_logs(world, secrets);
  }
}

TEST_CASE("X.509 devices are provisioned over HTTPS (individual enrollment) and over MQTT (group of their CA), and have no SAS token") {
  const std::string transport = GENERATE(as<std::string>{}, "https", "mqtt");
  DYNAMIC_SECTION("over " << transport) {
    ProvisioningWorld world({.tpm = false});
    const std::string id = "x509-device-" + transport;
    X509Files device;
    if (transport == "https") {
      device = world.make_device_certificate(id);
      world.enroll_x509(id, device.certificate);
    } else {
      const auto ca = world.make_ca("edgeprov-test-fleet-ca");
      device = world.make_device_certificate(id, ca);
      world.enroll_x509_group("x509-fleet", ca.certificate);
    }
    // No --registration-id: it is the certificate's CN.
    world.init({.attestation = Attestation::x509, .transport = transport, .identity_cert = device.certificate,
                .identity_pk = device.key});
    world.start_daemon();
    const auto status = world.wait_for_state("provisioned", 30s);
    check_provisioned(world, status, id, "x509", transport);

    try {
      world.call("identity.sasToken");
      FAIL("identity.sasToken answered for an X.509 device");
    } catch (const ipc::ClientError& e) {
      REQUIRE(e.rpc_error().has_value());
      CHECK(e.rpc_error()->code == ipc::errc::not_supported);
    }
    // The private key never appears in a log (its PEM body's first line is a long base64 run).
    const std::string pem = read_file(device.key);
    const auto body = pem.find('\n') + 1;
    check_no_secret_in_logs(world, {pem.substr(body, pem.find('\n', body) - body)});
  }
}
