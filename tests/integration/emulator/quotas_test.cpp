// DPS's quotas, outages and the counters of the emulator, judged from outside with curl, the openssl command
// line and mosquitto. No test sleeps: windows are crossed by advancing the emulator's admission clock, and the
// tests wait on the emulator's counters (GET /stats/wait).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "common/time.h"
#include "tests/integration/emulator/emulator_fixture.h"

using namespace edgeprov::test;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using nlohmann::json;

namespace {

const std::string device_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

std::string enrollments_for(std::initializer_list<const char*> ids) {
  std::string toml;
  for (const char* id : ids) {
    toml += std::string("[[enrollments]]\nregistrationId = \"") + id +
            "\"\nattestation = { type = \"symmetricKey\", symmetricKey = { primaryKey = \"" + device_key + "\" } }\n";
  }
  return toml;
}

// A symmetric-key device speaking HTTPS with curl, its SAS signed once by the openssl command line.
struct Device {
  const Emulator& emulator;
  std::string id;
  std::string token = openssl_sas(device_key, id, now_unix() + 3600);

  HttpResult register_https() const {
    auto body = emulator.dir() / ("body-" + id + ".json");
    write_file(body, json{{"registrationId", id}}.dump());
    return emulator.curl({"-X", "PUT", "-H", "Authorization: " + token, "-H", "Content-Type: application/json",
                          "--data-binary", "@" + body.string()},
                         emulator.device_url(id));
  }
  HttpResult poll_https(const std::string& operation) const {
    return emulator.curl({"-H", "Authorization: " + token}, emulator.device_url(id, "operations/" + operation));
  }
  std::string register_topic(int rid) const { return "$dps/registrations/PUT/iotdps-register/?$rid=" + std::to_string(rid); }
  std::string register_body() const { return json{{"registrationId", id}}.dump(); }
};

int retry_after_of(const HttpResult& r) {
  auto header = r.header("Retry-After");
  REQUIRE(header);
  return std::stoi(*header);
}

// DPS's error body: errorCode, a UUID trackingId, message, timestampUtc.
void check_dps_error(const json& body, int code) {
  INFO(body.dump());
  CHECK(body["errorCode"] == code);
  CHECK(body["trackingId"].get<std::string>().size() == 36);
  CHECK(edgeprov::parse_rfc3339(body["timestampUtc"].get<std::string>()));
  CHECK_FALSE(body["message"].get<std::string>().empty());
}

json payload_of(const std::string& line) { return json::parse(line.substr(line.find(' ') + 1), nullptr, false); }

std::uint64_t counter(const Emulator& emulator, const std::string& query, std::initializer_list<const char*> path) {
  json node = emulator.admin("GET", "/stats" + query).json();
  for (const char* key : path) node = node.at(key);
  return node.get<std::uint64_t>();
}

// Feeds `consumer` (a shell command that sends what it reads on one connection) `request`; once the emulator has
// counted it, starts a dropping outage and feeds it `request` again, until the emulator has counted that one as
// refused. Returns the consumer's output.
std::string request_outage_request(const Emulator& emulator, const std::string& registration_id, const std::string& transport,
                                   const std::string& request, const std::string& consumer) {
  return shell(R"(set -e
wait_for() { curl -sf "http://127.0.0.1:$ADMIN/stats/wait?registrationId=$ID&register.$TRANSPORT.$1=1&timeoutMs=10000" >/dev/null; }
{ printf '%s' "$REQUEST"
  wait_for accepted
  curl -sf -X POST -d '{"mode":"drop","durationSeconds":600}' "http://127.0.0.1:$ADMIN/outages" >/dev/null
  printf '%s' "$REQUEST"
  wait_for refused
} | timeout 20 )" + consumer + " || true",
               {{"ADMIN", std::to_string(emulator.admin_port())},
                {"ID", registration_id},
                {"TRANSPORT", transport},
                {"REQUEST", request}});
}

}  // namespace

