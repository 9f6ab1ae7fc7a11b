#include <catch2/catch_test_macros.hpp>

#include <string>
#include <variant>

#include "dps/request.h"

using namespace edgeprov;
using namespace edgeprov::dps;

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
