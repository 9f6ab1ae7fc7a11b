#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <string>
#include <variant>

#include "common/encoding.h"
#include "dps/reply.h"

using namespace edgeprov;
using namespace edgeprov::dps;
using namespace std::chrono_literals;
using dps::AttestationMethod;

namespace {

template <typename T>
T as(const Reply& reply) {
  REQUIRE(std::holds_alternative<T>(reply));
  return std::get<T>(reply);
}

ReplyContext context(std::optional<AttestationMethod> attestation = AttestationMethod::tpm) {
  ReplyContext c;
  c.id_scope = "0ne00ABC123";
  c.registration_id = "device-001";
  c.attestation = attestation;
  return c;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

// ---- progress -------------------------------------------------------------------------------------

TEST_CASE("a 202 assigning reply is polled by its operation id after its Retry-After") {
  const auto assigning =
      as<Assigning>(parse_reply(202, "3", R"({"operationId":"5.abc.def","status":"assigning"})", context()));
  CHECK(assigning.operation_id == "5.abc.def");
  CHECK(assigning.retry_after.delay == 3s);
}

TEST_CASE("a 202 with only an operation id, as aziot reads it, is assigning") {
  const auto assigning = as<Assigning>(parse_reply(202, "", R"({"operationId":"op-1"})"));
  CHECK(assigning.operation_id == "op-1");
  CHECK_FALSE(assigning.retry_after.present());
}

TEST_CASE("a poll reply that is still assigning without an operation id keeps the one being polled") {
  ReplyContext polling = context();
  polling.operation_id = "op-7";
  const auto assigning = as<Assigning>(parse_reply(
      200, "", R"({"status":"assigning","registrationState":{"registrationId":"device-001","status":"assigning"}})",
      polling));
  CHECK(assigning.operation_id == "op-7");
}

TEST_CASE("an assigning reply with no operation id to poll is a transient malformed reply") {
  const auto rejected = as<Rejected>(parse_reply(202, "", R"({"status":"assigning"})", context()));
  CHECK(rejected.cause == RejectionCause::malformed_reply);
  CHECK(rejected.transient);
  CHECK(rejected.status == 202);
  CHECK(contains(rejected.message, "status \"assigning\" but no operationId to poll"));
}

TEST_CASE("an assigned reply gives the hub, the device id, the substatus, the payload and the hub key") {
  // printf 'hub-key-blob' | base64 -> aHViLWtleS1ibG9i
  const auto assigned = as<Assigned>(parse_reply(200, "", R"({
      "operationId":"op-1","status":"assigned",
      "registrationState":{"registrationId":"device-001","assignedHub":"hub1.azure-devices.net",
        "deviceId":"device-001","status":"assigned","substatus":"initialAssignment",
        "lastUpdatedDateTimeUtc":"2026-11-29T04:31:10Z","etag":"x",
        "payload":{"hubTag":"east","n":[1,2]},
        "tpm":{"authenticationKey":"aHViLWtleS1ibG9i"}}})",
                                                 context()));
  CHECK(assigned.hub == "hub1.azure-devices.net");
  CHECK(assigned.device_id == "device-001");
  CHECK(assigned.substatus == "initialAssignment");
  CHECK(assigned.payload == nlohmann::json::parse(R"({"hubTag":"east","n":[1,2]})"));
  REQUIRE(assigned.hub_key_blob);
  CHECK(to_string(*assigned.hub_key_blob) == "hub-key-blob");
}

TEST_CASE("an assigned reply without payload or TPM key is accepted with neither") {
  const auto assigned = as<Assigned>(parse_reply(
      200, "", R"({"operationId":"op-1","status":"assigned","registrationState":{"assignedHub":"h","deviceId":"d"}})"));
  CHECK(assigned.hub == "h");
  CHECK(assigned.device_id == "d");
  CHECK(assigned.substatus.empty());
  CHECK(assigned.payload.is_null());
  CHECK_FALSE(assigned.hub_key_blob);
}

TEST_CASE("an assigned reply with a null payload and a null tpm object is accepted") {
  const auto assigned = as<Assigned>(parse_reply(
      200, "",
      R"({"status":"assigned","registrationState":{"assignedHub":"h","deviceId":"d","payload":null,"tpm":null}})"));
  CHECK(assigned.payload.is_null());
  CHECK_FALSE(assigned.hub_key_blob);
}