TEST_CASE("past --registrations-per-minute, HTTPS register requests get DPS's 429 with the window's Retry-After, "
          "and get in once it has passed") {
  Emulator emulator({.enrollments_toml = enrollments_for({"quota-device", "other-device"}),
                     .extra_args = {"--registrations-per-minute", "2"}});
  Device device{emulator, "quota-device"}, other{emulator, "other-device"};
  auto started = std::chrono::steady_clock::now();
  REQUIRE(device.register_https().status == 202);
  REQUIRE(other.register_https().status == 202);
  auto throttled = device.register_https();
  auto elapsed = std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() - started);

  REQUIRE(throttled.status == 429);
  CHECK(throttled.header("Content-Type") == "application/json; charset=utf-8");
  const int first_wait = retry_after_of(throttled);
  // The first request leaves the 60 s window 60 s after it was let through, less the time gone since.
  CHECK(first_wait <= 60);
  CHECK(first_wait >= 60 - elapsed.count());
  check_dps_error(throttled.json(), 429001);
  CHECK_THAT(throttled.json()["message"].get<std::string>(),
             ContainsSubstring("2 device registrations in any 60 seconds") &&
                 ContainsSubstring("retry after " + std::to_string(first_wait) + " seconds"));
  CHECK_THAT(emulator.output(), ContainsSubstring("event=throttled quota=registrations limit=2/60 retryAfter=" +
                                                  std::to_string(first_wait) +
                                                  " transport=https kind=register registrationId=quota-device"));
  CHECK(emulator.admin("GET", "/quotas").json()["registrationsInWindow"] == 2);

  // Half the window later the wait is shorter by as much; once it has passed, the request gets in.
  REQUIRE(emulator.admin("POST", "/clock/advance", {{"seconds", 30}}).status == 200);
  auto later = device.register_https();
  REQUIRE(later.status == 429);
  const int second_wait = retry_after_of(later);
  CHECK(second_wait >= 1);
  CHECK(second_wait <= first_wait - 30);
  REQUIRE(emulator.admin("POST", "/clock/advance", {{"seconds", second_wait}}).status == 200);
  CHECK(device.register_https().status == 202);

  auto stats = emulator.admin("GET", "/stats?registrationId=quota-device").json();
  CHECK(stats["register"]["https"] == json{{"accepted", 2}, {"throttled", 2}, {"refused", 0}, {"total", 4}});
  CHECK(emulator.admin("GET", "/stats").json()["requests"]["throttled"] == 2);
  emulator.stop();
  CHECK_THAT(emulator.output(), ContainsSubstring("event=stats accepted=3 throttled=2 refused=0 register.accepted=3"));
}

TEST_CASE("over MQTT the register past the quota is answered on res/429 with retry-after and DPS's error body; "
          "HTTPS and MQTT share the instance's quota") {
  Emulator emulator({.enrollments_toml = enrollments_for({"mqtt-quota"}), .extra_args = {"--registrations-per-minute", "1"}});
  Device device{emulator, "mqtt-quota"};
  auto lines = emulator.mqtt_exchange(device.id, device.token,
                                      {{device.register_topic(1), device.register_body()},
                                       {device.register_topic(2), device.register_body()}},
                                      2);
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], StartsWith("$dps/registrations/res/202/?$rid=1&retry-after=1 "));
  CHECK_THAT(lines[1], StartsWith("$dps/registrations/res/429/?$rid=2&retry-after="));
  const std::string topic = lines[1].substr(0, lines[1].find(' '));
  const int wait = std::stoi(topic.substr(topic.find("retry-after=") + 12));
  CHECK(wait >= 1);
  CHECK(wait <= 60);
  json body = payload_of(lines[1]);
  check_dps_error(body, 429001);
  CHECK_THAT(body["message"].get<std::string>(), ContainsSubstring("retry after " + std::to_string(wait) + " seconds"));
  CHECK_THAT(emulator.output(), ContainsSubstring("transport=mqtt kind=register registrationId=mqtt-quota"));

  auto over_https = device.register_https();
  CHECK(over_https.status == 429);
  auto stats = emulator.admin("GET", "/stats?registrationId=mqtt-quota").json();
  CHECK(stats["register"]["mqtt"]["accepted"] == 1);
  CHECK(stats["register"]["mqtt"]["throttled"] == 1);
  CHECK(stats["register"]["https"]["throttled"] == 1);
}

