// What `edgeprovctl init` writes: rendered from options, validated, written atomically, loaded back.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <filesystem>

#include "edge-config/atomic_file.h"
#include "edge-config/writer.h"
#include "tests/support/process.h"
#include "tests/unit/config/platform.h"

using namespace edgeprov;
using namespace edgeprov::config;
using Catch::Matchers::ContainsSubstring;
namespace fs = std::filesystem;

namespace {

// The base64 value aziot uses in its own symmetric-key examples.
const std::string example_key =
    "YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGVudGl0eS1zZXJ2aWNlfGF6aW90LWlkZW50aXR5LXNlcg==";

// The access write_file_atomically gave `file`, where the OS keeps it (Wine keeps no file ACLs: there
// the check is reported as not made).
void check_access(const fs::path& file, FileAccess access) {
  const auto reported = test::file_access(file);
  if (!reported) {
    WARN("file ACLs are not kept by this OS (Wine): the access of " << file.filename().string() << " is not checked");
    return;
  }
  CHECK(*reported == test::expected_file_access(access));
}

// RFC 8089 file URI of an absolute path: file:///tmp/x, file:///C:/Users/x.
std::string file_uri(const fs::path& path) {
  const std::string generic = path.generic_string();
  return "file://" + std::string(generic.front() == '/' ? "" : "/") + generic;
}

std::size_t entries_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("a TPM config written by init loads back with the same settings") {
  test::TempDir dir;
  InitOptions o;
  o.id_scope = "0ne00000000";
  o.tcti = "swtpm:host=127.0.0.1,port=2321";
  o.ipc_endpoint = (dir / "edgeprov.sock").string();
  o.state_dir = dir / "state";
  o.log_level = "debug";
  const fs::path file = dir / "etc" / "edgeprov" / "config.toml";

  const Config c = write_config(file, o, false);
  CHECK(c.source_file == file);
  CHECK(c.provisioning.id_scope == "0ne00000000");
  CHECK(c.provisioning.global_endpoint == "https://global.azure-devices-provisioning.net/");
  CHECK(c.provisioning.attestation.method == AttestationMethod::tpm);
  CHECK_FALSE(c.provisioning.attestation.registration_id);
  CHECK(c.tpm.tcti == "swtpm:host=127.0.0.1,port=2321");
  CHECK(c.ipc.endpoint == (dir / "edgeprov.sock").string());
  CHECK(c.state.dir == dir / "state");
  CHECK(c.log.level == "debug");
  CHECK(c.dps.transport == Transport::https);
  // No secret in it: readable by everyone, directory created.
  check_access(file, FileAccess::shared_readable);
  CHECK(entries_in(file.parent_path()) == 1);  // no temporary file left behind
}

TEST_CASE("the MQTT port and the reprovisioning mode given to init load back") {
  test::TempDir dir;
  InitOptions o;
  o.id_scope = "0ne00000000";
  o.registration_id = "sensor-17";
  o.attestation = AttestationMethod::symmetric_key;
  o.symmetric_key = Secret(example_key);
  o.transport = Transport::mqtt;
  o.mqtt_port = 18883;
  o.trusted_ca = "file:///etc/edgeprov/dps-ca.pem";  // MQTT on Windows needs it (config_error_test.cpp)
  o.reprovisioning_mode = ReprovisioningMode::always_on_startup;
  const Config c = write_config(dir / "config.toml", o, false);
  CHECK(c.dps.transport == Transport::mqtt);
  CHECK(c.dps.mqtt_port == 18883);
  CHECK(c.auto_reprovisioning_mode == ReprovisioningMode::always_on_startup);
}

TEST_CASE("a symmetric-key config is written readable by its owner only and keeps the key") {
  test::TempDir dir;
  InitOptions o;
  o.id_scope = "0ne00000000";
  o.attestation = AttestationMethod::symmetric_key;
  o.registration_id = "edge-01";
  o.symmetric_key = Secret{example_key};
  o.transport = Transport::mqtt;
  o.global_endpoint = "https://127.0.0.1:8443/";
  o.trusted_ca = (dir / "ca.pem").string();
  const fs::path file = dir / "config.toml";

  CHECK(holds_secret(o));
  const Config c = write_config(file, o, false);
  CHECK(c.provisioning.attestation.method == AttestationMethod::symmetric_key);
  CHECK(c.provisioning.attestation.registration_id == "edge-01");
  REQUIRE(c.provisioning.attestation.symmetric_key_value);
  CHECK(c.provisioning.attestation.symmetric_key_value->reveal() == example_key);
  CHECK(c.dps.transport == Transport::mqtt);
  CHECK(c.provisioning.global_endpoint == "https://127.0.0.1:8443/");
  REQUIRE(c.dps.trusted_ca);
  CHECK(*c.dps.trusted_ca == file_uri(dir / "ca.pem"));
  CHECK(local_path(*c.dps.trusted_ca) == dir / "ca.pem");
  check_access(file, FileAccess::service_secret);
}

TEST_CASE("an x509 config turns certificate paths into file URIs, as aziot writes them") {
  test::TempDir dir;
  InitOptions o;
  o.id_scope = "0ne00000000";
  o.attestation = AttestationMethod::x509;
  o.registration_id = "edge-x509";
  o.identity_cert = (dir / "my certs" / "device.pem").string();
  o.identity_pk = "file:///etc/edgeprov/device.key.pem";
  const fs::path file = dir / "config.toml";

  const Config c = write_config(file, o, false);
  CHECK(c.provisioning.attestation.method == AttestationMethod::x509);
  CHECK(c.provisioning.attestation.identity_cert == file_uri(dir / "my%20certs" / "device.pem"));
  CHECK(local_path(*c.provisioning.attestation.identity_cert) == dir / "my certs" / "device.pem");
  CHECK(c.provisioning.attestation.identity_pk == "file:///etc/edgeprov/device.key.pem");
  CHECK_FALSE(holds_secret(o));
}

TEST_CASE("the rendered text uses aziot's tables and keys") {
  InitOptions o;
  o.id_scope = "0ne00000000";
  o.registration_id = "dev\"quoted";
  const std::string text = render_config(o);
  CHECK_THAT(text, ContainsSubstring("[provisioning]\nsource = \"dps\"\n"
                                     "global_endpoint = \"https://global.azure-devices-provisioning.net/\"\n"
                                     "id_scope = \"0ne00000000\"\n"));
  CHECK_THAT(text, ContainsSubstring("[provisioning.attestation]\nmethod = \"tpm\"\n"));
  CHECK_THAT(text, ContainsSubstring("registration_id = \"dev\\\"quoted\"\n"));  // escaped by toml++
  CHECK(text.find("\n[edgeprov") == std::string::npos);  // nothing but defaults: no edgeprov tables
}

TEST_CASE("an existing config is never replaced without being asked to") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  test::write_file(file, "# the operator's own file\n");
  InitOptions o;
  o.id_scope = "0ne00000000";