TEST_CASE("an assigned reply missing the hub, the device id or registrationState is a transient malformed reply") {
  struct Case {
    const char* body;
    const char* says;
  };
  for (const Case& c : {Case{R"({"status":"assigned"})", "status \"assigned\" but no registrationState"},
                        Case{R"({"status":"assigned","registrationState":{"deviceId":"d"}})",
                             "no registrationState.assignedHub"},
                        Case{R"({"status":"assigned","registrationState":{"assignedHub":"","deviceId":"d"}})",
                             "no registrationState.assignedHub"},
                        Case{R"({"status":"assigned","registrationState":{"assignedHub":"h"}})",
                             "no registrationState.deviceId"},
                        Case{R"({"status":"assigned","registrationState":{"assignedHub":"h","deviceId":7}})",
                             "no registrationState.deviceId"},
                        Case{R"({"status":"assigned","registrationState":{"assignedHub":"h","deviceId":"d",)"
                             R"("tpm":{"authenticationKey":"not base64!"}}})",
                             "registrationState.tpm.authenticationKey that is not valid base64"},
                        Case{R"({"status":"assigned","registrationState":{"assignedHub":"h","deviceId":"d",)"
                             R"("tpm":{"authenticationKey":42}}})",
                             "registrationState.tpm.authenticationKey that is not valid base64"}}) {
    INFO(c.body);
    const auto rejected = as<Rejected>(parse_reply(200, "", c.body, context()));
    CHECK(rejected.cause == RejectionCause::malformed_reply);
    CHECK(rejected.transient);
    CHECK(contains(rejected.message, c.says));
  }
}

// ---- TPM challenge ----------------------------------------------------------------------------------

TEST_CASE("a 401 with authenticationKey is the TPM challenge with its key name") {
  // printf 'activation-blob' | base64 -> YWN0aXZhdGlvbi1ibG9i
  const auto challenge = as<TpmChallenge>(
      parse_reply(401, "", R"({"authenticationKey":"YWN0aXZhdGlvbi1ibG9i","keyName":"registration"})", context()));
  CHECK(to_string(challenge.auth_key_blob) == "activation-blob");
  CHECK(challenge.key_name == "registration");
}

TEST_CASE("a TPM challenge without keyName signs with skn=registration, as aziot does") {
  const auto challenge = as<TpmChallenge>(parse_reply(401, "", R"({"authenticationKey":"YWN0aXZhdGlvbi1ibG9i"})"));
  CHECK(challenge.key_name == "registration");
}

TEST_CASE("a TPM challenge whose authenticationKey is not base64 is a transient malformed reply") {
  const auto rejected = as<Rejected>(parse_reply(401, "", R"({"authenticationKey":"%%%%"})", context()));
  CHECK(rejected.cause == RejectionCause::malformed_reply);
  CHECK(rejected.transient);
  CHECK(contains(rejected.message, "authenticationKey is not valid base64"));
  CHECK_FALSE(contains(rejected.message, "%%%%"));
  CHECK(as<Rejected>(parse_reply(401, "", R"({"authenticationKey":""})")).cause == RejectionCause::malformed_reply);
  CHECK(as<Rejected>(parse_reply(401, "", R"({"authenticationKey":[1]})")).cause == RejectionCause::malformed_reply);
}

TEST_CASE("an explicit unassigned status with authenticationKey is a TPM challenge, with operationId a poll") {
  const auto challenge = as<TpmChallenge>(
      parse_reply(200, "", R"({"status":"unassigned","authenticationKey":"YWN0aXZhdGlvbi1ibG9i","keyName":"k2"})"));
  CHECK(challenge.key_name == "k2");
  CHECK(as<Assigning>(parse_reply(202, "2", R"({"status":"unassigned","operationId":"op-9"})")).operation_id ==
        "op-9");
  const auto neither = as<Rejected>(parse_reply(200, "", R"({"status":"unassigned"})"));
  CHECK(neither.cause == RejectionCause::malformed_reply);
  CHECK(neither.transient);
}

// ---- 401 without challenge --------------------------------------------------------------------------

TEST_CASE("a 401 for a symmetric key names the key, the enrollment and the clock, and is terminal") {
  const auto rejected = as<Rejected>(parse_reply(
      401, "", R"({"errorCode":401002,"trackingId":"t","message":"Unauthorized","timestampUtc":"x"})",
      context(AttestationMethod::symmetric_key)));
  CHECK(rejected.cause == RejectionCause::unauthorized);
  CHECK_FALSE(rejected.transient);
  CHECK(rejected.status == 401);
  CHECK(rejected.error_code == 401002);
  CHECK(rejected.message ==
        "DPS refused the credentials of registration id \"device-001\" in id scope \"0ne00ABC123\" (HTTP 401, "
        "errorCode 401002): check that an enrollment exists for this registration id and that the symmetric key "
        "matches it (for a group enrollment, configure the device key derived from the group key), and that the "
        "device clock is right: the SAS token expires by it, then run `edgeprovctl reprovision`. DPS says: "
        "\"Unauthorized\".");
}

