#include <set>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/encoding.h"
#include "emulator/allocation.h"
#include "emulator/provisioning_service.h"
#include "tests/unit/emulator/tpm_vectors.h"

using namespace edgeprov;
using namespace edgeprov::emulator;
using nlohmann::json;

namespace {

const std::string scope = "0ne00ABC123";
const std::string group_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 00..1f
const std::string individual_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct Fixture {
  SystemTime now = SystemTime(std::chrono::seconds(1700000000));
  ServiceOptions options() {
    ServiceOptions o;
    o.id_scope = scope;
    o.iot_hubs = {"hub-a.azure-devices.net", "hub-b.azure-devices.net", "hub-c.azure-devices.net"};
    o.clock = [this] { return now; };
    return o;
  }
};

std::string sas(const std::string& key_b64, const std::string& registration_id, long long expiry = 1700000000 + 2400) {
  std::string sr = url_encode(scope + "/registrations/" + registration_id, true);
  std::string se = std::to_string(expiry);
  auto mac = hmac_sha256(*base64_decode(key_b64), as_bytes(sr + "\n" + se));
  return "SharedAccessSignature sr=" + sr + "&sig=" + url_encode(base64_encode(mac), true) + "&se=" + se + "&skn=registration";
}

std::string derived(const std::string& registration_id) {
  return base64_encode(hmac_sha256(*base64_decode(group_key), as_bytes(registration_id)));
}

json symmetric_enrollment(const std::string& key = individual_key) {
  return {{"attestation", {{"type", "symmetricKey"}, {"symmetricKey", {{"primaryKey", key}, {"secondaryKey", key}}}}}};
}

DeviceRequest put(const std::string& id, std::optional<std::string> auth, json body = nullptr) {
  DeviceRequest r;
  r.registration_id = id;
  r.authorization = std::move(auth);
  r.body = (body.is_null() ? json{{"registrationId", id}} : body).dump();
  return r;
}

DeviceRequest poll(const std::string& id, const std::string& op, std::optional<std::string> auth) {
  DeviceRequest r;
  r.registration_id = id;
  r.operation_id = op;
  r.authorization = std::move(auth);
  return r;
}

// Registers and polls once; returns the poll reply body.
json provision(ProvisioningService& service, const std::string& id, const std::string& key, json body = nullptr) {
  auto reply = service.register_device(put(id, sas(key, id), body));
  REQUIRE(reply.status == 202);
  auto op = json::parse(reply.body)["operationId"].get<std::string>();
  auto polled = service.operation_status(poll(id, op, sas(key, id)));
  REQUIRE(polled.status == 200);
  return json::parse(polled.body);
}

}  // namespace

TEST_CASE("a register request with a valid individual symmetric-key SAS gets 202 assigning with Retry-After") {
  Fixture f;
  ProvisioningService service(f.options());
  REQUIRE(service.put_enrollment("device-001", symmetric_enrollment()).status == 201);
  auto reply = service.register_device(put("device-001", sas(individual_key, "device-001")));
  CHECK(reply.status == 202);
  CHECK(reply.retry_after == 1);
  auto body = json::parse(reply.body);
  CHECK(body["status"] == "assigning");
  CHECK(body["operationId"].get<std::string>().size() > 10);
  CHECK(body.size() == 2);
}

TEST_CASE("the first poll returns 200 assigned with every registrationState field of §2.4") {
  Fixture f;
  ProvisioningService service(f.options());
  service.put_enrollment("device-001", symmetric_enrollment());
  json body = provision(service, "device-001", individual_key);
  CHECK(body["status"] == "assigned");
  const json& state = body["registrationState"];
  CHECK(state["registrationId"] == "device-001");
  CHECK(state["assignedHub"] == *allocate_hub(AllocationPolicy::hashed, f.options().iot_hubs, "device-001"));
  CHECK(state["deviceId"] == "device-001");
  CHECK(state["status"] == "assigned");
  CHECK(state["substatus"] == "initialAssignment");
  CHECK(state["createdDateTimeUtc"] == "2023-11-14T22:13:20.000Z");
  CHECK(state["lastUpdatedDateTimeUtc"] == "2023-11-14T22:13:20.000Z");
  CHECK(state["etag"].is_string());
  CHECK_FALSE(state.contains("payload"));
  CHECK_FALSE(state.contains("tpm"));
}

