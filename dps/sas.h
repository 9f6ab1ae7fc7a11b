// dps/sas.h — Shared Access Signature tokens for DPS and IoT Hub (docs/dps-protocol.md §4): resource URIs,
// the string to sign, building a token from a signature, strict parsing and verification, and the
// symmetric-key group derivation. Pure: never reads the clock, never holds a key, never logs a token.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "common/time.h"

namespace edgeprov::dps {

// The DPS audience "{idScope}/registrations/{registrationId}" and the hub audience
// "{hubHostname}/devices/{deviceId}", unencoded and with their case kept.
std::string dps_resource_uri(std::string_view id_scope, std::string_view registration_id);
std::string hub_resource_uri(std::string_view hub_hostname, std::string_view device_id);

// How a token writes `sr` and `sig`. The signed string is always `sr` exactly as it appears in the
// token, then "\n", then `se`; the styles differ only in how `sr` and `sig` are spelled.
enum class SasStyle {
  // Azure IoT C SDK DPS tokens (and Microsoft's documented form): sr = c_sdk_url_encode(resource),
  // so "/" is "%2f" and case is kept; sig = c_sdk_url_encode(base64(mac)), lowercase hex.
  c_sdk_dps,
  // Azure IoT C SDK hub tokens (urlencode_token_scope=false): sr is the resource as is; sig as c_sdk_dps.
  c_sdk_hub,
  // aziot (iot-identity-service): sr = aziot_audience_encode(resource), lowercased with "/" literal;
  // sig form-encoded with uppercase hex ("%2B", "%2F", "%3D").
  aziot,
};

// c-utility URL_EncodeString: keeps A-Z a-z 0-9 ! ( ) * - . _, writes lowercase hex, and reads bytes
// >= 0x80 as Latin-1, writing their UTF-8 form ("%c2%xx" / "%c3%xx"), exactly as the C SDK does.
std::string c_sdk_url_encode(std::string_view text);
// aziot's audience encoding: to_lowercase(), then percent-encode (uppercase hex) the WHATWG path set
// (controls, space, " < > ` # ? { }), "=" and every byte >= 0x80. "/" and "%" stay literal.
std::string aziot_audience_encode(std::string_view resource_uri);

std::string encode_sr(std::string_view resource_uri, SasStyle style);
std::string encode_sig(const Sha256Digest& mac, SasStyle style);

// The bytes the key signs: sr + "\n" + se, where sr is the encoded form that appears in the token.
std::string string_to_sign(std::string_view sr, std::int64_t expiry_unix_seconds);

// `se` for a token minted at `now` that lives `lifetime` (whole seconds since the Unix epoch).
std::int64_t sas_expiry(SystemTime now, std::chrono::seconds lifetime);

// Lifetimes. DPS: the C SDK's 2400 s, which DPS is known to accept; one token serves the register PUT and
// the polls, and is re-minted once less than sas_renewal_margin remains (aziot's 30 s token can expire in
// the middle of a long poll). Hub: the C SDK's default of one hour.
inline constexpr std::chrono::seconds dps_sas_lifetime{2400};
inline constexpr std::chrono::seconds hub_sas_lifetime{3600};
inline constexpr std::chrono::seconds sas_renewal_margin{60};

// True when a token expiring at `expiry_unix_seconds` must be replaced before a request sent at `now`.
bool sas_needs_renewal(std::int64_t expiry_unix_seconds, SystemTime now,
                       std::chrono::seconds margin = sas_renewal_margin);

// A signer computes HMAC-SHA-256 over the string to sign: the TPM key at 0x81000100 or a software key.
// It reports its own failures by throwing (a TPM error keeps its type); nothing here catches them.
using Signer = std::function<Sha256Digest(ByteView)>;

// A software signer with `key` (raw key bytes, e.g. base64-decoded symmetric key).
Signer software_signer(Bytes key);

struct SasParams {
  std::string resource_uri;               // dps_resource_uri(...) or hub_resource_uri(...), unencoded
  std::int64_t expiry_unix_seconds = 0;   // sas_expiry(now, lifetime)
  std::optional<std::string> key_name;    // "skn": "registration" for DPS, absent for the hub
  SasStyle style = SasStyle::c_sdk_dps;
};

// "SharedAccessSignature sr=…&sig=…&se=…[&skn=…]" from an already computed signature.
Secret assemble_sas_token(const SasParams& params, const Sha256Digest& mac);
// Encodes sr, asks `sign` for the MAC of string_to_sign, assembles the token.
Secret make_sas_token(const SasParams& params, const Signer& sign);

// A token taken apart. `sr` is kept as sent because that is what was signed.
struct SasToken {
  std::string sr;                        // as in the token (still percent-encoded)
  std::string resource_uri;              // sr percent-decoded
  Sha256Digest signature{};              // sig, percent- and base64-decoded
  std::int64_t expiry_unix_seconds = 0;  // se
  std::optional<std::string> key_name;   // skn, percent-decoded

  [[nodiscard]] std::string signed_string() const { return string_to_sign(sr, expiry_unix_seconds); }
};

struct SasTokenError {
  std::string message;  // names the defect; never contains the token or its signature
};

// Strict: exactly "SharedAccessSignature " then sr, sig, se (any order) and optionally skn, each once,
// nothing else; se is a decimal without sign or leading zeros; sig is base64 of 32 bytes. Never throws.
std::variant<SasToken, SasTokenError> parse_sas_token(std::string_view token);

enum class SasVerdict { valid, wrong_resource, expired, bad_signature };

// What a server checks: the decoded sr names `expected_resource_uri` (ASCII case-insensitive, since aziot
// lowercases), `now` is before se, and HMAC-SHA-256(key, signed_string) equals sig (constant time).
SasVerdict verify_sas_token(const SasToken& token, std::string_view expected_resource_uri, ByteView key,
                            SystemTime now);
std::string_view to_string(SasVerdict verdict);

// §4.4 group enrollment: base64(HMAC-SHA-256(base64decode(group key), registrationId)). std::nullopt if
// the group key is empty or not valid padded base64.
std::optional<Secret> derive_group_device_key(const Secret& group_key_base64, std::string_view registration_id);

}  // namespace edgeprov::dps
