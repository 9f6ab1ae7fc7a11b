#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <nlohmann/json.hpp>

#include "ctl/output.h"

using namespace edgeprov::ctl;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

// A status document as the service sends it (docs/ipc-api.md), provisioned from DPS.
json provisioned_status() {
  return json::parse(R"({"state":"provisioned","since":"2026-11-29T10:00:02Z","source":"dps",
    "provisioning":{"globalEndpoint":"https://127.0.0.1:8443/","idScope":"0ne00000A0A","registrationId":null,
                    "attestation":"tpm","transport":"https"},
    "assignment":{"hub":"hub-1.azure-devices.net","deviceId":"edge-17","substatus":"initialAssignment",
                  "assignedAt":"2026-11-29T10:00:02Z","payload":{"site":"north","rack":7}},
    "lastAttempt":{"at":"2026-11-29T10:00:01Z","outcome":"assigned","error":null},
    "nextAttemptAt":null,"attempts":1,
    "tpm":{"available":true,"tcti":"swtpm:host=127.0.0.1,port=2321","registrationId":"abc","authKeyPresent":true},
    "service":{"version":"0.1.0","pid":4242,"uptimeSeconds":3}})");
}

json retrying_status() {
  auto s = provisioned_status();
  s["state"] = "retrying";
  s["source"] = nullptr;
  s["assignment"] = nullptr;
  s["lastAttempt"] = json::parse(R"({"at":"2026-11-29T10:00:01Z","outcome":"error",
    "error":{"kind":"dps","httpStatus":503,"code":null,"message":"DPS answered 503 Service Unavailable"}})");
  s["nextAttemptAt"] = "2026-11-29T10:00:09Z";
  s["attempts"] = 3;
  return s;
}

json failed_status() {
  auto s = retrying_status();
  s["state"] = "failed";
  s["lastAttempt"]["error"] = json::parse(
      R"({"kind":"dps","httpStatus":404,"code":404201,"message":"no enrollment for registration id abc"})");
  s["nextAttemptAt"] = nullptr;
  s["attempts"] = 1;
  return s;
}

}  // namespace

TEST_CASE("status of a provisioned device shows state, source, hub, device id, substatus, payload and the TPM") {
  const auto text = format_status(provisioned_status());
  CHECK_THAT(text, ContainsSubstring("state            provisioned since 2026-11-29T10:00:02Z (from dps)\n"));
  CHECK_THAT(text, ContainsSubstring("hub              hub-1.azure-devices.net\n"));
  CHECK_THAT(text,
             ContainsSubstring("device id        edge-17 (initialAssignment, assigned 2026-11-29T10:00:02Z)\n"));
  CHECK_THAT(text, ContainsSubstring("payload          {\"rack\":7,\"site\":\"north\"}\n"));
  CHECK_THAT(text, ContainsSubstring("last attempt     2026-11-29T10:00:01Z assigned\n"));
  CHECK_THAT(text, ContainsSubstring("tpm              tcti swtpm:host=127.0.0.1,port=2321, available yes, "
                                     "auth key yes, registration id abc\n"));
  CHECK_THAT(text, ContainsSubstring("registration id  derived from the TPM\n"));
  CHECK_THAT(text, ContainsSubstring("service          edgeprovd 0.1.0, pid 4242, up 3 s\n"));
  // Not retrying: no next attempt line.
  CHECK_THAT(text, !ContainsSubstring("next attempt"));
}

TEST_CASE("status without a payload has no payload line") {
  auto s = provisioned_status();
  s["assignment"]["payload"] = nullptr;
  CHECK_THAT(format_status(s), !ContainsSubstring("payload"));
}

TEST_CASE("status while retrying shows the failed attempt's error, the next attempt and the attempts so far") {
  const auto text = format_status(retrying_status());
  CHECK_THAT(text, ContainsSubstring("state            retrying since 2026-11-29T10:00:02Z\n"));
  CHECK_THAT(text, ContainsSubstring("assignment       none\n"));
  CHECK_THAT(text, ContainsSubstring("last attempt     2026-11-29T10:00:01Z error: dps HTTP 503 — DPS answered 503 "
                                     "Service Unavailable\n"));
  CHECK_THAT(text, ContainsSubstring("next attempt     2026-11-29T10:00:09Z (after 3 attempts)\n"));
}

