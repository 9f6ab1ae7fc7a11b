#include "dps/sas.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>

#include "common/encoding.h"

namespace edgeprov::dps {
namespace {

constexpr std::string_view token_prefix = "SharedAccessSignature ";

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool ascii_iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

void append_hex(std::string& out, unsigned value, bool lowercase) {
  const char* digits = lowercase ? "0123456789abcdef" : "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(digits[(value >> 4) & 0xF]);
  out.push_back(digits[value & 0xF]);
}

// url::form_urlencoded::byte_serialize, which aziot uses for sig/se/skn: keeps alphanumerics and * - . _,
// writes space as '+', and percent-encodes everything else with uppercase hex.
std::string form_urlencode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '*' ||
                      c == '-' || c == '.' || c == '_';
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      append_hex(out, c, false);
    }
  }
  return out;
}

std::optional<std::int64_t> parse_unix_seconds(std::string_view text) {
  if (text.empty() || (text.size() > 1 && text.front() == '0')) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string dps_resource_uri(std::string_view id_scope, std::string_view registration_id) {
  std::string uri;
  uri.reserve(id_scope.size() + registration_id.size() + 15);
  uri.append(id_scope).append("/registrations/").append(registration_id);
  return uri;
}

std::string hub_resource_uri(std::string_view hub_hostname, std::string_view device_id) {
  std::string uri;
  uri.reserve(hub_hostname.size() + device_id.size() + 9);
  uri.append(hub_hostname).append("/devices/").append(device_id);
  return uri;
}

// Hand-written rather than common::url_encode: the C SDK keeps ! ( ) * and escapes ~, and maps bytes
// >= 0x80 as Latin-1 to UTF-8; a token must match its bytes exactly for the signature to agree.
std::string c_sdk_url_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    const bool printable = c == '!' || c == '(' || c == ')' || c == '*' || c == '-' || c == '.' || c == '_' ||
                           (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (printable) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x80) {
      append_hex(out, c, true);
    } else {
      // U+0080..U+00FF in UTF-8 is C2 80..C2 BF or C3 80..C3 BF.
      append_hex(out, c < 0xC0 ? 0xC2u : 0xC3u, true);
      append_hex(out, c < 0xC0 ? c : c - 0x40u, true);
    }
  }
  return out;
}

