#include <catch2/catch_test_macros.hpp>

#include <string>
#include <variant>

#include "dps/request.h"

using namespace edgeprov;
using namespace edgeprov::dps;

namespace {

GlobalEndpoint endpoint_of(std::string_view text) {
  auto result = parse_endpoint(text);
  INFO(text);
  REQUIRE(std::holds_alternative<GlobalEndpoint>(result));
  return std::get<GlobalEndpoint>(result);
}

std::string endpoint_error(std::string_view text) {
  auto result = parse_endpoint(text);
  INFO(text);
  REQUIRE(std::holds_alternative<EndpointError>(result));
  return std::get<EndpointError>(result).message;
}

MqttReplyTopic topic_of(std::string_view text) {
  auto result = parse_mqtt_reply_topic(text);
  INFO(text);
  REQUIRE(std::holds_alternative<MqttReplyTopic>(result));
  return std::get<MqttReplyTopic>(result);
}

}  // namespace

TEST_CASE("the global endpoint is read as aziot writes it and as the C SDK takes it") {
  CHECK(endpoint_of("https://global.azure-devices-provisioning.net/") ==
        GlobalEndpoint{"global.azure-devices-provisioning.net", 443});
  CHECK(endpoint_of("https://global.azure-devices-provisioning.net") ==
        GlobalEndpoint{"global.azure-devices-provisioning.net", 443});
  CHECK(endpoint_of("global.azure-devices-provisioning.net") == GlobalEndpoint{"global.azure-devices-provisioning.net", 443});
  CHECK(endpoint_of("https://127.0.0.1:8443/") == GlobalEndpoint{"127.0.0.1", 8443});
  CHECK(endpoint_of("localhost:9000") == GlobalEndpoint{"localhost", 9000});
  CHECK(endpoint_of("https://[::1]:8443/") == GlobalEndpoint{"::1", 8443});
}

TEST_CASE("a global endpoint over plain http, with a path, user info or a bad port is refused with the fix") {
  CHECK(endpoint_error("http://dps.example/") ==
        "provisioning.global_endpoint \"http://dps.example/\" uses http://: DPS is only reached over TLS; write "
        "https://dps.example/");
  CHECK(endpoint_error("https://dps.example/some/path") ==
        "provisioning.global_endpoint \"https://dps.example/some/path\" has a path or query; give only the scheme "
        "and host, e.g. https://global.azure-devices-provisioning.net/");
  CHECK(endpoint_error("https://user:pw@dps.example/").find("contains user information") != std::string::npos);
  CHECK(endpoint_error("https://dps.example:0/").find("invalid port") != std::string::npos);
  CHECK(endpoint_error("https://dps.example:70000/").find("invalid port") != std::string::npos);
  CHECK(endpoint_error("https://dps.example:/").find("gives no port") != std::string::npos);
  CHECK(endpoint_error("https://").find("has no host name") != std::string::npos);
  CHECK(endpoint_error("https://dps example/").find("host name with characters") != std::string::npos);
  CHECK(endpoint_error("https://[::1/").find("closing ']'") != std::string::npos);
}

TEST_CASE("registration ids of letters, digits and - . _ : up to 128 characters are accepted") {
  CHECK_FALSE(check_registration_id("device-001"));
  CHECK_FALSE(check_registration_id("2qhly4toce4kgbetqhromb3ss4fnzyv7kuv3btq3gxfny7aozdna"));
  CHECK_FALSE(check_registration_id("Edge_01.site:a"));
  CHECK_FALSE(check_registration_id(std::string(128, 'a')));
}

TEST_CASE("a registration id DPS would refuse is reported with what to change") {
  CHECK(check_registration_id("") == "the registration id is empty: set [provisioning.attestation] registration_id");
  CHECK(check_registration_id("my device") ==
        "the registration id \"my%20device\" contains a character DPS does not accept (%20): use only letters, "
        "digits and - . _ :");
  CHECK(check_registration_id("a/b")->find("(%2f)") != std::string::npos);
  CHECK(check_registration_id(std::string(129, 'a'))->find("is 129 characters long; DPS accepts at most 128") !=
        std::string::npos);
}

TEST_CASE("the register path escapes each segment and carries api-version 2021-06-01") {
  CHECK(register_path("0ne00ABC123", "device-001") ==
        "/0ne00ABC123/registrations/device-001/register?api-version=2021-06-01");
  CHECK(register_path("0ne00ABC123", "a/b c") == "/0ne00ABC123/registrations/a%2fb%20c/register?api-version=2021-06-01");
}

TEST_CASE("the operation status path escapes the operation id") {
  CHECK(operation_status_path("0ne00ABC123", "device-001", "5.316aac5bdc130deb.b1e02da8-c3a0-4ff2-a121-7ea7a6b7f550") ==
        "/0ne00ABC123/registrations/device-001/operations/5.316aac5bdc130deb.b1e02da8-c3a0-4ff2-a121-7ea7a6b7f550"
        "?api-version=2021-06-01");
  CHECK(operation_status_path("s", "r", "x?y&z") == "/s/registrations/r/operations/x%3fy%26z?api-version=2021-06-01");
}

