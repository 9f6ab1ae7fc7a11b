// The device gate (outages, quotas, counters) on a fake clock, its admin API, and the device's reply parser
// reading what it answers.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "dps/reply.h"
#include "emulator/admin_api.h"
#include "emulator/device_gate.h"
#include "emulator/gate_admin.h"

using namespace edgeprov;
using namespace edgeprov::emulator;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

struct FakeClocks {
  AdmissionTime now = AdmissionTime{} + 1000h;
  SystemTime wall = SystemTime(std::chrono::seconds(1700000000));
  GateOptions options(QuotaSettings quotas = {}) {
    return GateOptions{quotas, [this] { return now; }, [this] { return wall; }};
  }
  void advance(std::chrono::nanoseconds by) {
    now += by;
    wall += std::chrono::duration_cast<SystemTime::duration>(by);
  }
};

DeviceReply answer(const GateDecision& decision) {
  REQUIRE(std::holds_alternative<Answer>(decision));
  return std::get<Answer>(decision).reply;
}

AdminResult admin(DeviceGate& gate, const char* method, const std::string& target, const json& body = nullptr) {
  ProvisioningService service(ServiceOptions{});
  FaultTable faults;
  AdminInfo info{"a", "b", "c", "/ca.pem"};
  return route_admin_request(service, faults, gate, info, method, target, body.is_null() ? "" : body.dump());
}

}  // namespace

TEST_CASE("with no quota and no outage the gate passes every request and counts it as accepted") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options());
  for (int i = 0; i < 3; ++i) CHECK(std::holds_alternative<Pass>(gate.admit(Transport::https, RequestKind::register_device, "Dev-1")));
  CHECK(std::holds_alternative<Pass>(gate.admit(Transport::mqtt, RequestKind::operation_status, "dev-1")));
  CHECK(gate.counts().all() == OutcomeCounts{4, 0, 0});
  CHECK(gate.counts("DEV-1").of(RequestKind::register_device, Transport::https).accepted == 3);
  CHECK_FALSE(gate.drop_connection(Transport::https));
  CHECK_FALSE(gate.refuse_connect("dev-1"));
}

TEST_CASE("over the registration quota the gate answers DPS's 429 with the window's Retry-After") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options({RateLimit{2, 60s}, std::nullopt}));
  CHECK(std::holds_alternative<Pass>(gate.admit(Transport::https, RequestKind::register_device, "a")));
  clocks.advance(20s);
  CHECK(std::holds_alternative<Pass>(gate.admit(Transport::mqtt, RequestKind::register_device, "b")));
  clocks.advance(15500ms);
  const DeviceReply reply = answer(gate.admit(Transport::https, RequestKind::register_device, "c"));
  CHECK(reply.status == 429);
  CHECK(reply.retry_after == 25);  // the first leaves the window 24.5 s from now
  json body = json::parse(reply.body);
  CHECK(body["errorCode"] == 429001);
  CHECK(body["trackingId"].get<std::string>().size() == 36);
  CHECK(body["timestampUtc"] == "2023-11-14T22:13:55.500Z");
  CHECK_THAT(body["message"].get<std::string>(), ContainsSubstring("2 device registrations in any 60 seconds") &&
                                                     ContainsSubstring("retry after 25 seconds"));
  CHECK(gate.counts().of(RequestKind::register_device) == OutcomeCounts{2, 1, 0});
  CHECK(gate.counts("c").of(RequestKind::register_device, Transport::https).throttled == 1);
  CHECK(gate.registrations_in_window() == 2);
  // Polls are not registrations.
  CHECK(std::holds_alternative<Pass>(gate.admit(Transport::https, RequestKind::operation_status, "c")));
}

