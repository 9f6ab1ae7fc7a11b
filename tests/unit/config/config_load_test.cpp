// Golden configurations: aziot's DPS layouts as IoT Edge writes them, other daemons' keys included.
#include <catch2/catch_test_macros.hpp>

#include <fmt/format.h>

#include "edge-config/config.h"
#include "tests/support/process.h"
#include "tests/unit/config/platform.h"

using namespace edgeprov;
using namespace edgeprov::config;

namespace {
std::filesystem::path golden(const std::string& name) {
  return edgeprov::test::source_dir() / "tests/unit/config/golden" / name;
}
}  // namespace

TEST_CASE("aziot's dps-tpm layout loads with the other IoT Edge daemons' keys ignored") {
  const Config c = load(golden("dps-tpm.toml"));
  CHECK(c.source_file == golden("dps-tpm.toml"));
  CHECK(c.provisioning.source == "dps");
  CHECK(c.provisioning.global_endpoint == "https://global.azure-devices-provisioning.net");
  CHECK(c.provisioning.id_scope == "0ab1234C5D6");
  CHECK(c.provisioning.payload_uri == "file:///etc/aziot/dps-payload.json");
  CHECK(c.provisioning.attestation.method == AttestationMethod::tpm);
  CHECK(c.provisioning.attestation.registration_id == "my-tpm-device");
  CHECK_FALSE(c.provisioning.attestation.symmetric_key_value);
  CHECK(c.tpm.tcti == "swtpm:host=127.0.0.1,port=2321");
  CHECK(c.tpm.auth_key_index == 0x101);
  REQUIRE(c.tpm.endorsement_auth);
  CHECK(c.tpm.endorsement_auth->reveal() == "hello");
  REQUIRE(c.tpm.owner_auth);
  CHECK(c.tpm.owner_auth->reveal() == "world");
  CHECK(c.auto_reprovisioning_mode == ReprovisioningMode::always_on_startup);
  CHECK(c.cloud_timeout == std::chrono::seconds(120));
  CHECK(c.cloud_retries == 3);
  CHECK(c.dps.transport == Transport::https);
  CHECK(c.ipc.endpoint == defaults().ipc_endpoint);
  CHECK(c.state.dir == defaults().state_dir);
  CHECK(c.log.level == "info");
}

TEST_CASE("aziot's dps-symmetric-key layout loads the key as a secret") {
  const Config c = load(golden("dps-symmetric-key.toml"));
  const Attestation& a = c.provisioning.attestation;
  CHECK(a.method == AttestationMethod::symmetric_key);
  CHECK(a.registration_id == "my-symmkey-devices");
  REQUIRE(a.symmetric_key_value);
  CHECK(a.symmetric_key_value->reveal() ==
        "YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGVudGl0eS1zZXJ2aWNlfGF6aW90LWlkZW50aXR5LXNlcg==");
  CHECK(fmt::format("{}", *a.symmetric_key_value) == "<redacted>");
  CHECK_FALSE(a.symmetric_key_uri);
  // Absent aziot keys take aziot's defaults.
  CHECK(c.auto_reprovisioning_mode == ReprovisioningMode::dynamic);
  CHECK(c.cloud_timeout == std::chrono::seconds(70));
  CHECK(c.cloud_retries == 1);
  CHECK(c.tpm.auth_key_index == 0x100);
  CHECK(c.tpm.tcti == defaults().tcti);
  CHECK_FALSE(c.tpm.endorsement_auth);
}

TEST_CASE("aziot's dps-x509 layout loads the certificate and key references") {
  const Config c = load(golden("dps-x509.toml"));
  const Attestation& a = c.provisioning.attestation;
  CHECK(a.method == AttestationMethod::x509);
  CHECK(a.registration_id == "my-x509-device");
  CHECK(a.identity_cert == "file:///var/secrets/device-id.pem");
  CHECK(a.identity_pk == "file:///var/secrets/device-id.key.pem");
  CHECK(c.auto_reprovisioning_mode == ReprovisioningMode::on_error_only);
  CHECK(local_path(*a.identity_cert) == std::filesystem::path("/var/secrets/device-id.pem"));
}