  CHECK_THROWS_AS(write_config(file, o, false), FileExistsError);
  CHECK(test::read_file(file) == "# the operator's own file\n");
  CHECK(entries_in(dir.path()) == 1);

  const Config c = write_config(file, o, true);
  CHECK(c.provisioning.id_scope == "0ne00000000");
  CHECK_THAT(test::read_file(file), ContainsSubstring("id_scope = \"0ne00000000\""));
  CHECK(entries_in(dir.path()) == 1);
}

TEST_CASE("replacing a key-holding config with one without a key widens its access (0644, Users read), and back") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  InitOptions with_key;
  with_key.id_scope = "0ne00000000";
  with_key.attestation = AttestationMethod::symmetric_key;
  with_key.registration_id = "edge-01";
  with_key.symmetric_key = Secret{example_key};
  InitOptions tpm;
  tpm.id_scope = "0ne00000000";

  write_config(file, tpm, false);
  check_access(file, FileAccess::shared_readable);
  write_config(file, with_key, true);
  check_access(file, FileAccess::service_secret);
  write_config(file, tpm, true);
  check_access(file, FileAccess::shared_readable);
}

TEST_CASE("invalid options write nothing and name the key at fault") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  InitOptions o;
  o.id_scope = "0ne00000000";
  o.transport = Transport::mqtt;  // with TPM attestation
  try {
    write_config(file, o, false);
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "edgeprov.dps.transport");
    CHECK_FALSE(e.line());
    CHECK_THAT(e.problem(), ContainsSubstring("DPS accepts TPM attestation over HTTPS only"));
  }
  CHECK_FALSE(fs::exists(file));
  CHECK(entries_in(dir.path()) == 0);
}

TEST_CASE("a bad symmetric key is refused without being shown") {
  test::TempDir dir;
  InitOptions o;
  o.id_scope = "0ne00000000";
  o.attestation = AttestationMethod::symmetric_key;
  o.registration_id = "edge-01";
  o.symmetric_key = Secret{"very-secret!"};
  try {
    write_config(dir / "config.toml", o, false);
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "provisioning.attestation.symmetric_key.value");
    CHECK(std::string(e.what()).find("very-secret") == std::string::npos);
  }
}

TEST_CASE("the atomic writer sets the access regardless of umask or inherited ACL and leaves no temporary file") {
  test::TempDir dir;
  const fs::path file = dir / "sub" / "state.json";
  write_file_atomically(file, "{}", FileAccess::owner_only, false);
  CHECK(test::read_file(file) == "{}");
  check_access(file, FileAccess::owner_only);
  CHECK_THROWS_AS(write_file_atomically(file, "[]", FileAccess::owner_only, false), FileExistsError);
  CHECK(test::read_file(file) == "{}");
  write_file_atomically(file, "[]", FileAccess::shared_readable, true);
  CHECK(test::read_file(file) == "[]");
  check_access(file, FileAccess::shared_readable);
  CHECK(entries_in(file.parent_path()) == 1);
}

TEST_CASE("something at the target that is not a file (a dangling symlink; a folder on Windows) counts as existing") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  test::make_non_file_entry(file);
  CHECK_THROWS_AS(write_file_atomically(file, "x", FileAccess::shared_readable, false), FileExistsError);
  CHECK_FALSE(fs::exists(dir / "nowhere"));
}