TEST_CASE("a device of a symmetric-key group registers with the key derived from the group key (§4.4 vector)") {
  Fixture f;
  ProvisioningService service(f.options());
  json group = symmetric_enrollment(group_key);
  REQUIRE(service.put_group("group-1", group).status == 201);
  CHECK(derived("device-001") == "BG0x/0mIbqnG9RWsosby2GxBOeYgRhXI9gnRqn2lxFI=");
  json body = provision(service, "device-001", derived("device-001"));
  CHECK(body["registrationState"]["deviceId"] == "device-001");
  // Signed with the group key itself instead of the derived key: no group accepts it.
  auto reply = service.register_device(put("device-002", sas(group_key, "device-002")));
  CHECK(reply.status == 404);
}

TEST_CASE("an unknown registration id gets 404 with error code 404201 and a message naming the fix") {
  Fixture f;
  ProvisioningService service(f.options());
  auto reply = service.register_device(put("nobody", sas(individual_key, "nobody")));
  CHECK(reply.status == 404);
  auto body = json::parse(reply.body);
  CHECK(body["errorCode"] == 404201);
  CHECK(body["message"].get<std::string>().find("create the enrollment") != std::string::npos);
  CHECK(body.contains("trackingId"));
  CHECK(body.contains("timestampUtc"));
}

TEST_CASE("a wrong key, a missing token and an expired token get 401 with error code 401002") {
  Fixture f;
  ProvisioningService service(f.options());
  service.put_enrollment("device-001", symmetric_enrollment());
  auto wrong = service.register_device(put("device-001", sas(group_key, "device-001")));
  CHECK(wrong.status == 401);
  CHECK(json::parse(wrong.body)["errorCode"] == 401002);
  CHECK(service.register_device(put("device-001", std::nullopt)).status == 401);
  CHECK(service.register_device(put("device-001", sas(individual_key, "device-001", 1700000000 - 1000))).status == 401);
}

TEST_CASE("a disabled enrollment authenticates and its operation ends in status disabled") {
  Fixture f;
  ProvisioningService service(f.options());
  json e = symmetric_enrollment();
  e["provisioningStatus"] = "disabled";
  service.put_enrollment("device-001", e);
  json body = provision(service, "device-001", individual_key);
  CHECK(body["status"] == "disabled");
  CHECK(body["registrationState"]["status"] == "disabled");
  CHECK_FALSE(body["registrationState"].contains("assignedHub"));
}

TEST_CASE("with assigning_polls = 2 the operation answers 202 assigning twice, then 200 assigned") {
  Fixture f;
  auto options = f.options();
  options.assigning_polls = 2;
  options.retry_after_seconds = 3;
  ProvisioningService service(options);
  service.put_enrollment("device-001", symmetric_enrollment());
  auto reply = service.register_device(put("device-001", sas(individual_key, "device-001")));
  auto op = json::parse(reply.body)["operationId"].get<std::string>();
  for (int i = 0; i < 2; ++i) {
    auto polled = service.operation_status(poll("device-001", op, sas(individual_key, "device-001")));
    CHECK(polled.status == 202);
    CHECK(polled.retry_after == 3);
    auto body = json::parse(polled.body);
    CHECK(body["status"] == "assigning");
    CHECK(body["registrationState"]["registrationId"] == "device-001");
  }
  auto polled = service.operation_status(poll("device-001", op, sas(individual_key, "device-001")));
  CHECK(polled.status == 200);
  CHECK_FALSE(polled.retry_after);
}

TEST_CASE("a poll for an unknown operation is 404 and a poll with a bad token is 401") {
  Fixture f;
  ProvisioningService service(f.options());
  service.put_enrollment("device-001", symmetric_enrollment());
  auto reply = service.register_device(put("device-001", sas(individual_key, "device-001")));
  auto op = json::parse(reply.body)["operationId"].get<std::string>();
  CHECK(service.operation_status(poll("device-001", "4.nope", sas(individual_key, "device-001"))).status == 404);
  CHECK(service.operation_status(poll("device-002", op, sas(individual_key, "device-002"))).status == 404);
  CHECK(service.operation_status(poll("device-001", op, sas(group_key, "device-001"))).status == 401);
}

