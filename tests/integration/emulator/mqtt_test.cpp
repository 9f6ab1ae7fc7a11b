// The device API over MQTT 3.1.1/TLS, judged by mosquitto_sub and mosquitto_pub.
#include <catch2/catch_test_macros.hpp>

#include "common/encoding.h"
#include "tests/integration/emulator/emulator_fixture.h"

using namespace edgeprov::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string device_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const std::string enrollments = R"(
[[enrollments]]
registrationId = "mqtt-device-01"
attestation = { type = "symmetricKey", symmetricKey = { primaryKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } }
)";

json payload_of(const std::string& line) { return json::parse(line.substr(line.find(' ') + 1), nullptr, false); }

}  // namespace

TEST_CASE("a symmetric-key device registers over MQTT with mosquitto_pub and mosquitto_sub") {
  Emulator emulator({.enrollments_toml = enrollments});
  std::string token = openssl_sas(device_key, "mqtt-device-01", now_unix() + 2400);
  auto first = emulator.mqtt_exchange("mqtt-device-01", token,
                                      {{"$dps/registrations/PUT/iotdps-register/?$rid=1", R"({"registrationId":"mqtt-device-01"})"}}, 1);
  REQUIRE(first.size() == 1);
  CHECK(first[0].rfind("$dps/registrations/res/202/?$rid=1&retry-after=1 ", 0) == 0);
  std::string operation = payload_of(first[0])["operationId"];
  auto second = emulator.mqtt_exchange("mqtt-device-01", token,
                                       {{"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=" + operation, "{}"}}, 1);
  REQUIRE(second.size() == 1);
  CHECK(second[0].rfind("$dps/registrations/res/200/?$rid=2 ", 0) == 0);
  auto assigned = payload_of(second[0]);
  CHECK(assigned["status"] == "assigned");
  CHECK(assigned["registrationState"]["deviceId"] == "mqtt-device-01");
  CHECK(emulator.output().find("mqtt register mqtt-device-01 202 assigning") != std::string::npos);
}

TEST_CASE("MQTT refuses a bad SAS, a wrong client id and an unknown ID scope at CONNECT") {
  Emulator emulator({.enrollments_toml = enrollments});
  auto bad_key = emulator.mosquitto("mosquitto_pub", "mqtt-device-01",
                                    openssl_sas("c2Vjb25kYXJ5LWtleS1vZi1kZXZpY2UtMDAxISEhIQ==", "mqtt-device-01", now_unix() + 60));
  bad_key.insert(bad_key.end(), {"-t", "x", "-m", "{}"});
  auto r = run({.argv = bad_key}, 10s);
  CHECK(r.status.code != 0);
  CHECK(r.output.find("not authori") != std::string::npos);

  std::string token = openssl_sas(device_key, "mqtt-device-01", now_unix() + 60);
  std::vector<std::string> wrong_id{"mosquitto_pub", "-V", "mqttv311", "-h", "localhost", "-p", std::to_string(emulator.mqtt_port()),
                                    "--cafile", emulator.ca().string(), "-i", "another-id", "-u", mqtt_username("mqtt-device-01"),
                                    "-P", token, "-t", "x", "-m", "{}"};
  r = run({.argv = wrong_id}, 10s);
  CHECK(r.status.code != 0);
  CHECK(r.output.find("identifier rejected") != std::string::npos);
  CHECK(emulator.running());
}

TEST_CASE("a TPM enrollment is refused over MQTT at CONNECT (TPM attestation is HTTPS-only)") {
  Emulator emulator({.enrollments_toml = enrollments});
  // An EK in the TCG template's layout (docs/dps-protocol.md §5.3) with an arbitrary modulus: the attempt is
  // refused before any challenge is built.
  edgeprov::Bytes ek{0x01, 0x3A, 0x00, 0x01, 0x00, 0x0B, 0x00, 0x03, 0x00, 0xB2, 0x00, 0x20};
  edgeprov::Bytes policy = *edgeprov::hex_decode("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");
  ek.insert(ek.end(), policy.begin(), policy.end());
  ek.insert(ek.end(), {0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x10, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00});
  for (int i = 0; i < 256; ++i) ek.push_back(static_cast<std::uint8_t>(7 * i + 1));
  REQUIRE(emulator.admin("PUT", "/enrollments/tpm-over-mqtt",
                         {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", edgeprov::base64_encode(ek)}}}}}})
              .status == 201);
  auto pub = emulator.mosquitto("mosquitto_pub", "tpm-over-mqtt", "");
  pub.insert(pub.end(), {"-t", "$dps/registrations/PUT/iotdps-register/?$rid=1", "-m", "{}"});
  auto r = run({.argv = pub}, 10s);
  CHECK(r.status.code != 0);
  CHECK(r.output.find("not authori") != std::string::npos);
  CHECK(emulator.output().find("TPM attestation is not available over MQTT") != std::string::npos);
}

TEST_CASE("garbage and malformed MQTT packets close the connection and never stop the emulator") {
  Emulator emulator({.enrollments_toml = enrollments});
  // Random bytes after the TLS handshake; a CONNECT with protocol level 3; a reserved packet type after a
  // CONNECT; a remaining length that never ends.
  shell(R"(set -e
head -c 4096 /dev/urandom | timeout 5 openssl s_client -quiet -connect 127.0.0.1:$PORT >/dev/null 2>&1 || true
printf '\020\016\000\006MQIsdp\003\002\000\000\000\000' | timeout 5 openssl s_client -quiet -connect 127.0.0.1:$PORT >/dev/null 2>&1 || true
printf '\020\014\000\004MQTT\004\002\000\000\000\000\360\000' | timeout 5 openssl s_client -quiet -connect 127.0.0.1:$PORT >/dev/null 2>&1 || true
printf '\020\377\377\377\377\377' | timeout 5 openssl s_client -quiet -connect 127.0.0.1:$PORT >/dev/null 2>&1 || true
head -c 3000 /dev/urandom | timeout 5 socat -t 1 - TCP:127.0.0.1:$PORT >/dev/null 2>&1 || true
)",
        {{"PORT", std::to_string(emulator.mqtt_port())}});
  CHECK(emulator.running());
  std::string token = openssl_sas(device_key, "mqtt-device-01", now_unix() + 2400);
  auto replies = emulator.mqtt_exchange("mqtt-device-01", token,
                                        {{"$dps/registrations/PUT/iotdps-register/?$rid=1", R"({"registrationId":"mqtt-device-01"})"}}, 1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].rfind("$dps/registrations/res/202/", 0) == 0);
}