TEST_CASE("the device's reply parser reads the gate's 429 and 503 as transient, with their Retry-After") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options({RateLimit{1, 60s}, RateLimit{5, 10s}}));
  gate.admit(Transport::https, RequestKind::register_device, "a");
  const DeviceReply throttled = answer(gate.admit(Transport::https, RequestKind::register_device, "a"));
  auto parsed = dps::parse_reply(throttled.status, std::to_string(*throttled.retry_after), throttled.body);
  REQUIRE(std::holds_alternative<dps::Rejected>(parsed));
  const auto& rejected = std::get<dps::Rejected>(parsed);
  CHECK(rejected.cause == dps::RejectionCause::throttled);
  CHECK(rejected.transient);
  CHECK(rejected.error_code == 429001);
  CHECK(rejected.retry_after.delay == 60s);

  gate.add_outage(OutageMode::refuse, std::nullopt, 30s, 7s);
  const DeviceReply unavailable = answer(gate.admit(Transport::mqtt, RequestKind::operation_status, "a"));
  auto down = dps::parse_reply(unavailable.status, std::to_string(*unavailable.retry_after), unavailable.body);
  REQUIRE(std::holds_alternative<dps::Rejected>(down));
  CHECK(std::get<dps::Rejected>(down).cause == dps::RejectionCause::server_error);
  CHECK(std::get<dps::Rejected>(down).transient);
  CHECK(std::get<dps::Rejected>(down).error_code == 503000);
  CHECK(std::get<dps::Rejected>(down).retry_after.delay == 7s);
}

TEST_CASE("a refusing outage answers 503 to every request and CONNACK 3 to MQTT connects, then ends") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options({RateLimit{1, 60s}, std::nullopt}));
  OutageView view = gate.add_outage(OutageMode::refuse, std::nullopt, 10s, std::nullopt);
  CHECK(view.in_force);
  CHECK(view.end - view.start == 10s);
  const DeviceReply reply = answer(gate.admit(Transport::https, RequestKind::register_device, "a"));
  CHECK(reply.status == 503);
  CHECK_FALSE(reply.retry_after);
  CHECK(json::parse(reply.body)["errorCode"] == 503000);
  CHECK(gate.refuse_connect("a"));
  CHECK_FALSE(gate.drop_connection(Transport::mqtt));
  CHECK(gate.counts().of(RequestKind::register_device) == OutcomeCounts{0, 0, 1});
  CHECK(gate.connections().mqtt_refused == 1);
  // A refused request used no quota.
  clocks.advance(10s);
  CHECK(std::holds_alternative<Pass>(gate.admit(Transport::https, RequestKind::register_device, "a")));
  CHECK(gate.outages().empty());
}

TEST_CASE("a dropping outage resets connections and drops requests; it can start later and be cancelled") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options());
  OutageView view = gate.add_outage(OutageMode::drop, clocks.wall + 30s, 60s, std::nullopt);
  CHECK_FALSE(view.in_force);
  CHECK(view.start == clocks.wall + 30s);
  CHECK(std::holds_alternative<Pass>(gate.admit(Transport::https, RequestKind::register_device, "a")));
  clocks.advance(30s);
  CHECK(std::holds_alternative<Drop>(gate.admit(Transport::mqtt, RequestKind::register_device, "a")));
  CHECK(gate.drop_connection(Transport::https));
  CHECK_FALSE(gate.refuse_connect("a"));
  CHECK(gate.connections() == ConnectionCounts{1, 0, 0});
  CHECK(gate.counts("a").of(RequestKind::register_device, Transport::mqtt).refused == 1);
  REQUIRE(gate.outages().size() == 1);
  CHECK(gate.outages()[0].in_force);
  CHECK(gate.cancel_outage(view.outage.id));
  CHECK(std::holds_alternative<Pass>(gate.admit(Transport::mqtt, RequestKind::register_device, "a")));
}

TEST_CASE("advancing the gate's clock moves quota windows and outages, not the wall clock") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options({std::nullopt, RateLimit{1, 10s}}));
  gate.admit(Transport::https, RequestKind::operation_status, "a");
  CHECK(answer(gate.admit(Transport::https, RequestKind::operation_status, "a")).retry_after == 10);
  gate.advance_clock(4s);
  CHECK(answer(gate.admit(Transport::https, RequestKind::operation_status, "a")).retry_after == 6);
  gate.advance_clock(6s);
  CHECK(std::holds_alternative<Pass>(gate.admit(Transport::https, RequestKind::operation_status, "a")));
  CHECK(gate.clock_offset() == 10s);
  gate.add_outage(OutageMode::refuse, std::nullopt, 5s, std::nullopt);
  gate.advance_clock(5s);
  CHECK(gate.outages().empty());
}