TEST_CASE("with --polls-per-device 5/10 a device's sixth poll in ten seconds is throttled over either transport, and no "
          "other device's") {
  Emulator emulator({.enrollments_toml = enrollments_for({"poller", "quiet"}), .extra_args = {"--polls-per-device", "5/10"}});
  Device poller{emulator, "poller"}, quiet{emulator, "quiet"};
  auto registered = poller.register_https();
  REQUIRE(registered.status == 202);
  std::string operation = registered.json()["operationId"];
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) CHECK(poller.poll_https(operation).status == 200);
  auto sixth = poller.poll_https(operation);
  auto elapsed = std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  REQUIRE(sixth.status == 429);
  CHECK(retry_after_of(sixth) <= 10);
  CHECK(retry_after_of(sixth) >= 10 - elapsed.count());
  check_dps_error(sixth.json(), 429001);
  CHECK_THAT(sixth.json()["message"].get<std::string>(), ContainsSubstring("5 operation status polls per device in any 10 seconds"));

  // The same device over MQTT: still throttled; registering is not polling.
  auto lines = emulator.mqtt_exchange(
      poller.id, poller.token,
      {{"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7&operationId=" + operation, "{}"},
       {poller.register_topic(8), poller.register_body()}},
      2);
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], StartsWith("$dps/registrations/res/429/?$rid=7&retry-after="));
  check_dps_error(payload_of(lines[0]), 429001);
  CHECK_THAT(lines[1], StartsWith("$dps/registrations/res/202/?$rid=8"));

  auto other = quiet.register_https();
  REQUIRE(other.status == 202);
  CHECK(quiet.poll_https(other.json()["operationId"]).status == 200);

  // Past the window the device may poll again.
  REQUIRE(emulator.admin("POST", "/clock/advance", {{"seconds", 10}}).status == 200);
  CHECK(poller.poll_https(operation).status == 200);
  CHECK(counter(emulator, "?registrationId=poller", {"poll", "throttled"}) == 2);
  CHECK(counter(emulator, "?registrationId=quiet", {"poll", "throttled"}) == 0);
}

TEST_CASE("quotas set through the admin API at run time apply at once, and turned off they stop") {
  Emulator emulator({.enrollments_toml = enrollments_for({"late-quota"})});
  Device device{emulator, "late-quota"};
  CHECK(emulator.admin("GET", "/quotas").json()["registrationsPerMinute"].is_null());
  REQUIRE(device.register_https().status == 202);
  auto set = emulator.admin("PUT", "/quotas", {{"registrationsPerMinute", 1}, {"pollsPerDevice", "5/10"}});
  REQUIRE(set.status == 200);
  CHECK(set.json()["pollsPerDevice"] == "5/10");
  REQUIRE(device.register_https().status == 202);
  CHECK(device.register_https().status == 429);
  REQUIRE(emulator.admin("PUT", "/quotas", json::object()).status == 200);
  CHECK(device.register_https().status == 202);
  auto refused = emulator.admin("PUT", "/quotas", {{"registrationsPerMinute", -1}});
  CHECK(refused.status == 400);
  CHECK_THAT(refused.json()["message"].get<std::string>(), ContainsSubstring("registrationsPerMinute"));
}