TEST_CASE("requests carry User-Agent and Accept, and Content-Type only with a body") {
  CHECK(standard_headers("edgeprov/0.1.0", true) ==
        HttpHeaders{{"User-Agent", "edgeprov/0.1.0"},
                    {"Accept", "application/json"},
                    {"Content-Type", "application/json; charset=utf-8"}});
  CHECK(standard_headers("edgeprov/0.1.0", false) ==
        HttpHeaders{{"User-Agent", "edgeprov/0.1.0"}, {"Accept", "application/json"}});
}

TEST_CASE("a symmetric key or X.509 register body has only the registration id") {
  CHECK(register_body("device-001", std::nullopt, std::nullopt) == R"({"registrationId":"device-001"})");
}

TEST_CASE("a register body carries the payload as JSON after the registration id") {
  const auto payload = nlohmann::json::parse(R"({"modelId":"dtmi:com:example;1","tags":[1,2]})");
  CHECK(register_body("device-001", std::nullopt, payload) ==
        R"({"registrationId":"device-001","payload":{"modelId":"dtmi:com:example;1","tags":[1,2]}})");
  CHECK(register_body("device-001", std::nullopt, nlohmann::json(nullptr)) ==
        R"({"registrationId":"device-001","payload":null})");
}

TEST_CASE("a TPM register body carries the EK and SRK as standard base64 with unescaped slashes") {
  // printf '\xfb\xff\x01' | base64 -> +/8B ; printf '\x00\x01' | base64 -> AAE=
  const TpmKeys keys{Bytes{0xfb, 0xff, 0x01}, Bytes{0x00, 0x01}};
  CHECK(register_body("device-001", keys, std::nullopt) ==
        R"({"registrationId":"device-001","tpm":{"endorsementKey":"+/8B","storageRootKey":"AAE="}})");
  CHECK(register_body("device-001", keys, nlohmann::json{{"a", 1}}) ==
        R"({"registrationId":"device-001","tpm":{"endorsementKey":"+/8B","storageRootKey":"AAE="},"payload":{"a":1}})");
}

TEST_CASE("a registration id with invalid UTF-8 does not make the body builder throw") {
  std::string body;
  CHECK_NOTHROW(body = register_body("bad\xff", std::nullopt, std::nullopt));
  CHECK(body == "{\"registrationId\":\"bad\xef\xbf\xbd\"}");
}

TEST_CASE("the MQTT username names scope, registration, api-version and client version") {
  CHECK(mqtt_username("0ne00ABC123", "device-001", "edgeprov/0.1.0") ==
        "0ne00ABC123/registrations/device-001/api-version=2021-06-01&ClientVersion=edgeprov/0.1.0");
}

TEST_CASE("the MQTT register and status topics carry the request id") {
  CHECK(mqtt_register_topic(1) == "$dps/registrations/PUT/iotdps-register/?$rid=1");
  CHECK(mqtt_status_topic(7, "4.abc.def-1") ==
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7&operationId=4.abc.def-1");
  CHECK(mqtt_status_topic(7, "a&b=c") ==
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7&operationId=a%26b%3dc");
  CHECK(mqtt_subscribe_topic == "$dps/registrations/res/#");
}

TEST_CASE("an MQTT reply topic gives its status, request id and retry-after") {
  CHECK(topic_of("$dps/registrations/res/202/?$rid=1&retry-after=8") == MqttReplyTopic{202, "1", "8"});
  CHECK(topic_of("$dps/registrations/res/429/?$rid=1") == MqttReplyTopic{429, "1", ""});
  CHECK(topic_of("$dps/registrations/res/200/?$rid=3&foo=bar&retry-after=3") == MqttReplyTopic{200, "3", "3"});
  CHECK(topic_of("$dps/registrations/res/500") == MqttReplyTopic{500, "", ""});
  CHECK(topic_of("$dps/registrations/res/500/") == MqttReplyTopic{500, "", ""});
}

TEST_CASE("a topic that is not a DPS reply is reported, not guessed at") {
  for (const char* bad : {"$iothub/twin/res/200/?$rid=1", "$dps/registrations/res/", "$dps/registrations/res/2x2/?$rid=1",
                          "$dps/registrations/res/2020/?$rid=1", "$dps/registrations/res/099/?$rid=1",
                          "$dps/registrations/res/200/rid=1"}) {
    INFO(bad);
    CHECK(std::holds_alternative<MqttTopicError>(parse_mqtt_reply_topic(bad)));
  }
  CHECK(std::get<MqttTopicError>(parse_mqtt_reply_topic("$iothub/x")).message ==
        "unexpected DPS reply topic: it does not start with $dps/registrations/res/");
}
