#include "emulator/sas_check.h"

namespace edgeprov::emulator {

std::optional<SasToken> parse_sas_token(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r' || text.back() == '\n')) text.remove_suffix(1);
  auto parsed = dps::parse_sas_token(text);
  if (auto* token = std::get_if<SasToken>(&parsed)) return std::move(*token);
  return std::nullopt;
}

std::string describe(SasVerdict verdict) {
  switch (verdict) {
    case SasVerdict::valid: return "valid";
    case SasVerdict::malformed:
      return "the Authorization header is not a SAS token (expected \"SharedAccessSignature sr=…&sig=…&se=…&skn=…\")";
    case SasVerdict::wrong_audience:
      return "the SAS token's sr does not name this resource (expected \"{idScope}/registrations/{registrationId}\")";
    case SasVerdict::expired: return "the SAS token has expired (se is in the past); check the device clock and mint a new token";
    case SasVerdict::bad_signature:
      return "the SAS token's signature does not match the enrollment's key; check the device key (for a group: "
             "HMAC-SHA256 of the registration id with the group key)";
  }
  return "unknown";
}

SasCheck verify_sas(const SasToken& token, std::string_view audience, std::span<const Bytes> keys, SystemTime now,
                    std::chrono::seconds skew) {
  // A token that expired less than `skew` ago is still accepted: device clocks drift.
  SystemTime lenient_now = now - skew;
  SasVerdict last = SasVerdict::bad_signature;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    switch (dps::verify_sas_token(token, audience, keys[i], lenient_now)) {
      case dps::SasVerdict::valid: return {SasVerdict::valid, i};
      case dps::SasVerdict::wrong_resource: return {SasVerdict::wrong_audience};
      case dps::SasVerdict::expired: return {SasVerdict::expired};
      case dps::SasVerdict::bad_signature: last = SasVerdict::bad_signature; break;
    }
  }
  return {last};
}

}  // namespace edgeprov::emulator
