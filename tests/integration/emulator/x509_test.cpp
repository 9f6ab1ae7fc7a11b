// X.509 attestation judged by curl with client certificates made by the openssl command line.
#include <catch2/catch_test_macros.hpp>

#include "tests/integration/emulator/emulator_fixture.h"

using namespace edgeprov::test;
using nlohmann::json;

namespace {

// A group CA, a device certificate it signs (CN = registration id), and a self-signed individual device.
void make_certificates(const std::filesystem::path& dir) {
  shell(R"(set -e
cd "$DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout group-ca.key -out group-ca.pem \
  -subj "/CN=edgeprov test group CA" -days 2 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout group-device.key -out group-device.csr -subj "/CN=x509-group-device" 2>/dev/null
openssl x509 -req -in group-device.csr -CA group-ca.pem -CAkey group-ca.key -CAcreateserial -out group-device.pem -days 2 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key -out other-ca.pem \
  -subj "/CN=someone else's CA" -days 2 -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key -out rogue.csr -subj "/CN=x509-group-device" 2>/dev/null
openssl x509 -req -in rogue.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -out rogue.pem -days 2 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout single.key -out single.pem -subj "/CN=x509-single" -days 2 2>/dev/null
openssl x509 -in single.pem -noout -fingerprint -sha256 | cut -d= -f2 > single.thumbprint
)",
        {{"DIR", dir.string()}});
}

HttpResult register_with(const Emulator& emulator, const std::string& id, const std::string& stem) {
  auto dir = emulator.dir().path();
  write_file(dir / "body.json", json{{"registrationId", id}}.dump());
  return emulator.curl({"--cert", (dir / (stem + ".pem")).string(), "--key", (dir / (stem + ".key")).string(), "-X", "PUT",
                        "-H", "Content-Type: application/json", "--data-binary", "@" + (dir / "body.json").string()},
                       emulator.device_url(id));
}

}  // namespace

TEST_CASE("an X.509 group device registers with curl --cert when its chain leads to the group's CA") {
  Emulator emulator;
  make_certificates(emulator.dir().path());
  REQUIRE(emulator.admin("PUT", "/enrollmentGroups/x509-group",
                         {{"attestation", {{"type", "x509"}, {"x509", {{"signingCertificates", {{"primary", {{"certificate",
                             read_file(emulator.dir() / "group-ca.pem")}}}}}}}}}})
              .status == 201);
  auto put = register_with(emulator, "x509-group-device", "group-device");
  REQUIRE(put.status == 202);
  auto dir = emulator.dir().path();
  auto poll = emulator.curl({"--cert", (dir / "group-device.pem").string(), "--key", (dir / "group-device.key").string()},
                            emulator.device_url("x509-group-device", "operations/" + put.json()["operationId"].get<std::string>()));
  REQUIRE(poll.status == 200);
  CHECK(poll.json()["registrationState"]["deviceId"] == "x509-group-device");
  CHECK(poll.json()["status"] == "assigned");

  // Same CN, chain to another CA: no group accepts it.
  CHECK(register_with(emulator, "x509-group-device", "rogue").status == 404);
  // A registration id that is not the certificate's CN.
  CHECK(register_with(emulator, "someone-else", "group-device").status == 401);
  // The poll without the certificate.
  CHECK(emulator.curl({}, emulator.device_url("x509-group-device", "operations/" + put.json()["operationId"].get<std::string>()))
            .status == 401);
}

TEST_CASE("an X.509 individual enrollment accepts its certificate by SHA-256 thumbprint and refuses another") {
  Emulator emulator;
  make_certificates(emulator.dir().path());
  std::string thumbprint = read_file(emulator.dir() / "single.thumbprint");
  while (!thumbprint.empty() && (thumbprint.back() == '\n' || thumbprint.back() == '\r')) thumbprint.pop_back();
  REQUIRE(emulator.admin("PUT", "/enrollments/x509-single",
                         {{"attestation", {{"type", "x509"}, {"x509", {{"clientCertificates", {{"primary", {{"thumbprint", thumbprint}}}}}}}}}})
              .status == 201);
  CHECK(register_with(emulator, "x509-single", "single").status == 202);
  // A certificate with another CN, presented for this id.
  CHECK(register_with(emulator, "x509-single", "group-device").status == 401);
}

TEST_CASE("an X.509 group device connects over MQTT with mosquitto --cert/--key and no password") {
  Emulator emulator;
  make_certificates(emulator.dir().path());
  REQUIRE(emulator.admin("PUT", "/enrollmentGroups/x509-group",
                         {{"attestation", {{"type", "x509"}, {"x509", {{"signingCertificates", {{"primary", {{"certificate",
                             read_file(emulator.dir() / "group-ca.pem")}}}}}}}}}})
              .status == 201);
  auto dir = emulator.dir().path();
  auto argv = [&](const std::string& stem) {
    return std::vector<std::string>{"mosquitto_pub", "-d", "-V", "mqttv311", "-h", "localhost", "-p", std::to_string(emulator.mqtt_port()),
                                    "--cafile", emulator.ca().string(), "--cert", (dir / (stem + ".pem")).string(),
                                    "--key", (dir / (stem + ".key")).string(), "-i", "x509-group-device",
                                    "-u", std::string(id_scope) + "/registrations/x509-group-device/api-version=2021-06-01",
                                    "-t", "$dps/registrations/PUT/iotdps-register/?$rid=1", "-q", "1",
                                    "-m", R"({"registrationId":"x509-group-device"})"};
  };
  auto accepted = run({.argv = argv("group-device")}, std::chrono::seconds(10));
  INFO(accepted.output);
  CHECK(accepted.status.code == 0);
  CHECK(accepted.output.find("received PUBACK") != std::string::npos);
  // The emulator logs the request after it has sent PUBACK, so the line may land just after the client exits:
  // wait until it has counted the request (its handler has then run to the end, log line included).
  CHECK(emulator.wait_stats("registrationId=x509-group-device&register.mqtt.accepted=1").status == 200);
  CHECK(emulator.output().find("mqtt register x509-group-device 202 assigning") != std::string::npos);
  auto refused = run({.argv = argv("rogue")}, std::chrono::seconds(10));
  CHECK(refused.status.code != 0);
  CHECK(refused.output.find("not authori") != std::string::npos);
}