std::string aziot_audience_encode(std::string_view resource_uri) {
  std::string out;
  out.reserve(resource_uri.size());
  for (char raw : resource_uri) {
    const auto c = static_cast<unsigned char>(ascii_lower(raw));
    const bool encode = c < 0x20 || c >= 0x7F || c == ' ' || c == '"' || c == '<' || c == '>' || c == '`' ||
                        c == '#' || c == '?' || c == '{' || c == '}' || c == '=';
    if (encode) {
      append_hex(out, c, false);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string encode_sr(std::string_view resource_uri, SasStyle style) {
  switch (style) {
    case SasStyle::c_sdk_dps: return c_sdk_url_encode(resource_uri);
    case SasStyle::c_sdk_hub: return std::string(resource_uri);
    case SasStyle::aziot: return aziot_audience_encode(resource_uri);
  }
  return std::string(resource_uri);
}

std::string encode_sig(const Sha256Digest& mac, SasStyle style) {
  const std::string b64 = base64_encode(mac);
  return style == SasStyle::aziot ? form_urlencode(b64) : c_sdk_url_encode(b64);
}

std::string string_to_sign(std::string_view sr, std::int64_t expiry_unix_seconds) {
  std::string text(sr);
  text.push_back('\n');
  text.append(std::to_string(expiry_unix_seconds));
  return text;
}

std::int64_t sas_expiry(SystemTime now, std::chrono::seconds lifetime) {
  return std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count() + lifetime.count();
}

bool sas_needs_renewal(std::int64_t expiry_unix_seconds, SystemTime now, std::chrono::seconds margin) {
  return sas_expiry(now, margin) >= expiry_unix_seconds;
}

Signer software_signer(Bytes key) {
  return [key = std::move(key)](ByteView data) { return hmac_sha256(key, data); };
}

Secret assemble_sas_token(const SasParams& params, const Sha256Digest& mac) {
  std::string token(token_prefix);
  token.append("sr=").append(encode_sr(params.resource_uri, params.style));
  token.append("&sig=").append(encode_sig(mac, params.style));
  token.append("&se=").append(std::to_string(params.expiry_unix_seconds));
  if (params.key_name) {
    token.append("&skn=").append(params.style == SasStyle::aziot ? form_urlencode(*params.key_name)
                                                                  : c_sdk_url_encode(*params.key_name));
  }
  return Secret(std::move(token));
}

Secret make_sas_token(const SasParams& params, const Signer& sign) {
  const std::string to_sign = string_to_sign(encode_sr(params.resource_uri, params.style), params.expiry_unix_seconds);
  return assemble_sas_token(params, sign(as_bytes(to_sign)));
}

std::variant<SasToken, SasTokenError> parse_sas_token(std::string_view token) {
  auto fail = [](std::string message) { return SasTokenError{std::move(message)}; };
  if (!token.starts_with(token_prefix)) {
    return fail("the SAS token does not start with \"SharedAccessSignature \"");
  }
  std::string_view rest = token.substr(token_prefix.size());
  if (rest.empty()) return fail("the SAS token has no fields after \"SharedAccessSignature \"");

  std::optional<std::string_view> sr, sig, se, skn;
  while (true) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) return fail("a SAS token field has no '=' (expected name=value)");
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value = pair.substr(eq + 1);
    std::optional<std::string_view>* slot = name == "sr"    ? &sr
                                            : name == "sig" ? &sig
                                            : name == "se"  ? &se
                                            : name == "skn" ? &skn
                                                            : nullptr;
    if (slot == nullptr) {
      // The name is not secret, but bound its length so a garbage token cannot flood a log line.
      return fail("the SAS token has an unknown field \"" + std::string(name.substr(0, 16)) +
                  "\" (only sr, sig, se and skn are allowed)");
    }
    if (*slot) return fail("the SAS token has the field " + std::string(name) + " twice");
    if (value.empty()) return fail("the SAS token field " + std::string(name) + " is empty");
    *slot = value;
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  if (!sr) return fail("the SAS token has no sr (resource URI) field");
  if (!sig) return fail("the SAS token has no sig (signature) field");
  if (!se) return fail("the SAS token has no se (expiry) field");

  SasToken parsed;
  parsed.sr = std::string(*sr);
  auto resource = url_decode(*sr);
  if (!resource) return fail("the SAS token field sr has an invalid percent-encoding");
  parsed.resource_uri = std::move(*resource);

  const auto sig_text = url_decode(*sig);
  if (!sig_text) return fail("the SAS token field sig has an invalid percent-encoding");
  const auto mac = base64_decode(*sig_text);
  if (!mac) return fail("the SAS token field sig is not valid base64");
  if (mac->size() != parsed.signature.size()) {
    return fail("the SAS token field sig is " + std::to_string(mac->size()) +
                " bytes long; an HMAC-SHA-256 signature is 32");
  }
  std::copy(mac->begin(), mac->end(), parsed.signature.begin());

  const auto expiry = parse_unix_seconds(*se);
  if (!expiry) return fail("the SAS token field se is not a decimal number of seconds since 1970");
  parsed.expiry_unix_seconds = *expiry;

  if (skn) {
    auto key_name = url_decode(*skn);
    if (!key_name) return fail("the SAS token field skn has an invalid percent-encoding");
    parsed.key_name = std::move(*key_name);
  }
  return parsed;
}

SasVerdict verify_sas_token(const SasToken& token, std::string_view expected_resource_uri, ByteView key,
                            SystemTime now) {
  if (!ascii_iequal(token.resource_uri, expected_resource_uri)) return SasVerdict::wrong_resource;
  const auto now_seconds = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  if (now_seconds >= token.expiry_unix_seconds) return SasVerdict::expired;
  const std::string signed_text = token.signed_string();
  const Sha256Digest expected = hmac_sha256(key, as_bytes(signed_text));
  if (!constant_time_equal(expected, token.signature)) return SasVerdict::bad_signature;
  return SasVerdict::valid;
}

std::string_view to_string(SasVerdict verdict) {
  switch (verdict) {
    case SasVerdict::valid: return "valid";
    case SasVerdict::wrong_resource: return "the token's sr names a different registration or device";
    case SasVerdict::expired: return "the token has expired (se is in the past)";
    case SasVerdict::bad_signature: return "the token's signature does not match the key";
  }
  return "unknown";
}

std::optional<Secret> derive_group_device_key(const Secret& group_key_base64, std::string_view registration_id) {
  const auto group_key = base64_decode(group_key_base64.reveal());
  if (!group_key || group_key->empty()) return std::nullopt;
  const Sha256Digest device_key = hmac_sha256(*group_key, as_bytes(registration_id));
  return Secret(base64_encode(device_key));
}

}  // namespace edgeprov::dps
