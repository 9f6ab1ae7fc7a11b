// common/bytes.h — the byte-string type every layer passes around (TPM blobs, keys, digests).
// Never holds text that must be printed: use the encoders in encoding.h for that.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgeprov {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline Bytes to_bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }
inline std::string to_string(ByteView bytes) { return std::string(bytes.begin(), bytes.end()); }
inline ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace edgeprov