TEST_CASE("during a refusing outage every request gets 503 ServiceUnavailable and MQTT connects get CONNACK 3; "
          "cancelled, the service is back") {
  Emulator emulator({.enrollments_toml = enrollments_for({"outage-device"})});
  Device device{emulator, "outage-device"};
  auto registered = device.register_https();
  REQUIRE(registered.status == 202);
  auto outage = emulator.admin("POST", "/outages", {{"durationSeconds", 600}, {"retryAfter", 5}});
  REQUIRE(outage.status == 201);
  CHECK(outage.json()["inForce"] == true);
  CHECK(outage.json()["mode"] == "refuse");

  auto put = device.register_https();
  CHECK(put.status == 503);
  CHECK(retry_after_of(put) == 5);
  check_dps_error(put.json(), 503000);
  auto poll = device.poll_https(registered.json()["operationId"]);
  CHECK(poll.status == 503);
  CHECK_THAT(emulator.output(),
             ContainsSubstring("event=refused outage=1 retryAfter=5 transport=https kind=register registrationId=outage-device"));

  auto pub = emulator.mosquitto("mosquitto_pub", device.id, device.token);
  pub.insert(pub.end(), {"-t", device.register_topic(1), "-q", "1", "-m", device.register_body()});
  auto refused = run({.argv = pub}, 10s);
  CHECK(refused.status.code != 0);
  CHECK_THAT(refused.output, ContainsSubstring("unavailable"));
  CHECK_THAT(emulator.output(), ContainsSubstring("mqtt connect outage-device refused (3)"));

  auto stats = emulator.admin("GET", "/stats").json();
  CHECK(stats["register"]["https"]["refused"] == 1);
  CHECK(stats["poll"]["https"]["refused"] == 1);
  CHECK(stats["connections"]["mqtt"]["refused"] == 1);

  REQUIRE(emulator.admin("DELETE", "/outages/1").status == 204);
  CHECK(device.register_https().status == 202);
  auto run_again = run({.argv = pub}, 10s);
  CHECK(run_again.status.code == 0);
}

TEST_CASE("a dropping outage scheduled to start later resets HTTPS and MQTT connections while in force, and ends "
          "by itself") {
  Emulator emulator({.enrollments_toml = enrollments_for({"dropped-device"})});
  Device device{emulator, "dropped-device"};
  auto outage = emulator.admin("POST", "/outages", {{"mode", "drop"}, {"durationSeconds", 60}, {"startInSeconds", 30}});
  REQUIRE(outage.status == 201);
  CHECK(outage.json()["inForce"] == false);
  CHECK(device.register_https().status == 202);

  REQUIRE(emulator.admin("POST", "/clock/advance", {{"seconds", 30}}).status == 200);
  auto reset = device.register_https();
  CHECK(reset.status == 0);
  CHECK(reset.curl_exit != 0);
  // The TLS handshake on the MQTT port meets a reset (openssl: mosquitto_pub spins on it until killed).
  auto handshake = run({.argv = {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(emulator.mqtt_port()),
                                 "-CAfile", emulator.ca().string()},
                        .stdin_text = ""},
                       10s);
  CHECK(handshake.status.code != 0);
  CHECK_THAT(handshake.output, ContainsSubstring("errno=104"));  // ECONNRESET
  auto connections = emulator.admin("GET", "/stats").json()["connections"];
  CHECK(connections["https"]["dropped"] == 1);
  CHECK(connections["mqtt"]["dropped"] == 1);
  CHECK_THAT(emulator.output(), ContainsSubstring("event=connection-dropped outage=1 transport=https"));
  CHECK_THAT(emulator.output(), ContainsSubstring("event=connection-dropped outage=1 transport=mqtt"));

  REQUIRE(emulator.admin("POST", "/clock/advance", {{"seconds", 60}}).status == 200);
  CHECK(emulator.admin("GET", "/outages").json().empty());
  CHECK(device.register_https().status == 202);
  auto pub = emulator.mosquitto("mosquitto_pub", device.id, device.token);
  pub.insert(pub.end(), {"-t", device.register_topic(1), "-q", "1", "-m", device.register_body()});
  CHECK(run({.argv = pub}, 10s).status.code == 0);
}

