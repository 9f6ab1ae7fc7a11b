#include "emulator/sas_check.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "common/crypto.h"
#include "common/encoding.h"

namespace edgeprov::emulator {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<SasToken> parse_sas_token(std::string_view text) {
  constexpr std::string_view prefix = "SharedAccessSignature ";
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r' || text.back() == '\n')) text.remove_suffix(1);
  if (text.size() <= prefix.size() || lower(text.substr(0, prefix.size())) != lower(prefix)) return std::nullopt;
  text.remove_prefix(prefix.size());
  SasToken token;
  bool has_sr = false, has_sig = false, has_se = false;
  while (!text.empty()) {
    auto amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view name = pair.substr(0, eq), value = pair.substr(eq + 1);
    if (name == "sr") { token.sr = value; has_sr = true; }
    else if (name == "sig") { token.sig = value; has_sig = true; }
    else if (name == "se") { token.se = value; has_se = true; }
    else if (name == "skn") token.skn = value;
    else return std::nullopt;
  }
  if (!has_sr || !has_sig || !has_se) return std::nullopt;
  return token;
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

std::optional<std::string> sas_audience(const SasToken& token) { return url_decode(token.sr); }

SasCheck verify_sas(const SasToken& token, std::string_view audience, std::span<const Bytes> keys, SystemTime now,
                    std::chrono::seconds skew) {
  auto decoded_sr = url_decode(token.sr);
  if (!decoded_sr) return {SasVerdict::malformed};
  if (lower(*decoded_sr) != lower(audience)) return {SasVerdict::wrong_audience};

  long long expiry = 0;
  auto [end, ec] = std::from_chars(token.se.data(), token.se.data() + token.se.size(), expiry);
  if (ec != std::errc{} || end != token.se.data() + token.se.size()) return {SasVerdict::malformed};
  auto now_seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (expiry + skew.count() < now_seconds) return {SasVerdict::expired};

  auto sig_text = url_decode(token.sig);
  if (!sig_text) return {SasVerdict::malformed};
  auto signature = base64_decode(*sig_text);
  if (!signature || signature->size() != 32) return {SasVerdict::malformed};

  // The device signs the `sr` exactly as it put it in the token; other encodings of the same audience are
  // accepted too, because clients disagree on the encoding (§4.3) and DPS evidently accepts both.
  std::vector<std::string> candidates{token.sr, *decoded_sr, url_encode(*decoded_sr, true), url_encode(*decoded_sr, false)};
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (const auto& sr : candidates) {
      std::string to_sign = sr + "\n" + token.se;
      auto mac = hmac_sha256(keys[i], as_bytes(to_sign));
      if (constant_time_equal(mac, *signature)) return {SasVerdict::valid, i};
    }
  }
  return {SasVerdict::bad_signature};
}

}  // namespace edgeprov::emulator
