// Every validation error: it names the file, the line, the key, the problem and the fix.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "edge-config/config.h"
#include "tests/support/process.h"

using namespace edgeprov::config;
using Catch::Matchers::ContainsSubstring;

namespace {

ConfigError error_of(const std::string& text) {
  try {
    parse(text, "bad.toml");
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("the configuration was accepted:\n" << text);
  throw;  // unreachable: FAIL throws
}

void check_error(const ConfigError& e, std::optional<std::size_t> line, const std::string& key,
                 const std::string& problem, const std::string& fix) {
  INFO(e.what());
  CHECK(e.file() == std::filesystem::path("bad.toml"));
  CHECK(e.line() == line);
  CHECK(e.key() == key);
  CHECK_THAT(e.problem(), ContainsSubstring(problem));
  CHECK_THAT(e.fix(), ContainsSubstring(fix));
  // One readable line: "<file>:<line>: <key>: <problem> — <fix>"
  std::string prefix = "bad.toml";
  if (line) prefix += ":" + std::to_string(*line);
  if (!key.empty()) prefix += ": " + key;
  CHECK_THAT(std::string(e.what()), Catch::Matchers::StartsWith(prefix + ": "));
  CHECK_THAT(std::string(e.what()), ContainsSubstring(" — "));
  CHECK(std::string(e.what()).find('\n') == std::string::npos);
}

// A valid TPM configuration; tests append to it or replace lines.
const std::string tpm_head =
    "[provisioning]\n"                                                   // 1
    "source = \"dps\"\n"                                                 // 2
    "global_endpoint = \"https://global.azure-devices-provisioning.net/\"\n"  // 3
    "id_scope = \"0ne00000000\"\n"                                       // 4
    "[provisioning.attestation]\n"                                       // 5
    "method = \"tpm\"\n";                                                // 6

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::string symmetric(const std::string& key_line) {
  return replace(tpm_head, "method = \"tpm\"\n", "method = \"symmetric_key\"\nregistration_id = \"dev-1\"\n") +
         key_line;  // line 8
}

std::string x509(const std::string& lines) {
  return replace(tpm_head, "method = \"tpm\"\n", "method = \"x509\"\n") + lines;  // from line 7
}

}  // namespace

TEST_CASE("the head used by these tests is itself valid") {
  CHECK(parse(tpm_head, "bad.toml").provisioning.id_scope == "0ne00000000");
}

TEST_CASE("a TOML syntax error reports toml++'s line and column") {
  const auto e = error_of(replace(tpm_head, "id_scope = \"0ne00000000\"", "id_scope = \"0ne00000000"));
  check_error(e, 4, "", "TOML syntax error at column", "fix the syntax");
}

TEST_CASE("a missing [provisioning] table is reported without a line") {
  check_error(error_of("hostname = \"x\"\n[agent]\nname = \"edgeAgent\"\n"), std::nullopt, "provisioning",
              "is missing", "edgeprovctl init");
}

TEST_CASE("a missing id_scope points at the [provisioning] table and says where the ID Scope is") {
  check_error(error_of(replace(tpm_head, "id_scope = \"0ne00000000\"\n", "")), 1, "provisioning.id_scope",
              "is missing", "Overview page of your Device Provisioning Service");
}

TEST_CASE("identityd's own scope_id spelling is pointed at id_scope") {
  check_error(error_of(replace(tpm_head, "id_scope =", "scope_id =")), 4, "provisioning.id_scope", "is missing",
              "rename scope_id to id_scope");
}

TEST_CASE("an id_scope with characters DPS never uses is rejected") {
  check_error(error_of(replace(tpm_head, "0ne00000000", "0ne 000/00")), 4, "provisioning.id_scope",
              "is not an ID Scope", "copy the ID Scope");
}

TEST_CASE("an empty string is reported as empty") {
  check_error(error_of(replace(tpm_head, "\"0ne00000000\"", "\"\"")), 4, "provisioning.id_scope", "is empty",
              "give it a value");
}

TEST_CASE("a value of the wrong type names the expected type") {
  check_error(error_of(replace(tpm_head, "\"0ne00000000\"", "12345")), 4, "provisioning.id_scope",
              "expected a string, found an integer", "id_scope = \"0ne00000000\"");
}

TEST_CASE("manual provisioning is refused with the reason") {
  check_error(error_of(replace(tpm_head, "source = \"dps\"", "source = \"manual\"")), 2, "provisioning.source",
              "\"manual\" provisioning is not what edgeprov does", "set source = \"dps\"");
}

TEST_CASE("an unknown provisioning source is rejected") {
  check_error(error_of(replace(tpm_head, "source = \"dps\"", "source = \"cloud\"")), 2, "provisioning.source",
              "\"cloud\" is not a provisioning source", "set source = \"dps\"");
}

TEST_CASE("a missing source is reported at the [provisioning] table") {
  check_error(error_of(replace(tpm_head, "source = \"dps\"\n", "")), 1, "provisioning.source", "is missing",
              "add source = \"dps\"");
}

TEST_CASE("a plain-http global endpoint is rejected: DPS is TLS only") {
  check_error(error_of(replace(tpm_head, "https://global", "http://global")), 3, "provisioning.global_endpoint",
              "uses plain http", "use an https:// URL");
}

TEST_CASE("a global endpoint that is not a URL is rejected") {
  check_error(error_of(replace(tpm_head, "https://global.azure-devices-provisioning.net/",
                               "global.azure-devices-provisioning.net")),
              3, "provisioning.global_endpoint", "is not an https:// URL", "use an https:// URL");
  check_error(error_of(replace(tpm_head, "https://global.azure-devices-provisioning.net/", "https:///path")), 3,
              "provisioning.global_endpoint", "has no host name", "write the scheme and host");
  check_error(error_of(replace(tpm_head, "https://global.azure-devices-provisioning.net/", "https://a b/")), 3,
              "provisioning.global_endpoint", "contains a space", "without spaces");
}

TEST_CASE("a payload must be a table with a file:// uri") {
  check_error(error_of(tpm_head + "[provisioning.payload]\nuri = \"https://example.com/p.json\"\n"), 8,
              "provisioning.payload.uri", "is not a file:// URI", "payload = { uri = \"file:///");
  check_error(error_of(replace(tpm_head, "id_scope = \"0ne00000000\"\n",
                               "id_scope = \"0ne00000000\"\npayload = \"file:///p.json\"\n")),
              5, "provisioning.payload", "expected a table, found a string", "payload = { uri =");
}

TEST_CASE("a missing attestation table is reported at [provisioning]") {
  check_error(error_of(replace(tpm_head, "[provisioning.attestation]\nmethod = \"tpm\"\n", "")), 1,
              "provisioning.attestation", "is missing", "method = \"tpm\", \"symmetric_key\" or \"x509\"");
}

TEST_CASE("an unknown attestation method is rejected with the three that exist") {
  check_error(error_of(replace(tpm_head, "method = \"tpm\"", "method = \"tmp\"")), 6,
              "provisioning.attestation.method", "\"tmp\" is not an attestation method",
              "use \"tpm\", \"symmetric_key\" or \"x509\"");
}

TEST_CASE("a missing attestation method is reported at the attestation table") {
  check_error(error_of(replace(tpm_head, "method = \"tpm\"\n", "registration_id = \"x\"\n")), 5,
              "provisioning.attestation.method", "is missing", "add method =");
}

TEST_CASE("a registration id DPS would refuse is rejected") {
  check_error(error_of(tpm_head + "registration_id = \"my device!\"\n"), 7,
              "provisioning.attestation.registration_id", "is not a DPS registration id", "letters, digits");
}

TEST_CASE("TPM attestation over MQTT is refused: DPS accepts TPM attestation over HTTPS only") {
  check_error(error_of(tpm_head + "[edgeprov.dps]\ntransport = \"mqtt\"\n"), 8, "edgeprov.dps.transport",
              "DPS accepts TPM attestation over HTTPS only", "set transport = \"https\"");
}

TEST_CASE("symmetric key attestation over MQTT with a trusted CA loads") {
  const std::string text = symmetric("symmetric_key = { value = \"c2VjcmV0LWtleQ==\" }\n") +
                           "[edgeprov.dps]\ntransport = \"mqtt\"\ntrusted_ca = \"file:///etc/edgeprov/dps-ca.pem\"\n";
  CHECK(parse(text, "mqtt.toml").dps.transport == Transport::mqtt);
}

// Paho MQTT trusts OpenSSL's default locations only: the system roots on Linux, nothing on Windows
// (whose roots are in the certificate store), so Windows asks for trusted_ca instead of failing every
// handshake later.
TEST_CASE("MQTT without a trusted CA: the system store on Linux, refused on Windows") {
  const std::string text = symmetric("symmetric_key = { value = \"c2VjcmV0LWtleQ==\" }\n") +
                           "[edgeprov.dps]\ntransport = \"mqtt\"\n";  // line 10
  if (defaults().mqtt_system_trust) {
    CHECK(parse(text, "mqtt.toml").dps.transport == Transport::mqtt);
  } else {
    check_error(error_of(text), 10, "edgeprov.dps.transport", "MQTT needs [edgeprov.dps] trusted_ca on Windows",
                "set trusted_ca to the PEM file of the root CA of the DPS server");
  }
}

TEST_CASE("HTTPS without a trusted CA loads on every platform: it reads the system store itself") {
  const std::string text = symmetric("symmetric_key = { value = \"c2VjcmV0LWtleQ==\" }\n") +
                           "[edgeprov.dps]\ntransport = \"https\"\n";
  const Config c = parse(text, "https.toml");
  CHECK(c.dps.transport == Transport::https);
  CHECK_FALSE(c.dps.trusted_ca);
}

TEST_CASE("an unknown transport is rejected") {
  check_error(error_of(tpm_head + "[edgeprov.dps]\ntransport = \"amqp\"\n"), 8, "edgeprov.dps.transport",
              "\"amqp\" is not a DPS transport", "use \"https\" or \"mqtt\"");
}

TEST_CASE("a symmetric key source other than device or group is rejected") {
  check_error(error_of(tpm_head + "[edgeprov.dps]\nsymmetric_key_source = \"enrollment\"\n"), 8,
              "edgeprov.dps.symmetric_key_source", "\"enrollment\" is not a symmetric key source",
              "use \"device\"");
}

TEST_CASE("an MQTT port outside 1..65535 is rejected") {
  check_error(error_of(tpm_head + "[edgeprov.dps]\nmqtt_port = 70000\n"), 8, "edgeprov.dps.mqtt_port",
              "70000 is not a TCP port", "from 1 to 65535");
}

TEST_CASE("an IPC limit that is not a positive count in range is rejected with its range and default") {
  check_error(error_of(tpm_head + "[edgeprov.ipc]\nmax_connections_per_user = 0\n"), 8,
              "edgeprov.ipc.max_connections_per_user", "0 is not a connection count from 1 to 65536",
              "or remove it for the default of 32");
  check_error(error_of(tpm_head + "[edgeprov.ipc]\nmax_requests_per_user = \"8\"\n"), 8,
              "edgeprov.ipc.max_requests_per_user", "expected an integer, found a string", "max_requests_per_user = 32");
  check_error(error_of(tpm_head + "[edgeprov.ipc]\nmax_connections = 100000\n"), 8, "edgeprov.ipc.max_connections",
              "100000 is not a connection count from 2 to 65536", "default of 256");
  check_error(error_of(tpm_head + "[edgeprov.ipc]\nidle_timeout_sec = 5\n"), 8, "edgeprov.ipc.idle_timeout_sec",
              "5 is not a number of seconds from 10 to 86400", "default of 300");
}

TEST_CASE("a reserve for administrators that leaves users no connection is rejected at the key that makes it so") {
  check_error(error_of(tpm_head + "[edgeprov.ipc]\nmax_connections = 64\nadmin_reserved_connections = 64\n"), 9,
              "edgeprov.ipc.admin_reserved_connections",
              "admin_reserved_connections = 64 leaves no connection of max_connections = 64",
              "reserve fewer connections for administrators");
  check_error(error_of(tpm_head + "[edgeprov.ipc]\nmax_connections = 20\n"), 8, "edgeprov.ipc.max_connections",
              "admin_reserved_connections = 32 leaves no connection of max_connections = 20",
              "reserve fewer connections");
}

TEST_CASE("symmetric key attestation without a key says how to give one") {
  check_error(error_of(symmetric("")), 5, "provisioning.attestation.symmetric_key", "is missing",
              "symmetric_key = { value = \"<base64 key");
}

TEST_CASE("symmetric key attestation without a registration id is rejected") {
  const auto text = replace(symmetric("symmetric_key = { value = \"c2VjcmV0LWtleQ==\" }\n"),
                            "registration_id = \"dev-1\"\n", "");
  check_error(error_of(text), 5, "provisioning.attestation.registration_id", "is missing",
              "add registration_id");
}

TEST_CASE("a symmetric key with both value and uri is rejected") {
  check_error(error_of(symmetric("symmetric_key = { value = \"c2VjcmV0LWtleQ==\", uri = \"file:///k\" }\n")), 8,
              "provisioning.attestation.symmetric_key", "has both value and uri", "keep one");
}

TEST_CASE("a symmetric key with neither value nor uri is rejected") {
  check_error(error_of(symmetric("symmetric_key = { }\n")), 8, "provisioning.attestation.symmetric_key",
              "has neither value nor uri", "symmetric_key = { value =");
}

TEST_CASE("a symmetric key written as a bare string is rejected with the table form") {
  check_error(error_of(symmetric("symmetric_key = \"c2VjcmV0LWtleQ==\"\n")), 8,
              "provisioning.attestation.symmetric_key", "expected a table, found a string",
              "symmetric_key = { value =");
}

TEST_CASE("a key that is not base64 is rejected without showing the key") {
  const std::string key = "not*base64*secret-value";
  const auto e = error_of(symmetric("symmetric_key = { value = \"" + key + "\" }\n"));
  check_error(e, 8, "provisioning.attestation.symmetric_key.value", "is not a base64 key", "Primary Key");
  CHECK(std::string(e.what()).find(key) == std::string::npos);
  CHECK(std::string(e.what()).find("secret-value") == std::string::npos);
}

TEST_CASE("a PKCS#11 key uri is refused as unsupported") {
  check_error(error_of(symmetric("symmetric_key = { uri = \"pkcs11:slot-id=0;object=device%20id\" }\n")), 8,
              "provisioning.attestation.symmetric_key.uri", "PKCS#11 key URIs are not supported",
              "raw key bytes in a file");
}

TEST_CASE("x509 attestation without a certificate or a key says which is missing") {
  check_error(error_of(x509("identity_pk = \"file:///k.pem\"\n")), 5, "provisioning.attestation.identity_cert",
              "is missing", "identity_cert = \"file:///");
  check_error(error_of(x509("identity_cert = \"file:///c.pem\"\n")), 5, "provisioning.attestation.identity_pk",
              "is missing", "identity_pk = \"file:///");
}

TEST_CASE("dynamically issued x509 identity certificates are refused as unsupported") {
  check_error(error_of(x509("identity_cert = { method = \"est\", common_name = \"my-device\" }\n"
                            "identity_pk = \"file:///k.pem\"\n")),
              7, "provisioning.attestation.identity_cert", "(EST or local CA) are not supported",
              "issue the certificate beforehand");
}

TEST_CASE("a PKCS#11 identity key is refused as unsupported") {
  check_error(error_of(x509("identity_cert = \"file:///c.pem\"\n"
                            "identity_pk = \"pkcs11:slot-id=0;object=device%20id?pin-value=1234\"\n")),
              8, "provisioning.attestation.identity_pk", "PKCS#11 URIs are not supported", "PEM file");
}

TEST_CASE("a certificate reference that is neither file:// nor a path is rejected") {
  check_error(error_of(x509("identity_cert = \"https://example.com/c.pem\"\n"
                            "identity_pk = \"file:///k.pem\"\n")),
              7, "provisioning.attestation.identity_cert", "is not a file:// URI or a path", "identity_cert =");
}

TEST_CASE("cloud_timeout_sec below aziot's minimum of 70 seconds is rejected") {
  check_error(error_of("cloud_timeout_sec = 10\n" + tpm_head), 1, "cloud_timeout_sec",
              "10 is below the minimum of 70 seconds", "cloud_timeout_sec = 70 or more");
  CHECK(parse("cloud_timeout_sec = 70\n" + tpm_head, "ok.toml").cloud_timeout == std::chrono::seconds(70));
}

TEST_CASE("cloud_timeout_sec must be an integer") {
  check_error(error_of("cloud_timeout_sec = \"90\"\n" + tpm_head), 1, "cloud_timeout_sec",
              "expected an integer, found a string", "cloud_timeout_sec = 70");
}

TEST_CASE("a negative cloud_retries is rejected") {
  check_error(error_of("cloud_retries = -1\n" + tpm_head), 1, "cloud_retries", "is not a retry count",
              "cloud_retries = 1");
}

TEST_CASE("an unknown reprovisioning mode is rejected with aziot's exact spellings") {
  check_error(error_of("auto_reprovisioning_mode = \"dynamic\"\n" + tpm_head), 1, "auto_reprovisioning_mode",
              "\"dynamic\" is not a reprovisioning mode", "\"Dynamic\" (the default), \"AlwaysOnStartup\"");
}

TEST_CASE("an auth key index beyond the persistent range is rejected") {
  check_error(error_of(tpm_head + "[tpm]\nauth_key_index = 0x80_00_00\n"), 8, "tpm.auth_key_index",
              "0x800000 is outside the TPM's persistent range", "between 0x00_00_00 and 0x7F_FF_FF");
  check_error(error_of(tpm_head + "[tpm]\nauth_key_index = -1\n"), 8, "tpm.auth_key_index",
              "-1 is outside the TPM's persistent range", "auth_key_index = 0x00_01_00");
}

TEST_CASE("a full persistent handle given as the auth key index is turned into the offset to write") {
  check_error(error_of(tpm_head + "[tpm]\nauth_key_index = 0x81000100\n"), 8, "tpm.auth_key_index",
              "0x81000100 is a full persistent handle", "auth_key_index = 0x100");
}

TEST_CASE("an auth key index string that is not a number is rejected") {
  check_error(error_of(tpm_head + "[tpm]\nauth_key_index = \"0xZZ\"\n"), 8, "tpm.auth_key_index",
              "\"0xZZ\" is not a number", "auth_key_index = 0x00_01_00");
  CHECK(parse(tpm_head + "[tpm]\nauth_key_index = 0x7F_FF_FF\n", "ok.toml").tpm.auth_key_index == 0x7FFFFF);
}

TEST_CASE("a bad log level lists the levels") {
  check_error(error_of(tpm_head + "[edgeprov.log]\nlevel = \"verbose\"\n"), 8, "edgeprov.log.level",
              "\"verbose\" is not a log level", "trace, debug, info, warn, error, critical, off");
}

TEST_CASE("a misspelt key in an edgeprov table is an error, not silently ignored") {
  check_error(error_of(tpm_head + "[edgeprov.dps]\ntransprot = \"https\"\n"), 8, "edgeprov.dps.transprot",
              "is not a key edgeprov knows", "[edgeprov.dps] accepts transport, trusted_ca, proxy, symmetric_key_source, mqtt_port");
  check_error(error_of(tpm_head + "[edgeprov.loggin]\nlevel = \"info\"\n"), 7, "edgeprov.loggin",
              "is not a key edgeprov knows", "[edgeprov] accepts dps, ipc, state, log");
}

TEST_CASE("a relative state directory is rejected") {
  check_error(error_of(tpm_head + "[edgeprov.state]\ndir = \"state\"\n"), 8, "edgeprov.state.dir",
              "\"state\" is a relative path", "write an absolute path");
}

TEST_CASE("a relative log file is rejected") {
  check_error(error_of(tpm_head + "[edgeprov.log]\nfile = \"edgeprov.log\"\n"), 8, "edgeprov.log.file",
              "is a relative path", "write an absolute path");
}

TEST_CASE("a proxy that is not an http URL is rejected, and so is a TLS proxy the DPS client cannot use") {
  check_error(error_of(tpm_head + "[edgeprov.dps]\nproxy = \"socks5://p:1080\"\n"), 8, "edgeprov.dps.proxy",
              "only http:// proxies (HTTP CONNECT) are supported", "proxy = \"http://proxy.example:3128\"");
  check_error(error_of(tpm_head + "[edgeprov.dps]\nproxy = \"https://p:3128\"\n"), 8, "edgeprov.dps.proxy",
              "(https://) is not supported", "proxy = \"http://proxy.example:3128\"");
}

TEST_CASE("identity principals must be names") {
  check_error(error_of(tpm_head + "[edgeprov.ipc]\nidentity_principals = [\"iotedge\", 1000]\n"), 8,
              "edgeprov.ipc.identity_principals", "is not a user or group name", "identity_principals = [");
  check_error(error_of(tpm_head + "[edgeprov.ipc]\nidentity_principals = \"iotedge\"\n"), 8,
              "edgeprov.ipc.identity_principals", "expected an array of names", "identity_principals = [");
}

TEST_CASE("a trusted CA that is a PKCS#11 URI is rejected") {
  check_error(error_of(tpm_head + "[edgeprov.dps]\ntrusted_ca = \"pkcs11:object=ca\"\n"), 8,
              "edgeprov.dps.trusted_ca", "PKCS#11 URIs are not supported", "trusted_ca =");
}

TEST_CASE("a hierarchy password is never part of an error") {
  const auto e = error_of(tpm_head + "[tpm.hierarchy_authorization]\nendorsement = 1234\n");
  check_error(e, 8, "tpm.hierarchy_authorization.endorsement", "expected a string, found an integer",
              "endorsement = \"<password>\"");
  CHECK(std::string(e.what()).find("1234") == std::string::npos);
}

TEST_CASE("loading a file that does not exist says how to create one") {
  edgeprov::test::TempDir dir;
  try {
    load(dir / "config.toml");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.file() == dir / "config.toml");
    CHECK_FALSE(e.line());
    CHECK(e.problem() == "does not exist");
    CHECK_THAT(e.fix(), ContainsSubstring("edgeprovctl init --scope-id"));
  }
}

TEST_CASE("loading a directory says to give the file") {
  edgeprov::test::TempDir dir;
  try {
    load(dir.path());
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.problem() == "is a directory, not a configuration file");
  }
}

TEST_CASE("an error loaded from a file names that file and the line in it") {
  edgeprov::test::TempDir dir;
  edgeprov::test::write_file(dir / "config.toml", replace(tpm_head, "method = \"tpm\"", "method = \"psk\""));
  try {
    load(dir / "config.toml");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.file() == dir / "config.toml");
    CHECK(e.line() == 6);
    CHECK_THAT(std::string(e.what()), Catch::Matchers::StartsWith((dir / "config.toml").string() + ":6: "));
  }
}