TEST_CASE("a dropping outage that starts while a connection is open resets it at its next request, HTTPS and MQTT") {
  Emulator emulator({.enrollments_toml = enrollments_for({"open-device"})});
  Device device{emulator, "open-device"};
  const std::string body = device.register_body();
  const std::string request = "PUT /" + std::string(id_scope) + "/registrations/open-device/register?api-version=2021-06-01 HTTP/1.1\r\n"
                              "Host: localhost\r\nAuthorization: " + device.token +
                              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body;
  // One TLS connection: the first request is answered; the second resets the connection, which ends s_client.
  auto out = request_outage_request(emulator, device.id, "https", request,
                                    "openssl s_client -quiet -CAfile '" + emulator.ca().string() + "' -connect 127.0.0.1:" +
                                        std::to_string(emulator.https_port()) + " -servername localhost 2>/dev/null");
  CHECK(out.find("HTTP/1.1 202 Accepted") != std::string::npos);
  CHECK(out.find("HTTP/1.1", out.find("HTTP/1.1 202") + 1) == std::string::npos);
  CHECK_THAT(emulator.output(), ContainsSubstring("event=dropped outage=1 transport=https kind=register registrationId=open-device"));
  CHECK_THAT(emulator.output(), ContainsSubstring("https register open-device connection reset (outage)"));
  REQUIRE(emulator.admin("DELETE", "/outages").status == 204);

  // MQTT: mosquitto_pub -l publishes each line of its input on one connection.
  auto pub = emulator.mosquitto("mosquitto_pub", device.id, device.token);
  pub.insert(pub.end(), {"-t", device.register_topic(1), "-q", "1", "-l"});
  std::string command;
  for (const auto& arg : pub) command += " '" + arg + "'";
  request_outage_request(emulator, device.id, "mqtt", body + "\n", command + " >/dev/null 2>&1");
  CHECK(counter(emulator, "?registrationId=open-device", {"register", "mqtt", "refused"}) == 1);
  CHECK_THAT(emulator.output(), ContainsSubstring("mqtt register open-device connection closed (outage)"));
}

TEST_CASE("GET /stats/wait answers once a device's counter reaches its target, and 408 with the counters at its "
          "timeout") {
  Emulator emulator({.enrollments_toml = enrollments_for({"awaited"})});
  Device device{emulator, "awaited"};
  Process waiter({.argv = {"curl", "-sS", "-w", "\n%{http_code}",
                           "http://127.0.0.1:" + std::to_string(emulator.admin_port()) +
                               "/stats/wait?registrationId=awaited&register.https.accepted=2&timeoutMs=20000"},
                  .log_file = emulator.dir() / "waiter.log"});
  REQUIRE(device.register_https().status == 202);
  REQUIRE(emulator.wait_stats("registrationId=awaited&register.total=1").status == 200);
  CHECK_FALSE(waiter.wait(0ms));  // one register is not two
  REQUIRE(device.register_https().status == 202);
  auto done = waiter.wait(15s);
  REQUIRE(done);
  CHECK(done->code == 0);
  std::string out = waiter.output();
  CHECK(out.substr(out.rfind('\n') + 1) == "200");
  auto reached = json::parse(out.substr(0, out.rfind('\n')));
  CHECK(reached["registrationId"] == "awaited");
  CHECK(reached["register"]["https"]["accepted"] == 2);

  auto timed_out = emulator.wait_stats("registrationId=awaited&poll.total=1", 200ms);
  CHECK(timed_out.status == 408);
  CHECK(timed_out.json()["errorCode"] == 408000);
  CHECK(timed_out.json()["stats"]["register"]["total"] == 2);
  auto bad = emulator.wait_stats("registrationId=awaited&register.totl=1");
  CHECK(bad.status == 400);
  CHECK_THAT(bad.json()["message"].get<std::string>(), ContainsSubstring("register.totl"));
}

TEST_CASE("a malformed quota flag stops the emulator with the flag, the value and the expected form") {
  auto r = run({.argv = {(bin_dir() / "dps-emulator").string(), "--polls-per-device", "5"}}, 10s);
  CHECK(r.status.code == 1);
  CHECK_THAT(r.output, ContainsSubstring("--polls-per-device '5': expected N/SECONDS, e.g. 5/10"));
  auto zero = run({.argv = {(bin_dir() / "dps-emulator").string(), "--registrations-per-minute", "0"}}, 10s);
  CHECK(zero.status.code != 0);
  CHECK_THAT(zero.output, ContainsSubstring("--registrations-per-minute"));
}