TEST_CASE("re-registering with an unchanged enrollment returns the same hub; a changed hub list migrates, and back") {
  Fixture f;
  ProvisioningService service(f.options());
  json e = symmetric_enrollment();
  e["iotHubs"] = {"hub-a.azure-devices.net"};
  service.put_enrollment("device-001", e);
  auto first = provision(service, "device-001", individual_key)["registrationState"];
  CHECK(first["assignedHub"] == "hub-a.azure-devices.net");
  auto again = provision(service, "device-001", individual_key)["registrationState"];
  CHECK(again["assignedHub"] == "hub-a.azure-devices.net");
  CHECK(again["substatus"] == "initialAssignment");
  CHECK(again["createdDateTimeUtc"] == first["createdDateTimeUtc"]);

  e["iotHubs"] = {"hub-b.azure-devices.net"};
  service.put_enrollment("device-001", e);
  auto moved = provision(service, "device-001", individual_key)["registrationState"];
  CHECK(moved["assignedHub"] == "hub-b.azure-devices.net");
  CHECK(moved["substatus"] == "deviceDataMigrated");

  e["iotHubs"] = {"hub-a.azure-devices.net"};
  service.put_enrollment("device-001", e);
  auto back = provision(service, "device-001", individual_key)["registrationState"];
  CHECK(back["assignedHub"] == "hub-a.azure-devices.net");
  CHECK(back["substatus"] == "reprovisionedToInitialAssignment");
}

TEST_CASE("putting an identical enrollment again keeps its etag, so devices keep their hub") {
  Fixture f;
  ProvisioningService service(f.options());
  auto a = service.put_enrollment("device-001", symmetric_enrollment());
  auto b = service.put_enrollment("device-001", symmetric_enrollment());
  CHECK(a.body["etag"] == b.body["etag"]);
  CHECK(b.status == 200);
}

TEST_CASE("custom allocation echoes the request payload; a static reply payload wins over the echo") {
  Fixture f;
  ProvisioningService service(f.options());
  json e = symmetric_enrollment();
  e["allocationPolicy"] = "custom";
  service.put_enrollment("device-001", e);
  json request = {{"registrationId", "device-001"}, {"payload", {{"modelId", "dtmi:x;1"}}}};
  auto state = provision(service, "device-001", individual_key, request)["registrationState"];
  CHECK(state["payload"] == json{{"modelId", "dtmi:x;1"}});

  e["replyPayload"] = {{"site", "lab"}};
  service.put_enrollment("device-001", e);
  state = provision(service, "device-001", individual_key, request)["registrationState"];
  CHECK(state["payload"] == json{{"site", "lab"}});
}

TEST_CASE("without any hub the operation fails with error code 400208") {
  Fixture f;
  auto options = f.options();
  options.iot_hubs.clear();
  ProvisioningService service(options);
  service.put_enrollment("device-001", symmetric_enrollment());
  json body = provision(service, "device-001", individual_key);
  CHECK(body["status"] == "failed");
  CHECK(body["registrationState"]["errorCode"] == 400208);
  CHECK(body["registrationState"]["errorMessage"].get<std::string>().find("iot_hubs") != std::string::npos);
}

TEST_CASE("a body that is not JSON, or names another registration id, is a 400") {
  Fixture f;
  ProvisioningService service(f.options());
  service.put_enrollment("device-001", symmetric_enrollment());
  auto request = put("device-001", sas(individual_key, "device-001"));
  request.body = "{\"registrationId\":";
  CHECK(service.register_device(request).status == 400);
  request.body = R"({"registrationId":"device-002"})";
  CHECK(service.register_device(request).status == 400);
  request.body = R"({"registrationId":"device-001","payload":{"url":"a\/b"}})";
  CHECK(service.register_device(request).status == 202);
}

TEST_CASE("a hub SAS signed with the device key is valid for the assigned hub; another key is not") {
  Fixture f;
  ProvisioningService service(f.options());
  service.put_enrollment("device-001", symmetric_enrollment());
  auto state = provision(service, "device-001", individual_key)["registrationState"];
  std::string sr = state["assignedHub"].get<std::string>() + "/devices/device-001";
  auto token = [&](const std::string& key) {
    auto mac = hmac_sha256(*base64_decode(key), as_bytes(sr + "\n1700003600"));
    return "SharedAccessSignature sr=" + sr + "&sig=" + url_encode(base64_encode(mac)) + "&se=1700003600";
  };
  CHECK(service.check_hub_sas(token(individual_key)).body["valid"] == true);
  CHECK(service.check_hub_sas(token(group_key)).body["valid"] == false);
}

