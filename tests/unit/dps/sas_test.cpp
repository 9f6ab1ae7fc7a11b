#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <variant>

#include "common/encoding.h"
#include "dps/sas.h"

using namespace edgeprov;
using namespace edgeprov::dps;

namespace {

// Group key = bytes 00..1f; the device key derived from it for "device-001" (see the first test).
const Secret group_key{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="};
const Secret device_key{"BG0x/0mIbqnG9RWsosby2GxBOeYgRhXI9gnRqn2lxFI="};

Bytes device_key_bytes() { return *base64_decode(device_key.reveal()); }

SystemTime at(std::int64_t unix_seconds) { return SystemTime{std::chrono::seconds{unix_seconds}}; }

SasToken parsed(std::string_view token) {
  auto result = parse_sas_token(token);
  REQUIRE(std::holds_alternative<SasToken>(result));
  return std::get<SasToken>(std::move(result));
}

std::string parse_error(std::string_view token) {
  auto result = parse_sas_token(token);
  REQUIRE(std::holds_alternative<SasTokenError>(result));
  return std::get<SasTokenError>(result).message;
}

}  // namespace

TEST_CASE("a group enrollment key derives the device key as HMAC-SHA-256 of the registration id") {
  // printf 'device-001' | openssl dgst -sha256 -mac HMAC
  //   (one line) -macopt hexkey:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f -binary | base64
  const auto derived = derive_group_device_key(group_key, "device-001");
  REQUIRE(derived);
  CHECK(derived->reveal() == device_key.reveal());
}

TEST_CASE("a group key that is not base64, or empty, derives nothing") {
  CHECK_FALSE(derive_group_device_key(Secret{"not base64!"}, "device-001"));
  CHECK_FALSE(derive_group_device_key(Secret{""}, "device-001"));
}

TEST_CASE("resource URIs are scope/registrations/id for DPS and hub/devices/id for the hub") {
  CHECK(dps_resource_uri("0ne00ABC123", "device-001") == "0ne00ABC123/registrations/device-001");
  CHECK(hub_resource_uri("myhub.azure-devices.net", "Device-1") == "myhub.azure-devices.net/devices/Device-1");
}

TEST_CASE("the C SDK URL encoder keeps ! ( ) * - . _ and alphanumerics and writes lowercase hex") {
  CHECK(c_sdk_url_encode("aZ09!()*-._") == "aZ09!()*-._");
  CHECK(c_sdk_url_encode("0ne00ABC123/registrations/x") == "0ne00ABC123%2fregistrations%2fx");
  CHECK(c_sdk_url_encode("a b~+=:") == "a%20b%7e%2b%3d%3a");
  CHECK(c_sdk_url_encode(std::string_view("\x1f\x7f", 2)) == "%1f%7f");
}

TEST_CASE("the C SDK URL encoder reads bytes above 0x7f as Latin-1 and writes their UTF-8 form") {
  CHECK(c_sdk_url_encode("\x80") == "%c2%80");
  CHECK(c_sdk_url_encode("\xbf") == "%c2%bf");
  CHECK(c_sdk_url_encode("\xc0") == "%c3%80");
  CHECK(c_sdk_url_encode("\xe9") == "%c3%a9");
  CHECK(c_sdk_url_encode("\xff") == "%c3%bf");
}

TEST_CASE("the aziot audience encoder lowercases and escapes only path-illegal characters and =") {
  CHECK(aziot_audience_encode("0ne00ABC123/registrations/Device-001") == "0ne00abc123/registrations/device-001");
  CHECK(aziot_audience_encode("a=b c?d#e{f}g\"h<i>j`k") == "a%3Db%20c%3Fd%23e%7Bf%7Dg%22h%3Ci%3Ej%60k");
  CHECK(aziot_audience_encode("x%y!*:+") == "x%y!*:+");
  CHECK(aziot_audience_encode("\x01\xe9") == "%01%E9");
}

TEST_CASE("the string to sign is sr, a newline and se") {
  CHECK(string_to_sign("0ne00ABC123%2fregistrations%2fdevice-001", 1700000000) ==
        "0ne00ABC123%2fregistrations%2fdevice-001\n1700000000");
}

TEST_CASE("se is now plus the lifetime in whole seconds") {
  const SystemTime now = at(1700000000) + std::chrono::milliseconds(999);
  CHECK(sas_expiry(now, std::chrono::seconds(2400)) == 1700002400);
}

TEST_CASE("a token is renewed once less than a minute of its life remains") {
  const std::int64_t expiry = 1700002400;
  CHECK_FALSE(sas_needs_renewal(expiry, at(1700000000)));
  CHECK_FALSE(sas_needs_renewal(expiry, at(1700002339)));
  CHECK(sas_needs_renewal(expiry, at(1700002340)));
  CHECK(sas_needs_renewal(expiry, at(1700009999)));
  CHECK(sas_expiry(at(1700000000), dps_sas_lifetime) == expiry);
}

TEST_CASE("a C SDK style DPS token matches the independently computed token") {
  // printf '0ne00ABC123%%2fregistrations%%2fdevice-001\n1700000000' | openssl dgst -sha256 -mac HMAC
  //   (one line) -macopt hexkey:046d31ff49886ea9c6f515aca2c6f2d86c4139e6204615c8f609d1aa7da5c452 -binary | base64
  //   -> hPXLnk5c+h3OPDVe/3vOdBdXyMIqDrU47MGUTKb2MKo=
  const SasParams params{dps_resource_uri("0ne00ABC123", "device-001"), 1700000000, "registration",
                         SasStyle::c_sdk_dps};
  const Secret token = make_sas_token(params, software_signer(device_key_bytes()));
  CHECK(token.reveal() ==
        "SharedAccessSignature sr=0ne00ABC123%2fregistrations%2fdevice-001"
        "&sig=hPXLnk5c%2bh3OPDVe%2f3vOdBdXyMIqDrU47MGUTKb2MKo%3d&se=1700000000&skn=registration");
}

TEST_CASE("an aziot style DPS token is lowercased, keeps slashes and writes uppercase hex in sig") {
  // printf '0ne00abc123/registrations/device-001\n1700000000' | openssl dgst -sha256 -mac HMAC
  //   (one line) -macopt hexkey:046d31ff49886ea9c6f515aca2c6f2d86c4139e6204615c8f609d1aa7da5c452 -binary | base64
  //   -> NWrO2hT7byC2b+UUigRj4uyH7vN5d3eAn2Qb3JNFTSM=
  const SasParams params{dps_resource_uri("0ne00ABC123", "device-001"), 1700000000, "registration",
                         SasStyle::aziot};
  const Secret token = make_sas_token(params, software_signer(device_key_bytes()));
  CHECK(token.reveal() ==
        "SharedAccessSignature sr=0ne00abc123/registrations/device-001"
        "&sig=NWrO2hT7byC2b%2BUUigRj4uyH7vN5d3eAn2Qb3JNFTSM%3D&se=1700000000&skn=registration");
}

TEST_CASE("hub tokens carry no skn and sign the scope as written in sr") {
  const Signer sign = software_signer(device_key_bytes());
  // printf 'myhub.azure-devices.net/devices/Device-1\n1700003600' | openssl dgst -sha256 -mac HMAC
  //   (one line) -macopt hexkey:046d31ff49886ea9c6f515aca2c6f2d86c4139e6204615c8f609d1aa7da5c452 -binary | base64
  const SasParams c_style{hub_resource_uri("myhub.azure-devices.net", "Device-1"), 1700003600, std::nullopt,
                          SasStyle::c_sdk_hub};
  CHECK(make_sas_token(c_style, sign).reveal() ==
        "SharedAccessSignature sr=myhub.azure-devices.net/devices/Device-1"
        "&sig=NrkqnKb8TxZ5vuKLwM5JmCqMn0io40hBhRchcK34wrc%3d&se=1700003600");
  // Same command over 'myhub.azure-devices.net/devices/device-1\n1700003600'.
  const SasParams aziot_style{hub_resource_uri("myhub.azure-devices.net", "Device-1"), 1700003600, std::nullopt,
                              SasStyle::aziot};
  CHECK(make_sas_token(aziot_style, sign).reveal() ==
        "SharedAccessSignature sr=myhub.azure-devices.net/devices/device-1"
        "&sig=JqhKzXtTepZcezKLyJGgzSrp%2FabCkn53JrwbQCh%2BFfs%3D&se=1700003600");
}

TEST_CASE("the signer is given exactly the encoded sr, a newline and se") {
  std::string seen;
  const Signer recording = [&seen](ByteView data) {
    seen = to_string(data);
    return Sha256Digest{};
  };
  const SasParams params{dps_resource_uri("0ne00ABC123", "device-001"), 42, "registration", SasStyle::c_sdk_dps};
  const Secret token = make_sas_token(params, recording);
  CHECK(seen == "0ne00ABC123%2fregistrations%2fdevice-001\n42");
  CHECK(token.reveal() ==
        "SharedAccessSignature sr=0ne00ABC123%2fregistrations%2fdevice-001"
        "&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3d&se=42&skn=registration");
}

TEST_CASE("a signer failure reaches the caller unchanged") {
  const Signer failing = [](ByteView) -> Sha256Digest { throw std::runtime_error("TPM HMAC failed"); };
  const SasParams params{dps_resource_uri("s", "r"), 1, "registration", SasStyle::c_sdk_dps};
  CHECK_THROWS_AS(make_sas_token(params, failing), std::runtime_error);
}

TEST_CASE("a built token formats as redacted") {
  const SasParams params{dps_resource_uri("s", "r"), 1, "registration", SasStyle::c_sdk_dps};
  const Secret token = make_sas_token(params, software_signer(device_key_bytes()));
  CHECK(fmt::format("{}", token) == "<redacted>");
}

TEST_CASE("a C SDK token parses into its fields and verifies with the device key") {
  const SasToken token = parsed(
      "SharedAccessSignature sr=0ne00ABC123%2fregistrations%2fdevice-001"
      "&sig=hPXLnk5c%2bh3OPDVe%2f3vOdBdXyMIqDrU47MGUTKb2MKo%3d&se=1700000000&skn=registration");
  CHECK(token.sr == "0ne00ABC123%2fregistrations%2fdevice-001");
  CHECK(token.resource_uri == "0ne00ABC123/registrations/device-001");
  CHECK(base64_encode(token.signature) == "hPXLnk5c+h3OPDVe/3vOdBdXyMIqDrU47MGUTKb2MKo=");
  CHECK(token.expiry_unix_seconds == 1700000000);
  CHECK(token.key_name == "registration");
  CHECK(token.signed_string() == "0ne00ABC123%2fregistrations%2fdevice-001\n1700000000");
  CHECK(verify_sas_token(token, "0ne00ABC123/registrations/device-001", device_key_bytes(), at(1699999999)) ==
        SasVerdict::valid);
}

TEST_CASE("an aziot token verifies against the mixed-case resource it was made for") {
  const SasToken token = parsed(
      "SharedAccessSignature sr=0ne00abc123/registrations/device-001"
      "&sig=NWrO2hT7byC2b%2BUUigRj4uyH7vN5d3eAn2Qb3JNFTSM%3D&se=1700000000&skn=registration");
  CHECK(token.sr == "0ne00abc123/registrations/device-001");
  CHECK(verify_sas_token(token, "0ne00ABC123/registrations/device-001", device_key_bytes(), at(1699999000)) ==
        SasVerdict::valid);
}

TEST_CASE("fields may come in any order and skn may be absent") {
  const SasToken token = parsed(
      "SharedAccessSignature se=1700003600&sig=NrkqnKb8TxZ5vuKLwM5JmCqMn0io40hBhRchcK34wrc%3d"
      "&sr=myhub.azure-devices.net/devices/Device-1");
  CHECK_FALSE(token.key_name);
  CHECK(verify_sas_token(token, "myhub.azure-devices.net/devices/Device-1", device_key_bytes(), at(1700000000)) ==
        SasVerdict::valid);
}

TEST_CASE("verification rejects another resource, an expired token and a wrong key") {
  const SasToken token = parsed(
      "SharedAccessSignature sr=0ne00ABC123%2fregistrations%2fdevice-001"
      "&sig=hPXLnk5c%2bh3OPDVe%2f3vOdBdXyMIqDrU47MGUTKb2MKo%3d&se=1700000000&skn=registration");
  const Bytes key = device_key_bytes();
  CHECK(verify_sas_token(token, "0ne00ABC123/registrations/device-002", key, at(1699999999)) ==
        SasVerdict::wrong_resource);
  CHECK(verify_sas_token(token, "0ne00ABC123/registrations/device-001", key, at(1700000000)) ==
        SasVerdict::expired);
  Bytes other = key;
  other[0] ^= 1;
  CHECK(verify_sas_token(token, "0ne00ABC123/registrations/device-001", other, at(1699999999)) ==
        SasVerdict::bad_signature);
  CHECK(to_string(SasVerdict::bad_signature) == "the token's signature does not match the key");
}

TEST_CASE("a token whose sr was altered after signing fails verification") {
  // Same signature, but sr spelled with uppercase %2F: the signed bytes differ.
  const SasToken token = parsed(
      "SharedAccessSignature sr=0ne00ABC123%2Fregistrations%2Fdevice-001"
      "&sig=hPXLnk5c%2bh3OPDVe%2f3vOdBdXyMIqDrU47MGUTKb2MKo%3d&se=1700000000&skn=registration");
  CHECK(verify_sas_token(token, "0ne00ABC123/registrations/device-001", device_key_bytes(), at(1)) ==
        SasVerdict::bad_signature);
}

TEST_CASE("malformed tokens are reported without throwing and without echoing the signature") {
  const std::string sig = "hPXLnk5c%2bh3OPDVe%2f3vOdBdXyMIqDrU47MGUTKb2MKo%3d";
  CHECK(parse_error("") == "the SAS token does not start with \"SharedAccessSignature \"");
  CHECK(parse_error("sharedaccesssignature sr=a&sig=" + sig + "&se=1") ==
        "the SAS token does not start with \"SharedAccessSignature \"");
  CHECK(parse_error("SharedAccessSignature ") == "the SAS token has no fields after \"SharedAccessSignature \"");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=" + sig) == "the SAS token has no se (expiry) field");
  CHECK(parse_error("SharedAccessSignature sig=" + sig + "&se=1") == "the SAS token has no sr (resource URI) field");
  CHECK(parse_error("SharedAccessSignature sr=a&se=1") == "the SAS token has no sig (signature) field");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=" + sig + "&se=1&sr=b") ==
        "the SAS token has the field sr twice");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=" + sig + "&se=1&foo=1") ==
        "the SAS token has an unknown field \"foo\" (only sr, sig, se and skn are allowed)");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=" + sig + "&se=1&") ==
        "a SAS token field has no '=' (expected name=value)");
  CHECK(parse_error("SharedAccessSignature sr=&sig=" + sig + "&se=1") == "the SAS token field sr is empty");
  CHECK(parse_error("SharedAccessSignature sr=a%2&sig=" + sig + "&se=1") ==
        "the SAS token field sr has an invalid percent-encoding");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=not*base64&se=1") == "the SAS token field sig is not valid base64");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=AAAA&se=1") ==
        "the SAS token field sig is 3 bytes long; an HMAC-SHA-256 signature is 32");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=" + sig + "&se=01") ==
        "the SAS token field se is not a decimal number of seconds since 1970");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=" + sig + "&se=-1") ==
        "the SAS token field se is not a decimal number of seconds since 1970");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=" + sig + "&se=99999999999999999999") ==
        "the SAS token field se is not a decimal number of seconds since 1970");
  CHECK(parse_error("SharedAccessSignature sr=a&sig=" + sig + "&se=1&skn=%zz") ==
        "the SAS token field skn has an invalid percent-encoding");
}

TEST_CASE("arbitrary bytes never make the token parser throw") {
  // A deterministic sweep of short garbage strings appended to a valid prefix.
  std::string input = "SharedAccessSignature ";
  const std::string alphabet = "sr=&ig%e2fkn0A+/\n\x80";
  std::uint32_t state = 12345;
  for (int i = 0; i < 2000; ++i) {
    state = state * 1103515245u + 12345u;
    input.resize(22 + (state >> 8) % 24);
    for (std::size_t j = 22; j < input.size(); ++j) {
      state = state * 1103515245u + 12345u;
      input[j] = alphabet[(state >> 16) % alphabet.size()];
    }
    CHECK_NOTHROW(parse_sas_token(input));
  }
}