TEST_CASE("while retrying before any attempt was made (the TPM failed first) no attempt count is shown") {
  auto s = retrying_status();
  s["attempts"] = 0;
  CHECK_THAT(format_status(s), ContainsSubstring("next attempt     2026-11-29T10:00:09Z\n"));
  CHECK_THAT(format_not_provisioned(s), ContainsSubstring("  edgeprovd tries again at 2026-11-29T10:00:09Z\n"));
}

TEST_CASE("status of a failed device shows the DPS error code and no next attempt") {
  const auto text = format_status(failed_status());
  CHECK_THAT(text, ContainsSubstring("error: dps HTTP 404 code 404201 — no enrollment for registration id abc\n"));
  CHECK_THAT(text, !ContainsSubstring("next attempt"));
}

TEST_CASE("status tolerates a document with fields missing or of another type") {
  const auto text = format_status(json{{"state", "starting"}, {"attempts", "x"}, {"tpm", nullptr}});
  CHECK_THAT(text, ContainsSubstring("state            starting since -\n"));
  CHECK_THAT(text, ContainsSubstring("tpm              tcti -, available unknown, auth key unknown\n"));
}

TEST_CASE("once provisioned, wait and reprovision print one line naming device, hub, source and since") {
  CHECK(format_provisioned(provisioned_status()) ==
        "provisioned: device edge-17 on hub hub-1.azure-devices.net (from dps, since 2026-11-29T10:00:02Z)\n");
}

TEST_CASE("why a device is not provisioned: the last error, and when it is retried") {
  CHECK(format_not_provisioned(retrying_status()) ==
        "  last attempt at 2026-11-29T10:00:01Z: dps HTTP 503 — DPS answered 503 Service Unavailable\n"
        "  edgeprovd tries again at 2026-11-29T10:00:09Z (3 attempts so far)\n");
  CHECK_THAT(format_not_provisioned(failed_status()), ContainsSubstring("code 404201"));
  CHECK_THAT(format_not_provisioned(failed_status()), ContainsSubstring("run `edgeprovctl reprovision`"));
  CHECK(format_not_provisioned(json{{"state", "provisioning"}, {"lastAttempt", nullptr}}).empty());
}

TEST_CASE("a failed reprovision names the error and, while retrying, when the next attempt is") {
  const auto data = json::parse(R"({"state":"retrying","nextAttemptAt":"2026-11-29T10:05:00Z",
    "error":{"kind":"network","httpStatus":null,"code":null,"message":"cannot connect to 127.0.0.1:9"}})");
  CHECK(format_provisioning_failure(data, "cannot connect to 127.0.0.1:9") ==
        "reprovision failed: cannot connect to 127.0.0.1:9\n"
        "  error kind network\n"
        "  edgeprovd tries again at 2026-11-29T10:05:00Z; `edgeprovctl wait` waits for the outcome\n");
}

TEST_CASE("a reprovision that failed for good says nothing more is tried by itself") {
  const auto data = json::parse(R"({"state":"failed","nextAttemptAt":null,
    "error":{"kind":"tpm","httpStatus":null,"code":2446,"message":"TPM command ActivateCredential failed"}})");
  const auto text = format_provisioning_failure(data, "TPM command ActivateCredential failed");
  CHECK_THAT(text, ContainsSubstring("  error kind tpm, code 2446\n"));
  CHECK_THAT(text, ContainsSubstring("does not try again by itself"));
  CHECK_THAT(text, !ContainsSubstring("tries again at"));
}

TEST_CASE("a reprovision failure without data still prints its message") {
  CHECK(format_provisioning_failure(nullptr, "it failed") == "reprovision failed: it failed\n");
}

TEST_CASE("identity show names hub, device id, registration id and how the device authenticates") {
  const auto identity = json::parse(R"({"hub":"hub-1.azure-devices.net","deviceId":"edge-17","registrationId":"abc",
    "authType":"sas","keySource":"tpm","assignedAt":"2026-11-29T10:00:02Z","source":"cache"})");
  CHECK(format_identity(identity) ==
        "hub              hub-1.azure-devices.net\n"
        "device id        edge-17\n"
        "registration id  abc\n"
        "authentication   SAS tokens signed in the TPM (sas, tpm)\n"
        "assigned         2026-11-29T10:00:02Z (from cache)\n");
}

TEST_CASE("identity show describes symmetric-key and X.509 devices") {
  CHECK_THAT(format_identity(json{{"authType", "sas"}, {"keySource", "symmetric_key"}}),
             ContainsSubstring("SAS tokens signed with the device key"));
  CHECK_THAT(format_identity(json{{"authType", "x509"}, {"keySource", "x509"}}),
             ContainsSubstring("X.509 client certificate"));
}