TEST_CASE("every edgeprov key is read from its [edgeprov.*] table") {
  // The golden file's paths in this platform's absolute form.
  const Config c = parse(test::with_native_paths(test::read_file(golden("edgeprov-full.toml"))), "edgeprov-full.toml");
  CHECK(c.provisioning.global_endpoint == "https://127.0.0.1:8443/");
  CHECK(c.provisioning.attestation.symmetric_key_uri == "file:///etc/edgeprov/device-id.key");
  CHECK_FALSE(c.provisioning.attestation.symmetric_key_value);
  CHECK(c.tpm.tcti == "mssim:host=localhost,port=2321");
  CHECK(c.tpm.auth_key_index == 0x200);  // aziot's documented quoted-hex form
  CHECK(c.cloud_timeout == std::chrono::seconds(90));
  CHECK(c.cloud_retries == 2);
  CHECK(c.dps.transport == Transport::mqtt);
  CHECK(c.dps.trusted_ca == "file:///etc/edgeprov/emulator-ca.pem");
  CHECK(c.dps.proxy == "http://proxy.example:3128");
  CHECK(c.ipc.endpoint == test::absolute_path("/tmp/edgeprov-test.sock"));
  CHECK(c.ipc.admin_group == "edgeprov");
  CHECK(c.ipc.identity_principals == std::vector<std::string>{"iotedge", "edgeAgent"});
  CHECK(c.ipc.max_connections == 512);
  CHECK(c.ipc.admin_reserved_connections == 64);
  CHECK(c.ipc.max_connections_per_user == 16);
  CHECK(c.ipc.max_requests_per_user == 8);
  CHECK(c.ipc.max_subscriptions_per_user == 2);
  CHECK(c.ipc.idle_timeout == std::chrono::seconds(120));
  CHECK(c.state.dir == std::filesystem::path(test::absolute_path("/tmp/edgeprov-state")));
  CHECK(c.log.level == "debug");
  CHECK(c.log.file == std::filesystem::path(test::absolute_path("/var/log/edgeprov/edgeprovd.log")));
}

TEST_CASE("the smallest DPS configuration takes every default") {
  const Config c = parse(R"(
[provisioning]
source = "dps"
id_scope = "0ne00000000"
[provisioning.attestation]
method = "tpm"
)",
                         "min.toml");
  CHECK(c.provisioning.global_endpoint == "https://global.azure-devices-provisioning.net/");
  CHECK_FALSE(c.provisioning.attestation.registration_id);
  CHECK_FALSE(c.provisioning.payload_uri);
  CHECK(c.tpm.tcti == defaults().tcti);
  CHECK(c.tpm.auth_key_index == 0x100);
  CHECK(c.dps.transport == Transport::https);
  CHECK_FALSE(c.dps.trusted_ca);
  CHECK_FALSE(c.dps.proxy);
  CHECK(c.dps.mqtt_port == 8883);
  CHECK(c.dps.symmetric_key_source == SymmetricKeySource::device);
  CHECK(c.ipc.endpoint == defaults().ipc_endpoint);
  CHECK_FALSE(c.ipc.admin_group);
  CHECK(c.ipc.identity_principals.empty());
  CHECK(c.ipc.max_connections == 256);
  CHECK(c.ipc.admin_reserved_connections == 32);
  CHECK(c.ipc.max_connections_per_user == 32);
  CHECK(c.ipc.max_requests_per_user == 32);
  CHECK(c.ipc.max_subscriptions_per_user == 8);
  CHECK(c.ipc.idle_timeout == std::chrono::seconds(300));
  CHECK(c.state.dir == defaults().state_dir);
  CHECK(c.log.level == "info");
  CHECK_FALSE(c.log.file);
}

TEST_CASE("a group key and the emulator's MQTT port are read from [edgeprov.dps]") {
  const Config c = parse(R"(
[provisioning]
source = "dps"
id_scope = "0ne00000000"
[provisioning.attestation]
method = "symmetric_key"
registration_id = "sensor-17"
symmetric_key = { value = "c2VjcmV0LWtleQ==" }
[edgeprov.dps]
transport = "mqtt"
mqtt_port = 18883
trusted_ca = "file:///etc/edgeprov/emulator-ca.pem"
symmetric_key_source = "group"
)",
                         "group.toml");
  CHECK(c.dps.transport == Transport::mqtt);
  CHECK(c.dps.mqtt_port == 18883);
  CHECK(c.dps.symmetric_key_source == SymmetricKeySource::group);
}

