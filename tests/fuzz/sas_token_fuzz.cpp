// A SAS token as a server takes it apart (the emulator checks every token a device presents with it):
// dps::parse_sas_token is strict and total; a token it accepts must verify against a key, and its signed
// string must be rebuilt from its own parts. An error message is short: it never repeats the token.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dps/sas.h"
#include "tests/fuzz/fuzz_check.h"

using namespace edgeprov;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = dps::parse_sas_token(text);
  if (const auto* error = std::get_if<dps::SasTokenError>(&parsed)) {
    // Fixed wording; of the input at most a field name's first 16 bytes: the token never reaches a log.
    FUZZ_CHECK(!error->message.empty());
    FUZZ_CHECK(error->message.size() <= 120);
    return 0;
  }
  const auto& token = std::get<dps::SasToken>(parsed);
  FUZZ_CHECK(token.signed_string() == dps::string_to_sign(token.sr, token.expiry_unix_seconds));
  FUZZ_CHECK(token.expiry_unix_seconds >= 0);
  static const Bytes key(32, 0x5a);
  const auto verdict = dps::verify_sas_token(token, token.resource_uri, key, SystemTime(std::chrono::seconds(0)));
  FUZZ_CHECK(verdict == dps::SasVerdict::valid || verdict == dps::SasVerdict::bad_signature ||
             verdict == dps::SasVerdict::expired);
  (void)dps::verify_sas_token(token, "0ne00FUZZ01/registrations/fuzz-device", key, SystemTime{});
  return 0;
}
