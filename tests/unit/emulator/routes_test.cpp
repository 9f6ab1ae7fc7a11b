#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <boost/asio/io_context.hpp>

#include "emulator/admin_api.h"
#include "emulator/device_api.h"
#include "emulator/faults.h"
#include "emulator/replies.h"
#include "emulator/settings.h"

using namespace edgeprov;
using namespace edgeprov::emulator;
using nlohmann::json;

TEST_CASE("the two device paths route with URL-decoded segments and the api-version") {
  auto r = route_device_request("PUT", "/0ne00ABC123/registrations/dev%2d1/register?api-version=2021-06-01", "0ne00ABC123");
  CHECK(r.kind == DeviceRoute::Kind::register_device);
  CHECK(r.registration_id == "dev-1");
  auto s = route_device_request("GET", "/0ne00ABC123/registrations/dev-1/operations/4.a.b?foo=1&api-version=2019-03-31", "0ne00ABC123");
  CHECK(s.kind == DeviceRoute::Kind::operation_status);
  CHECK(s.operation_id == "4.a.b");
}

TEST_CASE("wrong paths, methods, scopes and api-versions are refused with the DPS status and code") {
  auto check = [](const char* method, const char* target, int status, int code) {
    auto r = route_device_request(method, target, "0ne00ABC123");
    CHECK(r.kind == DeviceRoute::Kind::invalid);
    CHECK(r.status == status);
    CHECK(r.error_code == code);
    CHECK_FALSE(r.message.empty());
  };
  check("PUT", "/", 404, 404000);
  check("PUT", "/0ne00ABC123/registrations/d/register/extra", 404, 404000);
  check("GET", "/0ne00ABC123/registrations/d/register?api-version=2021-06-01", 405, 405000);
  check("PUT", "/0ne00OTHER0/registrations/d/register?api-version=2021-06-01", 404, 404000);
  check("PUT", "/0ne00ABC123/registrations/d/register", 400, 400001);
  check("PUT", "/0ne00ABC123/registrations/d/register?api-version=2021-11-01-preview", 400, 400001);
  check("PUT", "/0ne00ABC123/registrations/%zz/register?api-version=2021-06-01", 400, 400004);
}

TEST_CASE("a DPS error body has errorCode, trackingId, message and timestampUtc; replies carry Retry-After on 202 only") {
  auto now = SystemTime(std::chrono::seconds(1700000000));
  auto body = error_body(401002, "Unauthorized", now);
  CHECK(body["errorCode"] == 401002);
  CHECK(body["message"] == "Unauthorized");
  CHECK(body["timestampUtc"] == "2023-11-14T22:13:20.000Z");
  CHECK(body["trackingId"].get<std::string>().size() == 36);
  CHECK(assigning_reply("op", 3).retry_after == 3);
  CHECK(json::parse(assigning_reply("op", 3).body) == json{{"operationId", "op"}, {"status", "assigning"}});
  auto challenge = json::parse(tpm_challenge_reply("QUJD").body);
  CHECK(challenge == json{{"authenticationKey", "QUJD"}, {"keyName", "registration"}});
  CHECK_FALSE(final_poll_reply("op", {{"status", "assigned"}}).retry_after);
}

TEST_CASE("faults strike the requests they match, count down, and are removed when spent") {
  FaultTable faults;
  std::string error;
  REQUIRE(faults.add({{"type", "throttle"}, {"count", 2}, {"registrationId", "Dev-1"}, {"retryAfter", 9}}, error));
  CHECK_FALSE(faults.take(FaultPoint::request, Transport::https, "dev-2"));
  CHECK_FALSE(faults.take(FaultPoint::handshake, Transport::https, ""));
  auto hit = faults.take(FaultPoint::request, Transport::mqtt, "dev-1");
  REQUIRE(hit);
  auto reply = fault_reply(*hit, false, SystemTime{});
  CHECK(reply.status == 429);
  CHECK(reply.retry_after == 9);
  CHECK(faults.take(FaultPoint::request, Transport::https, "DEV-1"));
  CHECK_FALSE(faults.take(FaultPoint::request, Transport::https, "dev-1"));
  CHECK(faults.list().empty());
  CHECK_FALSE(faults.add({{"type", "tlsHandshakeFailure"}, {"registrationId", "x"}}, error));
  CHECK_FALSE(faults.add({{"type", "stall"}, {"probability", 2}}, error));
  REQUIRE(faults.add({{"type", "mqttNeverPuback"}}, error));
  CHECK_FALSE(faults.take(FaultPoint::mqtt_publish, Transport::https, "x"));
  CHECK(faults.take(FaultPoint::mqtt_publish, Transport::mqtt, "x"));
}