TEST_CASE("the admin API sets and shows quotas, refusing malformed ones with the fix") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options());
  auto shown = admin(gate, "GET", "/quotas");
  CHECK(shown.body == json{{"registrationsPerMinute", nullptr}, {"pollsPerDevice", nullptr}, {"registrationsInWindow", 0}});
  auto set = admin(gate, "PUT", "/quotas", {{"registrationsPerMinute", 120}, {"pollsPerDevice", "5/10"}});
  CHECK(set.status == 200);
  CHECK(set.body["registrationsPerMinute"] == 120);
  CHECK(set.body["pollsPerDevice"] == "5/10");
  CHECK(gate.quotas() == QuotaSettings{RateLimit{120, 60s}, RateLimit{5, 10s}});
  CHECK(admin(gate, "PUT", "/quotas", {{"pollsPerDevice", "5/10"}}).body["registrationsPerMinute"].is_null());
  for (json bad : {json{{"registrationsPerMinute", 0}}, json{{"registrationsPerMinute", "60"}}, json{{"pollsPerDevice", "5"}},
                   json{{"registrationsPerMinut", 60}}, json::array()}) {
    INFO(bad.dump());
    auto r = admin(gate, "PUT", "/quotas", bad);
    CHECK(r.status == 400);
    CHECK_FALSE(r.body["message"].get<std::string>().empty());
  }
  CHECK(admin(gate, "POST", "/quotas", json::object()).status == 405);
}

TEST_CASE("the admin API schedules, lists and cancels outages, refusing malformed ones with the fix") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options());
  auto now = admin(gate, "POST", "/outages", {{"durationSeconds", 600}, {"retryAfter", 30}});
  CHECK(now.status == 201);
  CHECK(now.body["id"] == 1);
  CHECK(now.body["mode"] == "refuse");
  CHECK(now.body["inForce"] == true);
  CHECK(now.body["start"] == "2023-11-14T22:13:20.000Z");
  CHECK(now.body["end"] == "2023-11-14T22:23:20.000Z");
  CHECK(now.body["retryAfter"] == 30);
  auto later = admin(gate, "POST", "/outages", {{"mode", "drop"}, {"durationSeconds", 60}, {"start", "2023-11-14T23:00:00Z"}});
  CHECK(later.status == 201);
  CHECK(later.body["inForce"] == false);
  CHECK(later.body["retryAfter"].is_null());
  CHECK(admin(gate, "GET", "/outages").body.size() == 2);
  CHECK(admin(gate, "DELETE", "/outages/1").status == 204);
  CHECK(admin(gate, "DELETE", "/outages/1").status == 404);
  CHECK(admin(gate, "GET", "/outages").body.size() == 1);
  CHECK(admin(gate, "DELETE", "/outages").status == 204);
  CHECK(admin(gate, "GET", "/outages").body.empty());
  for (json bad : {json::object(), json{{"durationSeconds", 0}}, json{{"durationSeconds", 60}, {"mode", "off"}},
                   json{{"durationSeconds", 60}, {"start", "tomorrow"}},
                   json{{"durationSeconds", 60}, {"start", "2023-11-14T23:00:00Z"}, {"startInSeconds", 5}},
                   json{{"durationSeconds", 60}, {"mode", "drop"}, {"retryAfter", 5}},
                   json{{"durationSeconds", 60}, {"retryAfter", 0}}, json{{"durationSeconds", 60}, {"colour", "red"}}}) {
    INFO(bad.dump());
    auto r = admin(gate, "POST", "/outages", bad);
    CHECK(r.status == 400);
    CHECK_FALSE(r.body["message"].get<std::string>().empty());
  }
}

