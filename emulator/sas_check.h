// emulator/sas_check.h — how the emulator checks the SAS tokens devices present (DPS registration and IoT Hub
// device audiences), on top of the shared dps/sas.h parser and verifier: several candidate keys (primary,
// secondary), a clock-skew allowance on expiry, and reasons worded for error replies. Pure; never logs.
#pragma once
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/time.h"
#include "dps/sas.h"

namespace edgeprov::emulator {

using dps::SasToken;

// std::nullopt when the text is not a well-formed SAS token (dps::parse_sas_token's strict rules).
std::optional<SasToken> parse_sas_token(std::string_view text);

enum class SasVerdict { valid, malformed, wrong_audience, expired, bad_signature };

// Why a verdict failed, in words for an error reply (never contains the token).
std::string describe(SasVerdict verdict);

struct SasCheck {
  SasVerdict verdict = SasVerdict::malformed;
  std::size_t key_index = 0;  // which key signed it when valid
};

// `audience` is the unencoded resource ("{scope}/registrations/{id}" or "{hub}/devices/{id}"), compared
// case-insensitively. The signature covers `sr` exactly as the token spells it, so both client encodings
// (URL-encoded as the C SDK signs, raw and lowercased as aziot signs) verify. `keys` are raw HMAC keys.
SasCheck verify_sas(const SasToken& token, std::string_view audience, std::span<const Bytes> keys, SystemTime now,
                    std::chrono::seconds skew = std::chrono::seconds(300));

// The audience named by `sr` (percent-decoded).
inline std::optional<std::string> sas_audience(const SasToken& token) { return token.resource_uri; }

}  // namespace edgeprov::emulator