TEST_CASE("the admin routes reach enrollments, groups, registrations, faults and the hub SAS check") {
  ProvisioningService service(ServiceOptions{});
  FaultTable faults;
  DeviceGate gate;
  AdminInfo info{"a", "b", "c", "/ca.pem"};
  json enrollment = {{"attestation", {{"type", "symmetricKey"}}}};
  CHECK(route_admin_request(service, faults, gate, info, "PUT", "/enrollments/d1?api-version=2021-10-01", enrollment.dump()).status == 201);
  CHECK(route_admin_request(service, faults, gate, info, "GET", "/enrollments", "").body.size() == 1);
  CHECK(route_admin_request(service, faults, gate, info, "PUT", "/enrollments/d1", "{not json").status == 400);
  CHECK(route_admin_request(service, faults, gate, info, "POST", "/enrollments/d1", "{}").status == 405);
  CHECK(route_admin_request(service, faults, gate, info, "POST", "/faults", R"({"type":"stall"})").status == 201);
  CHECK(route_admin_request(service, faults, gate, info, "DELETE", "/faults/1", "").status == 204);
  CHECK(route_admin_request(service, faults, gate, info, "POST", "/hubSasCheck", R"({"token":"nope"})").body["valid"] == false);
  CHECK(route_admin_request(service, faults, gate, info, "GET", "/", "").body["caCertificate"] == "/ca.pem");
  CHECK(route_admin_request(service, faults, gate, info, "GET", "/elsewhere", "").status == 404);
}

