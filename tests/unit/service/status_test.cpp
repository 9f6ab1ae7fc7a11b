#include <cerrno>
#include <set>
#include <system_error>

#include <catch2/catch_test_macros.hpp>

#include "service/status.h"

using namespace edgeprov;
using namespace edgeprov::service;
using nlohmann::json;

namespace {

SystemTime at(std::string_view text) { return *parse_rfc3339(text); }

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

config::Config tpm_config() {
  config::Config c;
  c.provisioning.global_endpoint = "https://global.azure-devices-provisioning.net/";
  c.provisioning.id_scope = "0ne00000A0A";
  c.provisioning.attestation.method = config::AttestationMethod::tpm;
  c.tpm.tcti = "swtpm:host=127.0.0.1,port=2321";
  return c;
}

StatusSnapshot starting() {
  StatusSnapshot s;
  s.state = State::starting;
  s.since = at("2026-11-29T04:31:10Z");
  s.provisioning = settings_from(tpm_config());
  s.tpm.tcti = "swtpm:host=127.0.0.1,port=2321";
  return s;
}

const ServiceInfo service_info{.version = "0.1.0", .pid = 4242, .uptime = std::chrono::seconds(42)};

}  // namespace

TEST_CASE("a starting status has every documented field, absent values null") {
  const json j = to_json(starting(), service_info);

  CHECK(keys_of(j) == std::set<std::string>{"state", "since", "source", "provisioning", "assignment", "lastAttempt",
                                            "nextAttemptAt", "attempts", "tpm", "service"});
  CHECK(j["state"] == "starting");
  CHECK(j["since"] == "2026-11-29T04:31:10Z");
  CHECK(j["source"].is_null());
  CHECK(j["assignment"].is_null());
  CHECK(j["lastAttempt"].is_null());
  CHECK(j["nextAttemptAt"].is_null());
  CHECK(j["attempts"] == 0);

  CHECK(j["provisioning"] == json{{"globalEndpoint", "https://global.azure-devices-provisioning.net/"},
                                  {"idScope", "0ne00000A0A"},
                                  {"registrationId", nullptr},
                                  {"attestation", "tpm"},
                                  {"transport", "https"}});
  CHECK(j["tpm"] == json{{"available", nullptr},
                         {"tcti", "swtpm:host=127.0.0.1,port=2321"},
                         {"registrationId", nullptr},
                         {"authKeyPresent", nullptr},
                         {"error", nullptr}});
  CHECK(j["service"] == json{{"version", "0.1.0"}, {"pid", 4242}, {"uptimeSeconds", 42}});
}

TEST_CASE("a configured registration id, symmetric-key attestation and MQTT appear in provisioning") {
  auto c = tpm_config();
  c.provisioning.attestation.method = config::AttestationMethod::symmetric_key;
  c.provisioning.attestation.registration_id = "device-01";
  c.provisioning.attestation.symmetric_key_value = Secret("c2VjcmV0LWtleS1ieXRlcw==");
  c.dps.transport = config::Transport::mqtt;
  StatusSnapshot s = starting();
  s.provisioning = settings_from(c);

  const json j = to_json(s, service_info);
  CHECK(j["provisioning"]["registrationId"] == "device-01");
  CHECK(j["provisioning"]["attestation"] == "symmetric_key");
  CHECK(j["provisioning"]["transport"] == "mqtt");
  CHECK(j.dump().find("c2VjcmV0LWtleS1ieXRlcw==") == std::string::npos);
}

TEST_CASE("a provisioned status carries the assignment, the last attempt and RFC 3339 UTC times") {
  StatusSnapshot s = starting();
  s.state = State::provisioned;
  s.source = Source::dps;
  s.assignment = Assignment{.hub = "hub-1.azure-devices.net",
                            .device_id = "edge-01",
                            .substatus = "initialAssignment",
                            .assigned_at = at("2026-11-29T04:32:00.250Z"),
                            .payload = json{{"tier", "gold"}}};
  s.last_attempt = Attempt{.at = at("2026-11-29T05:32:00+01:00"), .outcome = "assigned", .error = std::nullopt};
  s.attempts = 2;
  s.tpm.available = true;
  s.tpm.registration_id = "abcdefghij";
  s.tpm.auth_key_present = true;

  const json j = to_json(s, service_info);
  CHECK(j["state"] == "provisioned");
  CHECK(j["source"] == "dps");
  CHECK(j["assignment"] == json{{"hub", "hub-1.azure-devices.net"},
                                {"deviceId", "edge-01"},
                                {"substatus", "initialAssignment"},
                                {"assignedAt", "2026-11-29T04:32:00Z"},
                                {"payload", {{"tier", "gold"}}}});
  CHECK(j["lastAttempt"] == json{{"at", "2026-11-29T04:32:00Z"}, {"outcome", "assigned"}, {"error", nullptr}});
  CHECK(j["attempts"] == 2);
  CHECK(j["tpm"]["available"] == true);
  CHECK(j["tpm"]["registrationId"] == "abcdefghij");
  CHECK(j["tpm"]["authKeyPresent"] == true);
}