TEST_CASE("a 401 for X.509 points at the certificate and its common name") {
  const auto rejected = as<Rejected>(parse_reply(401, "", "", context(AttestationMethod::x509)));
  CHECK(rejected.cause == RejectionCause::unauthorized);
  CHECK_FALSE(rejected.error_code);
  CHECK(contains(rejected.message, "identity_cert"));
  CHECK(contains(rejected.message, "common name"));
}

TEST_CASE("a 401 for TPM without authenticationKey points at the endorsement key enrollment") {
  const auto rejected = as<Rejected>(parse_reply(401, "", R"({"errorCode":401002,"message":"x"})", context()));
  CHECK(rejected.cause == RejectionCause::unauthorized);
  CHECK_FALSE(rejected.transient);
  CHECK(contains(rejected.message, "endorsement key (`edgeprovctl tpm info` prints both)"));
}

// ---- failed / disabled / blacklisted -------------------------------------------------------------------

TEST_CASE("a failed registration with errorCode 400208 says no hub could be assigned") {
  const auto rejected = as<Rejected>(parse_reply(
      200, "",
      R"({"operationId":"op","status":"failed","registrationState":{"registrationId":"device-001","status":"failed",)"
      R"("errorCode":400208,"errorMessage":"Custom allocation failed with status code: 400","lastUpdatedDateTimeUtc":"x"}})",
      context()));
  CHECK(rejected.cause == RejectionCause::failed);
  CHECK_FALSE(rejected.transient);
  CHECK(rejected.error_code == 400208);
  CHECK(rejected.status == 200);
  CHECK(rejected.message ==
        "DPS found no IoT hub to assign registration id \"device-001\" in id scope \"0ne00ABC123\" to (errorCode "
        "400208): link an IoT hub to the DPS instance and select it in the enrollment (or fix the custom "
        "allocation function so it returns a linked hub), then run `edgeprovctl reprovision`. DPS says: \"Custom "
        "allocation failed with status code: 400\".");
}

TEST_CASE("a failed registration with errorCode 400209 says it was unauthorized") {
  const auto rejected = as<Rejected>(parse_reply(
      200, "", R"({"status":"failed","registrationState":{"errorCode":400209,"errorMessage":"no"}})", context()));
  CHECK(rejected.error_code == 400209);
  CHECK(rejected.cause == RejectionCause::failed);
  CHECK(contains(rejected.message, "as unauthorized (errorCode 400209)"));
}

TEST_CASE("a failed registration with another errorCode reports the code and DPS's message") {
  const auto rejected = as<Rejected>(parse_reply(
      200, "", R"({"status":"failed","registrationState":{"errorCode":400001,"errorMessage":"Bad thing"}})", context()));
  CHECK(rejected.error_code == 400001);
  CHECK(rejected.message ==
        "DPS failed the registration of registration id \"device-001\" in id scope \"0ne00ABC123\" (errorCode "
        "400001): correct the enrollment or the IoT hub as the DPS message says, then run `edgeprovctl "
        "reprovision`. DPS says: \"Bad thing\".");
  const auto without_code = as<Rejected>(parse_reply(200, "", R"({"status":"failed"})"));
  CHECK_FALSE(without_code.error_code);
  CHECK(without_code.cause == RejectionCause::failed);
  CHECK_FALSE(without_code.transient);
}

TEST_CASE("a disabled enrollment is terminal and says to enable it") {
  const auto rejected = as<Rejected>(parse_reply(
      200, "", R"({"operationId":"op","status":"disabled","registrationState":{"status":"disabled"}})", context()));
  CHECK(rejected.cause == RejectionCause::disabled);
  CHECK_FALSE(rejected.transient);
  CHECK(rejected.message ==
        "the enrollment for registration id \"device-001\" in id scope \"0ne00ABC123\" is disabled in DPS: enable "
        "it (Azure portal: the DPS instance, Manage enrollments, the enrollment, Enable entry), then run "
        "`edgeprovctl reprovision`.");
}