TEST_CASE("GET /stats shows counters in total and per registration id; DELETE /stats resets them") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options({RateLimit{1, 60s}, std::nullopt}));
  gate.admit(Transport::https, RequestKind::register_device, "Dev-1");
  gate.admit(Transport::mqtt, RequestKind::register_device, "dev-1");
  gate.admit(Transport::mqtt, RequestKind::operation_status, "dev-2");
  auto total = admin(gate, "GET", "/stats").body;
  CHECK(total["requests"] == json{{"accepted", 2}, {"throttled", 1}, {"refused", 0}, {"total", 3}});
  CHECK(total["register"]["mqtt"]["throttled"] == 1);
  CHECK(total["register"]["total"] == 2);
  CHECK(total["poll"]["mqtt"]["accepted"] == 1);
  CHECK(total["connections"]["https"]["dropped"] == 0);
  CHECK_FALSE(total.contains("registrationId"));
  auto one = admin(gate, "GET", "/stats?registrationId=DEV-1").body;
  CHECK(one["registrationId"] == "DEV-1");
  CHECK(one["register"]["https"]["accepted"] == 1);
  CHECK(one["register"]["mqtt"]["throttled"] == 1);
  CHECK(one["poll"]["total"] == 0);
  CHECK_FALSE(one.contains("connections"));
  CHECK(admin(gate, "GET", "/stats?registrationId=nobody").body["requests"]["total"] == 0);
  CHECK(admin(gate, "DELETE", "/stats").status == 204);
  CHECK(admin(gate, "GET", "/stats").body["requests"]["total"] == 0);
}

TEST_CASE("a stats wait names counters by their path in /stats; bad names, values and timeouts are refused") {
  auto parse = [](const std::string& target) { return parse_stats_wait(*parse_query(target)); };
  auto wait = parse("/stats/wait?registrationId=dev%2D1&register.total=2&poll.mqtt.throttled=1&timeoutMs=2500");
  REQUIRE(std::holds_alternative<StatsWait>(wait));
  const auto& w = std::get<StatsWait>(wait);
  CHECK(w.registration_id == "dev-1");
  CHECK(w.timeout == 2500ms);
  REQUIRE(w.conditions.size() == 2);
  CHECK(w.conditions[0] == std::pair<std::string, std::uint64_t>{"register.total", 2});

  json document = {{"register", {{"total", 2}}}, {"poll", {{"mqtt", {{"throttled", 0}}}}}};
  CHECK_FALSE(stats_reached(document, w));
  document["poll"]["mqtt"]["throttled"] = 1;
  CHECK(stats_reached(document, w));

  CHECK(std::holds_alternative<StatsWait>(parse("/stats/wait?connections.mqtt.refused=1")));
  // A group stands for its total.
  auto total = parse("/stats/wait?registrationId=dev-1&register=2");
  REQUIRE(std::holds_alternative<StatsWait>(total));
  CHECK(stats_reached(document, std::get<StatsWait>(total)));
  document["register"]["total"] = 1;
  CHECK_FALSE(stats_reached(document, std::get<StatsWait>(total)));
  for (const char* bad : {"/stats/wait", "/stats/wait?registrationId=x", "/stats/wait?connections=2",
                          "/stats/wait?register.total=two", "/stats/wait?registrationId=x&connections.https.dropped=1",
                          "/stats/wait?register.total=1&timeoutMs=0", "/stats/wait?register.total=1&timeoutMs=600001",
                          "/stats/wait?registrationId=&register.total=1"}) {
    INFO(bad);
    auto r = parse(bad);
    REQUIRE(std::holds_alternative<AdminResult>(r));
    CHECK(std::get<AdminResult>(r).status == 400);
  }
  CHECK_FALSE(parse_query("/stats?registrationId=%zz"));
}

TEST_CASE("through the routes, a stats wait is judged at once: 200 when reached, 408 when not") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options());
  CHECK(admin(gate, "GET", "/stats/wait?registrationId=a&register.accepted=1").status == 408);
  gate.admit(Transport::https, RequestKind::register_device, "a");
  auto reached = admin(gate, "GET", "/stats/wait?registrationId=a&register.accepted=1");
  CHECK(reached.status == 200);
  CHECK(reached.body["register"]["accepted"] == 1);
  CHECK(admin(gate, "POST", "/stats/wait?register.total=1", json::object()).status == 405);
}

TEST_CASE("POST /clock/advance moves the gate's clock and GET /clock shows the offset") {
  FakeClocks clocks;
  DeviceGate gate(clocks.options());
  CHECK(admin(gate, "GET", "/clock").body["offsetSeconds"] == 0);
  CHECK(admin(gate, "POST", "/clock/advance", {{"seconds", 90}}).body["offsetSeconds"] == 90);
  CHECK(gate.clock_offset() == 90s);
  CHECK(admin(gate, "POST", "/clock/advance", {{"seconds", -5}}).status == 400);
  CHECK(admin(gate, "POST", "/clock/advance", json::object()).status == 400);
}
