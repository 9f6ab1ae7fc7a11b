#include <catch2/catch_test_macros.hpp>

#include "common/encoding.h"
#include "emulator/sas_check.h"

using namespace edgeprov;
using namespace edgeprov::emulator;

// Vectors of docs/dps-protocol.md §4.5, re-checked with the openssl command line:
//   key=$(echo -n device-001 | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1f -binary | base64)
//   printf '0ne00ABC123%%2fregistrations%%2fdevice-001\n1700000000' | openssl dgst -sha256 -mac HMAC
//     -macopt hexkey:$(echo -n $key | base64 -d | xxd -p -c 100) -binary | base64
namespace {
const char* device_key = "BG0x/0mIbqnG9RWsosby2GxBOeYgRhXI9gnRqn2lxFI=";
const char* c_token =
    "SharedAccessSignature sr=0ne00ABC123%2fregistrations%2fdevice-001&sig=hPXLnk5c%2bh3OPDVe%2f3vOdBdXyMIqDrU47MGUTKb2MKo%3d"
    "&se=1700000000&skn=registration";
const char* r_token =
    "SharedAccessSignature sr=0ne00abc123/registrations/device-001&sig=NWrO2hT7byC2b%2BUUigRj4uyH7vN5d3eAn2Qb3JNFTSM%3D"
    "&se=1700000000&skn=registration";
const SystemTime at_signing = SystemTime(std::chrono::seconds(1700000000 - 60));
std::vector<Bytes> keys() { return {*base64_decode(device_key)}; }
}  // namespace

TEST_CASE("a token signed the Azure C SDK way (URL-encoded sr, lowercase hex) verifies") {
  auto token = parse_sas_token(c_token);
  REQUIRE(token);
  CHECK(token->key_name == "registration");
  CHECK(verify_sas(*token, "0ne00ABC123/registrations/device-001", keys(), at_signing).verdict == SasVerdict::valid);
}

TEST_CASE("a token signed the aziot way (raw lowercased sr, uppercase hex) verifies against a mixed-case scope") {
  auto token = parse_sas_token(r_token);
  REQUIRE(token);
  CHECK(verify_sas(*token, "0ne00ABC123/registrations/device-001", keys(), at_signing).verdict == SasVerdict::valid);
}

TEST_CASE("a token signed with another key is a bad signature and says which key to check") {
  auto token = parse_sas_token(c_token);
  std::vector<Bytes> wrong{Bytes(32, 7)};
  auto check = verify_sas(*token, "0ne00ABC123/registrations/device-001", wrong, at_signing);
  CHECK(check.verdict == SasVerdict::bad_signature);
  CHECK(describe(check.verdict).find("key") != std::string::npos);
}

TEST_CASE("the second key of an enrollment is reported as the one that signed") {
  auto token = parse_sas_token(c_token);
  std::vector<Bytes> both{Bytes(32, 7), *base64_decode(device_key)};
  auto check = verify_sas(*token, "0ne00ABC123/registrations/device-001", both, at_signing);
  CHECK(check.verdict == SasVerdict::valid);
  CHECK(check.key_index == 1);
}

TEST_CASE("a token for another registration id is the wrong audience") {
  auto token = parse_sas_token(c_token);
  CHECK(verify_sas(*token, "0ne00ABC123/registrations/device-002", keys(), at_signing).verdict == SasVerdict::wrong_audience);
}

TEST_CASE("a token expired beyond the skew is refused, within the skew accepted") {
  auto token = parse_sas_token(c_token);
  auto audience = "0ne00ABC123/registrations/device-001";
  CHECK(verify_sas(*token, audience, keys(), SystemTime(std::chrono::seconds(1700000000 + 299))).verdict == SasVerdict::valid);
  CHECK(verify_sas(*token, audience, keys(), SystemTime(std::chrono::seconds(1700000000 + 301))).verdict == SasVerdict::expired);
}

TEST_CASE("text that is not a SAS token is not parsed") {
  CHECK_FALSE(parse_sas_token(""));
  CHECK_FALSE(parse_sas_token("Bearer abc"));
  CHECK_FALSE(parse_sas_token("SharedAccessSignature sr=a&se=1"));
  const std::string sig = "hPXLnk5c%2bh3OPDVe%2f3vOdBdXyMIqDrU47MGUTKb2MKo%3d";
  CHECK_FALSE(parse_sas_token("SharedAccessSignature sr=a&sig=" + sig + "&se=1&bogus=2"));
  CHECK(parse_sas_token("SharedAccessSignature se=1&sig=" + sig + "&sr=a"));
}