TEST_CASE("a blacklisted device is terminal and says how to unblock it") {
  const auto rejected = as<Rejected>(parse_reply(200, "", R"({"status":"blacklisted"})", context()));
  CHECK(rejected.cause == RejectionCause::blacklisted);
  CHECK_FALSE(rejected.transient);
  CHECK(contains(rejected.message, "remove or enable that entry"));
}

TEST_CASE("an unknown registration status is terminal and quoted") {
  const auto rejected = as<Rejected>(parse_reply(200, "", R"({"status":"frozen"})", context()));
  CHECK(rejected.cause == RejectionCause::unexpected_status);
  CHECK_FALSE(rejected.transient);
  CHECK(contains(rejected.message, "the registration status \"frozen\""));
}

// ---- HTTP statuses ------------------------------------------------------------------------------------

TEST_CASE("a 429 with Retry-After: 7 is transient and retried after 7 seconds") {
  const auto rejected =
      as<Rejected>(parse_reply(429, "7", R"({"errorCode":429001,"message":"Operations are being throttled"})"));
  CHECK(rejected.cause == RejectionCause::throttled);
  CHECK(rejected.transient);
  CHECK(rejected.error_code == 429001);
  CHECK(rejected.retry_after.delay == 7s);
  CHECK(contains(rejected.message, "DPS is throttling requests (HTTP 429, errorCode 429001)"));
}

TEST_CASE("5xx replies are transient whatever their body") {
  for (int status : {500, 502, 503, 504}) {
    INFO(status);
    const auto rejected = as<Rejected>(parse_reply(status, "", "<html>Bad gateway</html>"));
    CHECK(rejected.cause == RejectionCause::server_error);
    CHECK(rejected.transient);
    CHECK(rejected.status == status);
    CHECK_FALSE(contains(rejected.message, "DPS says"));
  }
  CHECK(as<Rejected>(parse_reply(503, "Sun, 06 Nov 1994 08:49:37 GMT", "")).retry_after.date.has_value());
}

TEST_CASE("a 404 says there is no enrollment and how to create it") {
  const auto rejected =
      as<Rejected>(parse_reply(404, "", R"({"errorCode":404201,"message":"Registration not found."})", context()));
  CHECK(rejected.cause == RejectionCause::not_found);
  CHECK_FALSE(rejected.transient);
  CHECK(rejected.error_code == 404201);
  CHECK(rejected.message ==
        "no enrollment for registration id \"device-001\" in id scope \"0ne00ABC123\" (HTTP 404, errorCode 404201): "
        "create the individual enrollment (or a group enrollment that covers it) and check id_scope and "
        "registration_id in config.toml, then run `edgeprovctl reprovision`. DPS says: \"Registration not found.\".");
}

TEST_CASE("a 404 while polling names the operation") {
  ReplyContext polling = context();
  polling.operation_id = "op-3";
  const auto rejected = as<Rejected>(parse_reply(404, "", "", polling));
  CHECK(rejected.cause == RejectionCause::not_found);
  CHECK(contains(rejected.message, "DPS does not know the registration operation \"op-3\""));
}

TEST_CASE("400 and 403 are terminal and name what to check") {
  const auto bad = as<Rejected>(parse_reply(400, "", R"({"code":400004,"errorMessage":"Invalid payload"})", context()));
  CHECK(bad.cause == RejectionCause::bad_request);
  CHECK_FALSE(bad.transient);
  CHECK(bad.error_code == 400004);
  CHECK(contains(bad.message, "check id_scope, registration_id and the payload file"));
  CHECK(contains(bad.message, "DPS says: \"Invalid payload\""));
  const auto forbidden = as<Rejected>(parse_reply(403, "", "", context()));
  CHECK(forbidden.cause == RejectionCause::forbidden);
  CHECK_FALSE(forbidden.transient);
  CHECK(contains(forbidden.message, "IP filter"));
}

TEST_CASE("a redirect is terminal and points at global_endpoint") {
  const auto rejected = as<Rejected>(parse_reply(302, "", ""));
  CHECK(rejected.cause == RejectionCause::unexpected_status);
  CHECK_FALSE(rejected.transient);
  CHECK(contains(rejected.message, "provisioning.global_endpoint"));
}

TEST_CASE("other 4xx statuses are terminal and unexpected") {
  const auto rejected = as<Rejected>(parse_reply(409, "", R"({"errorCode":409001})", context()));
  CHECK(rejected.cause == RejectionCause::unexpected_status);
  CHECK_FALSE(rejected.transient);
  CHECK(rejected.error_code == 409001);
}

