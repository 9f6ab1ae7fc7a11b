// common/encoding.h — text encodings of bytes used on the wire: base64 (DPS bodies, keys), lowercase
// unpadded base32 (TPM registration ids), hex, and URL percent-encoding (DPS paths, SAS `sr`).
// Decoders are strict and report bad input with std::nullopt; they never throw.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace edgeprov {

std::string base64_encode(ByteView data);                       // RFC 4648 §4, padded
std::optional<Bytes> base64_decode(std::string_view text);      // padded standard alphabet only

std::string base32_encode_lower_unpadded(ByteView data);        // RFC 4648 §6, lowercase, no '='

std::string hex_encode(ByteView data);                          // lowercase
std::optional<Bytes> hex_decode(std::string_view text);

// Percent-encodes every byte except RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~),
// with uppercase hex as RFC 3986 recommends. `lowercase_hex` gives the Azure C SDK's form.
std::string url_encode(std::string_view text, bool lowercase_hex = false);
std::optional<std::string> url_decode(std::string_view text);  // '+' is kept literally

}  // namespace edgeprov