TEST_CASE("a retrying status names the error of its last attempt and when the next one is") {
  StatusSnapshot s = starting();
  s.state = State::retrying;
  s.last_attempt = Attempt{.at = at("2026-11-29T04:40:00Z"),
                           .outcome = "error",
                           .error = dps::Error{.cause = dps::Rejection{.http_status = 429,
                                                                       .error_code = 429001,
                                                                       .cause = dps::RejectionCause::throttled,
                                                                       .retry_after = {.delay = std::chrono::seconds(7)}},
                                               .message = "Operations are being throttled",
                                               .transient = true}};
  s.next_attempt_at = at("2026-11-29T04:40:07Z");
  s.attempts = 3;

  const json j = to_json(s, service_info);
  CHECK(j["state"] == "retrying");
  CHECK(j["lastAttempt"]["outcome"] == "error");
  CHECK(j["lastAttempt"]["error"] == json{{"kind", "dps"},
                                          {"httpStatus", 429},
                                          {"code", 429001},
                                          {"message", "Operations are being throttled"},
                                          {"transient", true},
                                          {"cause", {{"reason", "throttled"}, {"retryAfterSeconds", 7}}}});
  CHECK(j["nextAttemptAt"] == "2026-11-29T04:40:07Z");
}

TEST_CASE("an error without an HTTP status or code reports them as null") {
  StatusSnapshot s = starting();
  s.state = State::failed;
  s.last_attempt = Attempt{.at = at("2026-11-29T04:40:00Z"),
                           .outcome = "error",
                           .error = dps::transport_failure(
                               {dps::TransportErrorKind::connect, "connection refused", true,
                                std::make_error_code(std::errc::connection_refused)})};
  const json error = to_json(s, service_info)["lastAttempt"]["error"];
  CHECK(error["httpStatus"].is_null());
  CHECK(error["code"].is_null());
  CHECK(error["kind"] == "network");
  CHECK(error["cause"]["error"] == "connect");
  CHECK(error["cause"]["systemError"]["category"] == "generic");
  CHECK(error["cause"]["systemError"]["value"] == ECONNREFUSED);
}

TEST_CASE("every state has its documented name") {
  CHECK(to_string(State::starting) == "starting");
  CHECK(to_string(State::provisioning) == "provisioning");
  CHECK(to_string(State::provisioned) == "provisioned");
  CHECK(to_string(State::retrying) == "retrying");
  CHECK(to_string(State::failed) == "failed");
  CHECK(to_string(Source::cache) == "cache");
}

TEST_CASE("the board tells its observer of every change status shows, and of nothing else") {
  StatusBoard board(StatusSnapshot{});
  int told = 0;
  board.on_change([&] { ++told; });
  StatusSnapshot same = *board.current();
  board.publish(same);
  CHECK(told == 0);
  same.attempts = 1;
  board.publish(same);
  CHECK(told == 1);
}

TEST_CASE("a snapshot taken from the board does not change when the board moves on") {
  StatusBoard board(StatusSnapshot{});
  const auto before = board.current();
  CHECK(before->state == State::starting);

  StatusSnapshot next;
  next.state = State::provisioning;
  next.since = at("2026-11-29T04:31:10Z");
  next.attempts = 7;
  board.publish(next);

  CHECK(before->state == State::starting);
  CHECK(before->attempts == 0);
  const auto after = board.current();
  CHECK(after->state == State::provisioning);
  CHECK(after->since == at("2026-11-29T04:31:10Z"));
  CHECK(after->attempts == 7);
}