// ---- malformed bodies --------------------------------------------------------------------------------

TEST_CASE("an empty, non-JSON or non-object 2xx body is a transient malformed reply") {
  struct Case {
    const char* body;
    const char* says;
  };
  for (const Case& c : {Case{"", "an empty body"}, Case{"{\"status\":", "a body that is not valid JSON"},
                        Case{"<html></html>", "a body that is not valid JSON"},
                        Case{"[1,2]", "JSON that is not an object"},
                        Case{R"({"status":5})", "a \"status\" that is not a string"},
                        Case{R"({"registrationState":{}})", "neither \"status\" nor \"operationId\""}}) {
    INFO(c.body);
    const auto rejected = as<Rejected>(parse_reply(200, "", c.body));
    CHECK(rejected.cause == RejectionCause::malformed_reply);
    CHECK(rejected.transient);
    CHECK(contains(rejected.message, c.says));
  }
}

TEST_CASE("text from DPS is shown without control characters and cut to a readable length") {
  const std::string long_message(1000, 'x');
  const auto rejected = as<Rejected>(
      parse_reply(400, "", R"({"errorCode":1,"message":"line1\nline2\u0007)" + long_message + "\"}"));
  CHECK(contains(rejected.message, "line1 line2 xxx"));
  CHECK_FALSE(contains(rejected.message, "\n"));
  CHECK(contains(rejected.message, "xxx...\""));
  CHECK(rejected.message.size() < 600);
}

TEST_CASE("a deeply nested body does not crash the parser") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(as<Rejected>(parse_reply(200, "", deep)).cause == RejectionCause::malformed_reply);
}

TEST_CASE("parse_reply never throws, whatever the status, Retry-After and body") {
  const std::string bodies[] = {"", "{", "null", "[]", "{\"status\":null}", "{\"status\":\"assigned\",\"registrationState\":[]}",
                                "{\"authenticationKey\":null}", "{\"errorCode\":1e999}", "{\"errorCode\":99999999999}",
                                "{\"status\":\"failed\",\"registrationState\":{\"errorCode\":\"x\"}}", "\xff\xfe"};
  for (int status : {0, -1, 100, 200, 202, 204, 301, 400, 401, 403, 404, 408, 429, 500, 503, 999}) {
    for (const auto& body : bodies) {
      INFO(status << " " << body);
      CHECK_NOTHROW(parse_reply(status, "garbage", body, context()));
    }
  }
}

// ---- Content-Type (HTTPS) -----------------------------------------------------------------------------

TEST_CASE("a 200 whose Content-Type is not JSON is a transient malformed reply naming the type") {
  const auto rejected = as<Rejected>(parse_http_reply(200, "", "text/html; charset=utf-8", "<html>login</html>", context()));
  CHECK(rejected.cause == RejectionCause::malformed_reply);
  CHECK(rejected.transient);
  CHECK(contains(rejected.message, "Content-Type \"text/html; charset=utf-8\" instead of application/json"));
}

TEST_CASE("a JSON Content-Type is accepted with parameters and in any case, and an absent one too") {
  const std::string body = R"({"operationId":"op","status":"assigning"})";
  CHECK(as<Assigning>(parse_http_reply(202, "", "application/json; charset=utf-8", body, context())).operation_id ==
        "op");
  CHECK(as<Assigning>(parse_http_reply(202, "", "Application/JSON", body, context())).operation_id == "op");
  CHECK(as<Assigning>(parse_http_reply(202, "", "", body, context())).operation_id == "op");
}

TEST_CASE("an error status with a non-JSON body keeps its meaning") {
  CHECK(as<Rejected>(parse_http_reply(503, "5", "text/html", "<h1>down</h1>", context())).cause ==
        RejectionCause::server_error);
  const auto not_found = as<Rejected>(parse_http_reply(404, "", "text/plain", "nope", context()));
  CHECK(not_found.cause == RejectionCause::not_found);
  CHECK_FALSE(not_found.transient);
  CHECK(as<Rejected>(parse_http_reply(401, "", "text/html", "<html/>", context())).cause ==
        RejectionCause::malformed_reply);
}

TEST_CASE("rejection causes have stable names") {
  CHECK(to_string(RejectionCause::throttled) == "throttled");
  CHECK(to_string(RejectionCause::disabled) == "disabled");
  CHECK(to_string(RejectionCause::malformed_reply) == "malformed_reply");
}
