// The device API over HTTPS, judged by curl and the openssl command line.
#include <catch2/catch_test_macros.hpp>

#include "tests/integration/emulator/emulator_fixture.h"

using namespace edgeprov::test;
using nlohmann::json;

namespace {

const std::string device_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const std::string group_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

const std::string enrollments = R"(
[[enrollments]]
registrationId = "device-001"
deviceId = "edge-device-001"
attestation = { type = "symmetricKey", symmetricKey = { primaryKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", secondaryKey = "c2Vjb25kYXJ5LWtleS1vZi1kZXZpY2UtMDAxISEhIQ==" } }
capabilities = { iotEdge = true }

[[enrollments]]
registrationId = "disabled-001"
provisioningStatus = "disabled"
attestation = { type = "symmetricKey", symmetricKey = { primaryKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } }

[[enrollmentGroups]]
enrollmentGroupId = "group-1"
attestation = { type = "symmetricKey", symmetricKey = { primaryKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" } }
)";

// The headers the Azure C SDK sends (docs/dps-protocol.md §2.2), UserAgent without hyphen included.
std::vector<std::string> c_sdk_put(const std::string& token, const std::string& body_file) {
  return {"-X", "PUT", "-H", "UserAgent: prov_device_client/1.0", "-H", "Accept: application/json",
          "-H", "Connection: keep-alive", "-H", "Content-Type: application/json; charset=utf-8",
          "-H", "Authorization: " + token, "--data-binary", "@" + body_file};
}

}  // namespace

TEST_CASE("a symmetric-key device registers over HTTPS with curl and an openssl-signed SAS, on one kept-alive connection") {
  Emulator emulator({.enrollments_toml = enrollments});
  std::string token = openssl_sas(device_key, "device-001", now_unix() + 2400);
  // Parson escapes '/' as '\/' in the C SDK's bodies.
  write_file(emulator.dir() / "body.json", R"({"registrationId":"device-001","payload":{"path":"a\/b"}})");
  auto put = emulator.curl(c_sdk_put(token, (emulator.dir() / "body.json").string()), emulator.device_url("device-001"));
  REQUIRE(put.status == 202);
  CHECK(put.header("Retry-After") == "1");
  CHECK(put.header("Content-Type") == "application/json; charset=utf-8");
  auto accepted = put.json();
  CHECK(accepted["status"] == "assigning");
  std::string operation = accepted["operationId"];

  // The poll, with a body on GET as the C SDK sends it, after a second request on the same connection.
  write_file(emulator.dir() / "empty.json", "");
  auto polls = emulator.curl({"-v", "-H", "Authorization: " + token, "-H", "content-type: application/json; charset=utf-8",
                              emulator.device_url("device-001", "operations/" + operation), "--next", "--cacert",
                              emulator.ca().string(), "-H", "Authorization: " + token, "-X", "GET", "--data-binary",
                              "@" + (emulator.dir() / "empty.json").string(), "-o", (emulator.dir() / "second.json").string()},
                             emulator.device_url("device-001", "operations/" + operation));
  REQUIRE(polls.status == 200);
  CHECK(polls.output.find("Re-using existing connection") != std::string::npos);
  auto assigned = polls.json();
  CHECK(assigned["status"] == "assigned");
  CHECK(assigned["operationId"] == operation);
  const auto& state = assigned["registrationState"];
  CHECK(state["registrationId"] == "device-001");
  CHECK(state["deviceId"] == "edge-device-001");
  CHECK((state["assignedHub"] == "hub-a.azure-devices.net" || state["assignedHub"] == "hub-b.azure-devices.net"));
  CHECK(state["status"] == "assigned");
  CHECK(state["substatus"] == "initialAssignment");
  for (const char* field : {"createdDateTimeUtc", "lastUpdatedDateTimeUtc", "etag"}) CHECK(state[field].is_string());
  CHECK(json::parse(read_file(emulator.dir() / "second.json"))["status"] == "assigned");

  auto registrations = emulator.admin("GET", "/registrations").json();
  REQUIRE(registrations.size() == 1);
  CHECK(registrations[0]["assignedHub"] == state["assignedHub"]);
  CHECK(emulator.output().find("https register device-001 202 assigning") != std::string::npos);
  CHECK(emulator.output().find(token.substr(token.find("sig="), 20)) == std::string::npos);
}

TEST_CASE("the secondary key and the aziot token form (raw lowercased sr) are accepted too") {
  Emulator emulator({.enrollments_toml = enrollments});
  std::string se = std::to_string(now_unix() + 30);
  // aziot: sr lowercased with '/' literal, signature form-encoded with uppercase hex.
  std::string token = shell(R"(set -e
hex=$(printf %s "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
sig=$(printf '%s\n%s' "$SR" "$SE" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$hex -binary | base64 | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')
printf 'SharedAccessSignature sr=%s&sig=%s&se=%s&skn=registration' "$SR" "$sig" "$SE")",
                            {{"KEY", "c2Vjb25kYXJ5LWtleS1vZi1kZXZpY2UtMDAxISEhIQ=="},
                             {"SR", "0ne00abc123/registrations/device-001"},
                             {"SE", se}});
  write_file(emulator.dir() / "body.json", R"({"registrationId":"device-001"})");
  auto put = emulator.curl({"-X", "PUT", "-H", "Content-Type: application/json", "-H", "Authorization: " + token,
                            "--data-binary", "@" + (emulator.dir() / "body.json").string()},
                           emulator.device_url("device-001"));
  CHECK(put.status == 202);
}

TEST_CASE("a device of a symmetric-key group registers with the key openssl derives from the group key") {
  Emulator emulator({.enrollments_toml = enrollments});
  std::string derived = openssl_derived_key(group_key, "group-device-7");
  write_file(emulator.dir() / "body.json", R"({"registrationId":"group-device-7"})");
  std::string token = openssl_sas(derived, "group-device-7", now_unix() + 2400);
  auto put = emulator.curl(c_sdk_put(token, (emulator.dir() / "body.json").string()), emulator.device_url("group-device-7"));
  REQUIRE(put.status == 202);
  std::string operation = put.json()["operationId"];
  auto poll = emulator.curl({"-H", "Authorization: " + token}, emulator.device_url("group-device-7", "operations/" + operation));
  REQUIRE(poll.status == 200);
  CHECK(poll.json()["registrationState"]["deviceId"] == "group-device-7");
  CHECK(emulator.admin("GET", "/registrations/group-device-7").json()["enrollmentGroupId"] == "group-1");
}

TEST_CASE("an unknown device gets 404, a wrong key 401, a disabled enrollment ends in status disabled") {
  Emulator emulator({.enrollments_toml = enrollments});
  write_file(emulator.dir() / "body.json", R"({"registrationId":"stranger"})");
  auto unknown = emulator.curl(c_sdk_put(openssl_sas(device_key, "stranger", now_unix() + 60), (emulator.dir() / "body.json").string()),
                               emulator.device_url("stranger"));
  CHECK(unknown.status == 404);
  CHECK(unknown.json()["errorCode"] == 404201);

  write_file(emulator.dir() / "body.json", R"({"registrationId":"device-001"})");
  auto wrong = emulator.curl(c_sdk_put(openssl_sas(group_key, "device-001", now_unix() + 60), (emulator.dir() / "body.json").string()),
                             emulator.device_url("device-001"));
  CHECK(wrong.status == 401);
  CHECK(wrong.json()["errorCode"] == 401002);
  CHECK(wrong.json()["message"].get<std::string>().find("key") != std::string::npos);

  auto expired = emulator.curl(c_sdk_put(openssl_sas(device_key, "device-001", now_unix() - 3600), (emulator.dir() / "body.json").string()),
                               emulator.device_url("device-001"));
  CHECK(expired.status == 401);
  CHECK(expired.json()["message"].get<std::string>().find("expired") != std::string::npos);

  write_file(emulator.dir() / "body.json", R"({"registrationId":"disabled-001"})");
  std::string token = openssl_sas(device_key, "disabled-001", now_unix() + 60);
  auto put = emulator.curl(c_sdk_put(token, (emulator.dir() / "body.json").string()), emulator.device_url("disabled-001"));
  REQUIRE(put.status == 202);
  auto poll = emulator.curl({"-H", "Authorization: " + token},
                            emulator.device_url("disabled-001", "operations/" + put.json()["operationId"].get<std::string>()));
  CHECK(poll.status == 200);
  CHECK(poll.json()["status"] == "disabled");
}

TEST_CASE("operations stay assigning for the configured polls, and re-registration keeps the hub until the enrollment changes") {
  Emulator emulator({.enrollments_toml = enrollments, .extra_args = {"--assigning-polls", "2", "--retry-after", "2"}});
  std::string token = openssl_sas(device_key, "device-001", now_unix() + 2400);
  write_file(emulator.dir() / "body.json", R"({"registrationId":"device-001"})");
  auto register_and_poll = [&] {
    auto put = emulator.curl(c_sdk_put(token, (emulator.dir() / "body.json").string()), emulator.device_url("device-001"));
    REQUIRE(put.status == 202);
    std::string url = emulator.device_url("device-001", "operations/" + put.json()["operationId"].get<std::string>());
    for (int i = 0; i < 2; ++i) {
      auto poll = emulator.curl({"-H", "Authorization: " + token}, url);
      CHECK(poll.status == 202);
      CHECK(poll.header("Retry-After") == "2");
      CHECK(poll.json()["registrationState"]["registrationId"] == "device-001");
    }
    auto poll = emulator.curl({"-H", "Authorization: " + token}, url);
    REQUIRE(poll.status == 200);
    return poll.json()["registrationState"];
  };
  auto first = register_and_poll();
  auto again = register_and_poll();
  CHECK(again["assignedHub"] == first["assignedHub"]);
  CHECK(again["substatus"] == "initialAssignment");

  std::string other = first["assignedHub"] == "hub-a.azure-devices.net" ? "hub-b.azure-devices.net" : "hub-a.azure-devices.net";
  auto enrollment = emulator.admin("GET", "/enrollments/device-001").json();
  enrollment["iotHubs"] = {other};
  REQUIRE(emulator.admin("PUT", "/enrollments/device-001", enrollment).status == 200);
  auto moved = register_and_poll();
  CHECK(moved["assignedHub"] == other);
  CHECK(moved["substatus"] == "deviceDataMigrated");
}

TEST_CASE("custom allocation echoes the device's payload in registrationState") {
  Emulator emulator({.enrollments_toml = enrollments});
  auto enrollment = emulator.admin("GET", "/enrollments/device-001").json();
  enrollment["allocationPolicy"] = "custom";
  REQUIRE(emulator.admin("PUT", "/enrollments/device-001", enrollment).status == 200);
  std::string token = openssl_sas(device_key, "device-001", now_unix() + 2400);
  write_file(emulator.dir() / "body.json", R"({"registrationId":"device-001","payload":{"modelId":"dtmi:com:example;1"}})");
  auto put = emulator.curl(c_sdk_put(token, (emulator.dir() / "body.json").string()), emulator.device_url("device-001"));
  auto poll = emulator.curl({"-H", "Authorization: " + token},
                            emulator.device_url("device-001", "operations/" + put.json()["operationId"].get<std::string>()));
  CHECK(poll.json()["registrationState"]["payload"] == json{{"modelId", "dtmi:com:example;1"}});
}

TEST_CASE("bad input gets the DPS reply or a closed connection and never stops the emulator") {
  Emulator emulator({.enrollments_toml = enrollments});
  std::string token = openssl_sas(device_key, "device-001", now_unix() + 60);

  auto old_version = emulator.curl({"-X", "PUT", "-H", "Authorization: " + token, "--data", "{}"},
                                   emulator.device_url("device-001", "register", "2018-11-01"));
  CHECK(old_version.status == 400);
  CHECK(old_version.json()["errorCode"] == 400001);
  CHECK(emulator.curl({"-X", "PUT"}, "https://localhost:" + std::to_string(emulator.https_port()) + "/nowhere").status == 404);
  CHECK(emulator.curl({"-X", "DELETE"}, emulator.device_url("device-001")).status == 405);
  CHECK(emulator.curl({"-X", "PUT", "--data", "{}"}, emulator.device_url("device-001").replace(
                                                         emulator.device_url("device-001").find(id_scope), 11, "0ne99999999")).status == 404);

  write_file(emulator.dir() / "bad.json", R"({"registrationId": "device-001", )");
  auto bad_json = emulator.curl({"-X", "PUT", "-H", "Authorization: " + token, "--data-binary", "@" + (emulator.dir() / "bad.json").string()},
                                emulator.device_url("device-001"));
  CHECK(bad_json.status == 400);
  CHECK(bad_json.json()["errorCode"] == 400004);

  write_file(emulator.dir() / "nested.json", R"({"registrationId":"device-001","payload":)" + std::string(20000, '[') +
                                                 std::string(20000, ']') + "}");
  auto nested = emulator.curl({"-X", "PUT", "-H", "Authorization: " + token, "--data-binary", "@" + (emulator.dir() / "nested.json").string()},
                              emulator.device_url("device-001"));
  CHECK(nested.status == 400);

  write_file(emulator.dir() / "huge.json", std::string(2 * 1024 * 1024, 'x'));
  auto huge = emulator.curl({"-X", "PUT", "--data-binary", "@" + (emulator.dir() / "huge.json").string()}, emulator.device_url("device-001"));
  CHECK((huge.status == 413 || huge.curl_exit != 0));

  // Plain text and random bytes where TLS is expected.
  shell("printf 'GET / HTTP/1.1\\r\\n\\r\\n' | timeout 5 openssl s_client -quiet -connect 127.0.0.1:$PORT 2>/dev/null; "
        "head -c 5000 /dev/urandom | timeout 5 socat -t 1 - TCP:127.0.0.1:$PORT >/dev/null 2>&1; "
        "printf 'garbage\\r\\n\\r\\n' | timeout 5 openssl s_client -quiet -connect 127.0.0.1:$PORT >/dev/null 2>&1; true",
        {{"PORT", std::to_string(emulator.https_port())}});
  CHECK(emulator.running());
  CHECK(emulator.admin_alive());
  CHECK(emulator.curl({"-X", "PUT", "-H", "Authorization: " + token, "--data", R"({"registrationId":"device-001"})"},
                      emulator.device_url("device-001")).status == 202);
}

TEST_CASE("the admin API manages enrollments and groups in the service-API shape") {
  Emulator emulator;
  json enrollment = {{"registrationId", "admin-device"},
                     {"attestation", {{"type", "symmetricKey"}, {"symmetricKey", {{"primaryKey", device_key}, {"secondaryKey", device_key}}}}},
                     {"capabilities", {{"iotEdge", true}}},
                     {"initialTwin", {{"tags", {{"region", "eu"}}}}},
                     {"provisioningStatus", "enabled"}};
  auto created = emulator.admin("PUT", "/enrollments/admin-device?api-version=2021-10-01", enrollment);
  CHECK(created.status == 201);
  CHECK(created.json()["etag"].is_string());
  auto got = emulator.admin("GET", "/enrollments/admin-device").json();
  CHECK(got["capabilities"]["iotEdge"] == true);
  CHECK(got["initialTwin"]["tags"]["region"] == "eu");
  CHECK(emulator.admin("GET", "/enrollments").json().size() == 1);
  auto bad = emulator.admin("PUT", "/enrollments/x1", {{"attestation", {{"type", "tpm"}}}});
  CHECK(bad.status == 400);
  CHECK(bad.json()["message"].get<std::string>().find("endorsementKey") != std::string::npos);
  CHECK(emulator.admin("PUT", "/enrollmentGroups/g1", {{"attestation", {{"type", "symmetricKey"}}}}).status == 201);
  CHECK(emulator.admin("GET", "/enrollmentGroups/g1").json()["attestation"]["symmetricKey"]["primaryKey"].is_string());
  CHECK(emulator.admin("DELETE", "/enrollments/admin-device").status == 204);
  CHECK(emulator.admin("GET", "/enrollments/admin-device").status == 404);
  CHECK(emulator.admin("DELETE", "/enrollmentGroups/g1").status == 204);
  CHECK(emulator.admin("GET", "/nothing").status == 404);
}

TEST_CASE("a hub SAS signed with the device key passes the hub SAS check, another key fails") {
  Emulator emulator({.enrollments_toml = enrollments});
  std::string token = openssl_sas(device_key, "device-001", now_unix() + 2400);
  write_file(emulator.dir() / "body.json", R"({"registrationId":"device-001"})");
  auto put = emulator.curl(c_sdk_put(token, (emulator.dir() / "body.json").string()), emulator.device_url("device-001"));
  auto state = emulator.curl({"-H", "Authorization: " + token},
                             emulator.device_url("device-001", "operations/" + put.json()["operationId"].get<std::string>()))
                   .json()["registrationState"];
  auto hub_token = [&](const std::string& key) {
    return shell(R"(set -e
hex=$(printf %s "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
sig=$(printf '%s\n%s' "$SR" "$SE" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$hex -binary | base64 | sed 's/+/%2b/g; s/\//%2f/g; s/=/%3d/g')
printf 'SharedAccessSignature sr=%s&sig=%s&se=%s' "$SR" "$sig" "$SE")",
                 {{"KEY", key},
                  {"SR", state["assignedHub"].get<std::string>() + "/devices/edge-device-001"},
                  {"SE", std::to_string(now_unix() + 3600)}});
  };
  auto good = emulator.admin("POST", "/hubSasCheck", {{"token", hub_token(device_key)}}).json();
  CHECK(good["valid"] == true);
  CHECK(good["registrationId"] == "device-001");
  CHECK(emulator.admin("POST", "/hubSasCheck", {{"token", hub_token(group_key)}}).json()["valid"] == false);
}

TEST_CASE("enrollments and registrations survive a restart with a state file") {
  TempDir state_dir;
  auto state_file = state_dir / "state.json";
  std::string first_hub, first_created;
  std::string token = openssl_sas(device_key, "device-001", now_unix() + 2400);
  {
    Emulator emulator({.enrollments_toml = enrollments, .state_file = state_file, .cert_dir = state_dir / "certs"});
    write_file(emulator.dir() / "body.json", R"({"registrationId":"device-001"})");
    auto put = emulator.curl(c_sdk_put(token, (emulator.dir() / "body.json").string()), emulator.device_url("device-001"));
    auto state = emulator.curl({"-H", "Authorization: " + token},
                               emulator.device_url("device-001", "operations/" + put.json()["operationId"].get<std::string>()))
                     .json()["registrationState"];
    first_hub = state["assignedHub"];
    first_created = state["createdDateTimeUtc"];
    REQUIRE(emulator.admin("PUT", "/enrollments/runtime-device",
                           {{"attestation", {{"type", "symmetricKey"}, {"symmetricKey", {{"primaryKey", device_key}}}}}}).status == 201);
    emulator.stop();
  }
  Emulator emulator({.state_file = state_file, .cert_dir = state_dir / "certs"});
  CHECK(emulator.admin("GET", "/enrollments/runtime-device").status == 200);
  auto registration = emulator.admin("GET", "/registrations/device-001").json();
  CHECK(registration["assignedHub"] == first_hub);
  write_file(emulator.dir() / "body.json", R"({"registrationId":"device-001"})");
  auto put = emulator.curl(c_sdk_put(token, (emulator.dir() / "body.json").string()), emulator.device_url("device-001"));
  auto state = emulator.curl({"-H", "Authorization: " + token},
                             emulator.device_url("device-001", "operations/" + put.json()["operationId"].get<std::string>()))
                   .json()["registrationState"];
  CHECK(state["assignedHub"] == first_hub);
  CHECK(state["createdDateTimeUtc"] == first_created);
}

TEST_CASE("a --config file sets the enrollments, the assigning polls and Retry-After") {
  TempDir dir;
  write_file(dir / "emulator.toml", R"(
assigning_polls = 1
retry_after_seconds = 4
[[enrollments]]
registrationId = "configured-device"
attestation = { type = "symmetricKey", symmetricKey = { primaryKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } }
)");
  Emulator emulator({.extra_args = {"--config", (dir / "emulator.toml").string()}});
  std::string token = openssl_sas(device_key, "configured-device", now_unix() + 600);
  write_file(emulator.dir() / "body.json", R"({"registrationId":"configured-device"})");
  auto put = emulator.curl(c_sdk_put(token, (emulator.dir() / "body.json").string()), emulator.device_url("configured-device"));
  REQUIRE(put.status == 202);
  CHECK(put.header("Retry-After") == "4");
  std::string url = emulator.device_url("configured-device", "operations/" + put.json()["operationId"].get<std::string>());
  CHECK(emulator.curl({"-H", "Authorization: " + token}, url).status == 202);
  CHECK(emulator.curl({"-H", "Authorization: " + token}, url).status == 200);
}

TEST_CASE("a wrong configuration stops the start with the file, the key and the fix") {
  TempDir dir;
  write_file(dir / "emulator.toml", "https = \"nowhere\"\n");
  auto r = run({.argv = {(bin_dir() / "dps-emulator").string(), "--config", (dir / "emulator.toml").string()}});
  CHECK(r.status.code == 1);
  CHECK(r.output.find("emulator.toml: https: expected \"ADDRESS:PORT\"") != std::string::npos);
}