TEST_CASE("an unpadded symmetric key, as aziot also accepts, is kept padded") {
  // aziotctl's test-files/apply/dps-symmetric-key-no-pad case.
  const Config c = parse(R"(
[provisioning]
source = "dps"
id_scope = "0ab1234C5D6"
[provisioning.attestation]
method = "symmetric_key"
registration_id = "my-device"
symmetric_key = { value = "YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGVudGl0eS1zZXJ2aWNlfGF6aW90LWlkZW50aXR5LXNlcg" }
)",
                         "nopad.toml");
  CHECK(c.provisioning.attestation.symmetric_key_value->reveal() ==
        "YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGVudGl0eS1zZXJ2aWNlfGF6aW90LWlkZW50aXR5LXNlcg==");
}

TEST_CASE("an x509 registration id written as a subject table takes its CN") {
  const Config c = parse(R"(
[provisioning]
source = "dps"
id_scope = "0ab1234C5D6"
[provisioning.attestation]
method = "x509"
registration_id = { CN = "my-device", L = "AQ" }
identity_cert = "/var/secrets/device-id.pem"
identity_pk = "/var/secrets/device-id.key.pem"
)",
                         "subject.toml");
  CHECK(c.provisioning.attestation.registration_id == "my-device");
  CHECK(c.provisioning.attestation.identity_cert == "/var/secrets/device-id.pem");
}

TEST_CASE("the defaults are the platform's: FHS paths and tpmrm0 on Linux; ProgramData, the pipe and TBS on Windows") {
  const Defaults& d = defaults();
  const Defaults want = test::expected_defaults();
  CHECK(d.config_file == want.config_file);
  CHECK(d.state_dir == want.state_dir);
  CHECK(d.ipc_endpoint == want.ipc_endpoint);
  CHECK(d.tcti == want.tcti);
  CHECK(d.start_service == want.start_service);
  CHECK(d.config_file.is_absolute());
  CHECK(d.state_dir.is_absolute());
}

TEST_CASE("file references resolve to local paths whether URI or plain path") {
  CHECK(local_path("file:///etc/edgeprov/ca.pem") == std::filesystem::path("/etc/edgeprov/ca.pem"));
  CHECK(local_path("file://localhost/etc/ca.pem") == std::filesystem::path("/etc/ca.pem"));
  CHECK(local_path("file:///var/my%20certs/ca.pem") == std::filesystem::path("/var/my certs/ca.pem"));
  CHECK(local_path("file:///C:/ProgramData/edgeprov/ca.pem") ==
        std::filesystem::path("C:/ProgramData/edgeprov/ca.pem"));
  CHECK(local_path("/etc/edgeprov/ca.pem") == std::filesystem::path("/etc/edgeprov/ca.pem"));
}

TEST_CASE("the names of methods, transports and modes are aziot's spellings") {
  CHECK(to_string(AttestationMethod::tpm) == "tpm");
  CHECK(to_string(AttestationMethod::symmetric_key) == "symmetric_key");
  CHECK(to_string(AttestationMethod::x509) == "x509");
  CHECK(to_string(Transport::https) == "https");
  CHECK(to_string(Transport::mqtt) == "mqtt");
  CHECK(to_string(ReprovisioningMode::dynamic) == "Dynamic");
  CHECK(to_string(ReprovisioningMode::always_on_startup) == "AlwaysOnStartup");
  CHECK(to_string(ReprovisioningMode::on_error_only) == "OnErrorOnly");
}

TEST_CASE("every TOML example in docs/configuration.md loads") {
  const std::string doc = edgeprov::test::read_file(edgeprov::test::source_dir() / "docs/configuration.md");
  std::size_t examples = 0;
  for (std::size_t at = doc.find("```toml\n"); at != std::string::npos; at = doc.find("```toml\n", at)) {
    at += 8;
    const std::size_t end = doc.find("```", at);
    REQUIRE(end != std::string::npos);
    const std::string example = doc.substr(at, end - at);
    INFO(example);
    CHECK_NOTHROW(parse(test::with_native_paths(example), "docs/configuration.md"));
    ++examples;
  }
  CHECK(examples == 2);
}
