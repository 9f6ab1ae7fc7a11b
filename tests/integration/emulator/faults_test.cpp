// Every injected fault, observed from the client side with curl, the openssl command line and mosquitto.
#include <catch2/catch_test_macros.hpp>

#include "tests/integration/emulator/emulator_fixture.h"

using namespace edgeprov::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string device_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const std::string enrollments = R"(
[[enrollments]]
registrationId = "fault-device"
attestation = { type = "symmetricKey", symmetricKey = { primaryKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } }
[[enrollments]]
registrationId = "calm-device"
attestation = { type = "symmetricKey", symmetricKey = { primaryKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } }
)";

struct Fixture {
  Emulator emulator{{.enrollments_toml = enrollments}};
  HttpResult put(const std::string& id = "fault-device", std::vector<std::string> extra = {}) {
    write_file(emulator.dir() / "body.json", json{{"registrationId", id}}.dump());
    std::vector<std::string> args{"-X", "PUT", "-H", "Authorization: " + openssl_sas(device_key, id, now_unix() + 600),
                                  "-H", "Content-Type: application/json", "--data-binary", "@" + (emulator.dir() / "body.json").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return emulator.curl(args, emulator.device_url(id));
  }
  void fault(const json& body) { REQUIRE(emulator.admin("POST", "/faults", body).status == 201); }
};

}  // namespace

TEST_CASE("a throttle fault answers 429 with its Retry-After, then the service answers again") {
  Fixture f;
  f.fault({{"type", "throttle"}, {"retryAfter", 7}, {"count", 2}});
  for (int i = 0; i < 2; ++i) {
    auto r = f.put();
    CHECK(r.status == 429);
    CHECK(r.header("Retry-After") == "7");
    CHECK(r.json()["errorCode"] == 429001);
  }
  CHECK(f.put().status == 202);
}

TEST_CASE("500 and 503 faults answer with DPS error bodies; 503 carries Retry-After") {
  Fixture f;
  f.fault({{"type", "serverError"}});
  auto r500 = f.put();
  CHECK(r500.status == 500);
  CHECK(r500.json()["errorCode"] == 500000);
  f.fault({{"type", "serviceUnavailable"}, {"retryAfter", 3}});
  auto r503 = f.put();
  CHECK(r503.status == 503);
  CHECK(r503.header("Retry-After") == "3");
}

TEST_CASE("a fault with skip lets that many matching requests through, then strikes") {
  Fixture f;
  f.fault({{"type", "serviceUnavailable"}, {"skip", 2}, {"registrationId", "fault-device"}});
  CHECK(f.put("calm-device").status == 202);  // another device's requests are not counted
  CHECK(f.put().status == 202);
  CHECK(f.put().status == 202);
  auto faults = f.emulator.admin("GET", "/faults").json();
  REQUIRE(faults.size() == 1);
  CHECK(faults[0]["skip"] == 0);
  CHECK(faults[0]["fired"] == 0);
  CHECK(f.put().status == 503);
  CHECK(f.put().status == 202);  // count 1: used up
  CHECK(f.emulator.admin("POST", "/faults", {{"type", "throttle"}, {"skip", -1}}).status == 400);
}

TEST_CASE("a fault for one registration id leaves other devices alone") {
  Fixture f;
  f.fault({{"type", "serverError"}, {"registrationId", "fault-device"}});
  CHECK(f.put("calm-device").status == 202);
  CHECK(f.put("fault-device").status == 500);
  CHECK(f.emulator.admin("GET", "/faults").json().empty());
}

TEST_CASE("a close-mid-body fault truncates the reply (curl: transfer closed with bytes remaining)") {
  Fixture f;
  f.fault({{"type", "closeMidBody"}});
  auto r = f.put();
  CHECK(r.curl_exit == 18);
  CHECK(r.output.find("bytes remaining") != std::string::npos);
}

TEST_CASE("a stall fault never answers within the client's timeout") {
  Fixture f;
  f.fault({{"type", "stall"}, {"stallSeconds", 3}});
  auto r = f.put("fault-device", {"--max-time", "1"});
  CHECK(r.curl_exit == 28);
  CHECK(r.status == 0);
  CHECK(f.put().status == 202);
}

TEST_CASE("malformed JSON and missing-field faults send bodies a client cannot use") {
  Fixture f;
  f.fault({{"type", "malformedJson"}});
  auto malformed = f.put();
  CHECK(malformed.status == 202);
  CHECK(malformed.json().is_discarded());
  f.fault({{"type", "missingFields"}});
  auto missing = f.put();
  CHECK(missing.status == 202);
  CHECK_FALSE(missing.json().contains("operationId"));
}

TEST_CASE("a TLS handshake failure fault aborts the handshake with an alert") {
  Fixture f;
  f.fault({{"type", "tlsHandshakeFailure"}});
  auto r = f.put();
  CHECK(r.curl_exit == 35);
  CHECK(r.output.find("handshake failure") != std::string::npos);
  CHECK(f.put().status == 202);
}

TEST_CASE("a probability fault strikes some requests and spares others") {
  Fixture f;
  f.fault({{"type", "serverError"}, {"probability", 0.5}});
  int failed = 0, passed = 0;
  for (int i = 0; i < 24; ++i) (f.put().status == 500 ? failed : passed)++;
  CHECK(failed > 0);
  CHECK(passed > 0);
}

TEST_CASE("MQTT faults: the connection drops right after CONNACK, and a QoS 1 publish is never acknowledged") {
  Fixture f;
  std::string token = openssl_sas(device_key, "fault-device", now_unix() + 600);
  std::vector<std::string> pub{"mosquitto_pub", "-d", "-V", "mqttv311", "-h", "localhost", "-p", std::to_string(f.emulator.mqtt_port()),
                               "--cafile", f.emulator.ca().string(), "-i", "fault-device",
                               "-u", std::string(id_scope) + "/registrations/fault-device/api-version=2021-06-01",
                               "-P", token, "-t", "$dps/registrations/PUT/iotdps-register/?$rid=1", "-q", "1",
                               "-m", R"({"registrationId":"fault-device"})"};
  f.fault({{"type", "mqttDropAfterConnack"}});
  auto dropped = run({.argv = pub}, 10s);
  CHECK(dropped.output.find("received CONNACK (0)") != std::string::npos);
  CHECK(dropped.output.find("received PUBACK") == std::string::npos);
  CHECK(dropped.status.code != 0);

  f.fault({{"type", "mqttNeverPuback"}});
  // mosquitto_pub waits for the PUBACK forever: stopped by timeout(1), its output unbuffered to survive that.
  std::vector<std::string> bounded{"timeout", "2", "stdbuf", "-o0", "-e0"};
  bounded.insert(bounded.end(), pub.begin(), pub.end());
  auto unacknowledged = run({.argv = bounded}, 10s);
  CHECK(unacknowledged.output.find("sending PUBLISH") != std::string::npos);
  CHECK(unacknowledged.output.find("received PUBACK") == std::string::npos);
  CHECK(unacknowledged.status.code == 124);

  auto normal = run({.argv = pub}, 10s);
  CHECK(normal.output.find("received PUBACK") != std::string::npos);
  CHECK(normal.status.code == 0);
}

TEST_CASE("a fault body with an unknown type is refused with the list of types") {
  Fixture f;
  auto r = f.emulator.admin("POST", "/faults", {{"type", "gremlins"}});
  CHECK(r.status == 400);
  CHECK(r.json()["message"].get<std::string>().find("throttle") != std::string::npos);
}
