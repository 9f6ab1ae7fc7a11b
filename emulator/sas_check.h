// emulator/sas_check.h — verifying the SAS tokens devices present (DPS registration and IoT Hub device
// audiences, docs/dps-protocol.md §4). Accepts both client encodings of `sr` (URL-encoded, lowercase hex,
// as the Azure C SDK signs it; raw and lowercased as aziot signs it). Pure; never logs a token or a key.
#pragma once
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/time.h"

namespace edgeprov::emulator {

struct SasToken {
  std::string sr;   // as it appears in the token (still encoded)
  std::string sig;  // as it appears in the token (still encoded)
  std::string se;
  std::string skn;
};

// "SharedAccessSignature sr=…&sig=…&se=…[&skn=…]", fields in any order; std::nullopt if not that shape.
std::optional<SasToken> parse_sas_token(std::string_view text);

enum class SasVerdict { valid, malformed, wrong_audience, expired, bad_signature };

// Why a verdict failed, in words for an error reply (never contains the token).
std::string describe(SasVerdict verdict);

struct SasCheck {
  SasVerdict verdict = SasVerdict::malformed;
  std::size_t key_index = 0;  // which key signed it when valid
};

// `audience` is the unencoded resource ("{scope}/registrations/{id}" or "{hub}/devices/{id}"),
// compared case-insensitively. `keys` are raw HMAC keys (already base64-decoded).
SasCheck verify_sas(const SasToken& token, std::string_view audience, std::span<const Bytes> keys, SystemTime now,
                    std::chrono::seconds skew = std::chrono::seconds(300));

// The audience encoded in `sr` (URL-decoded), or std::nullopt.
std::optional<std::string> sas_audience(const SasToken& token);

}  // namespace edgeprov::emulator