TEST_CASE("TPM: the first request gets 401 with a 766-byte authenticationKey and keyName registration") {
  Fixture f;
  ProvisioningService service(f.options());
  std::string ek = base64_encode(*hex_decode(vectors::vector_ek_public));
  REQUIRE(service.put_enrollment("tpm-device", {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", ek}}}}}}).status == 201);
  json body = {{"registrationId", "tpm-device"}, {"tpm", {{"endorsementKey", ek}, {"storageRootKey", ek}}}};
  auto reply = service.register_device(put("tpm-device", std::nullopt, body));
  CHECK(reply.status == 401);
  auto challenge = json::parse(reply.body);
  CHECK(challenge["keyName"] == "registration");
  CHECK(base64_decode(challenge["authenticationKey"].get<std::string>())->size() == 766);
  CHECK_FALSE(challenge.contains("status"));
  // A token signed with anything but the challenge key is refused.
  CHECK(service.register_device(put("tpm-device", sas(individual_key, "tpm-device"), body)).status == 401);
}

TEST_CASE("TPM: an endorsement key that differs from the enrollment's is refused with 401") {
  Fixture f;
  ProvisioningService service(f.options());
  Bytes ek_bytes = *hex_decode(vectors::vector_ek_public);
  service.put_enrollment("tpm-device", {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", base64_encode(ek_bytes)}}}}}});
  ek_bytes.back() ^= 1;
  json body = {{"tpm", {{"endorsementKey", base64_encode(ek_bytes)}, {"storageRootKey", base64_encode(ek_bytes)}}}};
  auto reply = service.register_device(put("tpm-device", std::nullopt, body));
  CHECK(reply.status == 401);
  CHECK(json::parse(reply.body)["message"].get<std::string>().find("endorsement key") != std::string::npos);
}

TEST_CASE("enrollment bodies with a bad attestation are refused with a message naming the field") {
  Fixture f;
  ProvisioningService service(f.options());
  auto r = service.put_enrollment("d1", {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", "AAAA"}}}}}});
  CHECK(r.status == 400);
  CHECK(r.body["message"].get<std::string>().find("endorsementKey") != std::string::npos);
  CHECK(service.put_enrollment("d1", {{"attestation", {{"type", "magic"}}}}).status == 400);
  CHECK(service.put_group("g1", {{"attestation", {{"type", "tpm"}}}}).status == 400);
  CHECK(service.put_enrollment("bad id!", symmetric_enrollment()).status == 400);
  CHECK(service.put_enrollment("d1", {{"registrationId", "d2"}, {"attestation", symmetric_enrollment()["attestation"]}}).status == 400);
}

TEST_CASE("a snapshot restored into a new service keeps enrollments, registrations and hub keys") {
  Fixture f;
  ProvisioningService service(f.options());
  service.put_enrollment("device-001", symmetric_enrollment());
  auto state = provision(service, "device-001", individual_key)["registrationState"];
  ProvisioningService restored(f.options());
  restored.restore(service.snapshot());
  CHECK(restored.get_enrollment("device-001").status == 200);
  CHECK(restored.get_registration("device-001").body["assignedHub"] == state["assignedHub"]);
  auto again = provision(restored, "device-001", individual_key)["registrationState"];
  CHECK(again["assignedHub"] == state["assignedHub"]);
  CHECK(again["createdDateTimeUtc"] == state["createdDateTimeUtc"]);
}

TEST_CASE("api-version 2019-03-31 through 2021-06-01 is accepted, others are not") {
  CHECK(accepted_api_version("2019-03-31"));
  CHECK(accepted_api_version("2021-06-01"));
  CHECK(accepted_api_version("2020-01-15"));
  CHECK_FALSE(accepted_api_version("2018-11-01"));
  CHECK_FALSE(accepted_api_version("2021-11-01-preview"));
  CHECK_FALSE(accepted_api_version(""));
}

TEST_CASE("hashed allocation is deterministic and spreads ids; static takes the first hub") {
  std::vector<std::string> hubs{"a", "b", "c"};
  CHECK(allocate_hub(AllocationPolicy::hashed, hubs, "device-001") == allocate_hub(AllocationPolicy::hashed, hubs, "DEVICE-001"));
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) seen.insert(*allocate_hub(AllocationPolicy::hashed, hubs, "device-" + std::to_string(i)));
  CHECK(seen.size() == 3);
  CHECK(allocate_hub(AllocationPolicy::static_hub, hubs, "device-001") == "a");
  CHECK_FALSE(allocate_hub(AllocationPolicy::hashed, {}, "x"));
}

TEST_CASE("with assigning_time = 10 s the operation answers assigning until 10 s after the register request") {
  Fixture f;
  auto options = f.options();
  options.assigning_time = std::chrono::seconds(10);
  ProvisioningService service(options);
  service.put_enrollment("device-001", symmetric_enrollment());
  auto reply = service.register_device(put("device-001", sas(individual_key, "device-001")));
  auto op = json::parse(reply.body)["operationId"].get<std::string>();
  f.now += std::chrono::seconds(9);
  CHECK(service.operation_status(poll("device-001", op, sas(individual_key, "device-001"))).status == 202);
  f.now += std::chrono::seconds(1);
  CHECK(service.operation_status(poll("device-001", op, sas(individual_key, "device-001"))).status == 200);
}