namespace {

// The message apply_config_file throws for `text`, or "" when it takes it.
std::string error_of(const std::string& text) {
  Settings settings;
  try {
    apply_config_file(settings, text, "emulator.toml");
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("a config file sets addresses, hubs and timings; unknown keys and bad values name the key") {
  Settings s;
  apply_config_file(s, R"(
https = "127.0.0.1:9443"
admin = ":9080"
id_scope = "0ne00CONF00"
iot_hubs = ["h1.azure-devices.net", "h2.azure-devices.net"]
allocation_policy = "static"
assigning_polls = 2
retry_after_seconds = 4
[[enrollments]]
registrationId = "d1"
attestation = { type = "symmetricKey" }
)", "emulator.toml");
  CHECK(s.https.port == 9443);
  CHECK(s.admin.address == "127.0.0.1");
  CHECK(s.service.id_scope == "0ne00CONF00");
  CHECK(s.service.iot_hubs.size() == 2);
  CHECK(s.service.default_policy == AllocationPolicy::static_hub);
  CHECK(s.service.assigning_polls == 2);
  CHECK(s.service.retry_after_seconds == 4);
  REQUIRE(s.enrollments.size() == 1);
  CHECK(s.enrollments[0]["attestation"]["type"] == "symmetricKey");

  CHECK(error_of("htps = \"x\"").find("emulator.toml: htps: unknown key") != std::string::npos);
  CHECK(error_of("https = \"nowhere\"").find("https") != std::string::npos);
  CHECK(error_of("allocation_policy = \"random\"").find("allocation_policy") != std::string::npos);
  CHECK(error_of("https = ").find("emulator.toml:1") != std::string::npos);
}

TEST_CASE("a config file turns DPS's quotas on and sets the counters line's interval; bad values name the key") {
  Settings s;
  CHECK_FALSE(s.quotas.registrations);
  CHECK_FALSE(s.quotas.polls_per_device);
  apply_config_file(s, "registrations_per_minute = 120\npolls_per_device = \"5/10\"\nstats_interval_seconds = 0\n", "emulator.toml");
  CHECK(s.quotas.registrations == RateLimit{120, std::chrono::seconds(60)});
  CHECK(s.quotas.polls_per_device == RateLimit{5, std::chrono::seconds(10)});
  CHECK(s.stats_interval == std::chrono::seconds(0));
  CHECK_THAT(error_of("registrations_per_minute = 0"), Catch::Matchers::StartsWith("emulator.toml: registrations_per_minute: expected an integer"));
  CHECK_THAT(error_of("registrations_per_minute = \"60\""), Catch::Matchers::StartsWith("emulator.toml: registrations_per_minute"));
  CHECK_THAT(error_of("polls_per_device = 5"), Catch::Matchers::StartsWith("emulator.toml: polls_per_device: expected \"N/SECONDS\""));
  CHECK_THAT(error_of("polls_per_device = \"5 per 10\""), Catch::Matchers::StartsWith("emulator.toml: polls_per_device"));
  CHECK_THAT(error_of("stats_interval_seconds = -1"), Catch::Matchers::StartsWith("emulator.toml: stats_interval_seconds"));
}

TEST_CASE("an enrollment file holds [[enrollments]] and [[enrollmentGroups]] in the service-API shape") {
  auto file = parse_enrollment_file(R"(
[[enrollments]]
registrationId = "d1"
attestation = { type = "tpm", tpm = { endorsementKey = "AAAA" } }
[[enrollmentGroups]]
enrollmentGroupId = "g1"
attestation = { type = "symmetricKey", symmetricKey = { primaryKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" } }
)", "e.toml");
  CHECK(file.enrollments.size() == 1);
  CHECK(file.groups[0]["enrollmentGroupId"] == "g1");
  CHECK_THROWS_WITH(parse_enrollment_file("[enrollments]\nx=1", "e.toml"), "e.toml: enrollments: write each entry as a [[enrollments]] table");
  CHECK_THROWS(parse_enrollment_file("devices = 1", "e.toml"));
}

TEST_CASE("endpoints parse as ADDRESS:PORT, [IPv6]:PORT or :PORT") {
  CHECK(parse_endpoint("127.0.0.1:8443")->port == 8443);
  CHECK(parse_endpoint("[::1]:8443")->address == "::1");
  CHECK(parse_endpoint(":80")->address == "127.0.0.1");
  CHECK_FALSE(parse_endpoint("localhost"));
  CHECK_FALSE(parse_endpoint("1.2.3.4:70000"));
  CHECK_FALSE(parse_endpoint("1.2.3.4:http"));
}

TEST_CASE("JSON nesting depth is measured outside strings, so brackets in strings do not count") {
  CHECK_FALSE(json_nesting_exceeds(R"({"a":[[1]]})", 3));
  CHECK(json_nesting_exceeds(R"({"a":[[[1]]]})", 3));
  CHECK_FALSE(json_nesting_exceeds(R"({"a":"[[[[[[\"[[["})", 1));
  CHECK(json_nesting_exceeds(std::string(100, '['), 32));
}

TEST_CASE("a path segment that is not UTF-8 is answered with U+FFFD in its place, not by failing the request") {
  // Found by fuzzing (tests/fuzz, emulator_http): serialising the error message threw.
  ProvisioningService service(ServiceOptions{});
  FaultTable faults;
  DeviceGate gate;
  boost::asio::io_context io;
  ChangeSignal changes(io.get_executor());
  AdminInfo info{"a", "b", "c", "/ca.pem"};
  HttpRequest request;
  request.message.method(boost::beast::http::verb::delete_);
  request.message.target("/faults/\xf6x");
  const HttpAction action = make_admin_handler(service, faults, gate, changes, info)(request);
  CHECK(action.response.result_int() == 404);
  CHECK(json::parse(action.response.body())["message"] == "no fault '\xef\xbf\xbdx'");

  HttpRequest device;
  device.message.method(boost::beast::http::verb::put);
  device.message.target("/0ne%f6/registrations/d/register?api-version=2021-06-01");
  const HttpAction answer = make_device_handler(service, faults, gate)(device);
  CHECK(answer.response.result_int() == 404);
  CHECK_THAT(json::parse(answer.response.body())["message"].get<std::string>(),
             Catch::Matchers::ContainsSubstring("unknown ID scope '0ne\xef\xbf\xbd'"));
}
