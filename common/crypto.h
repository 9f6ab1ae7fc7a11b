// common/crypto.h — the few software primitives outside the TPM: SHA-256, HMAC-SHA-256 (symmetric-key
// SAS, emulator verification), random bytes, constant-time comparison. All on OpenSSL 3; never logs.
#pragma once
#include <array>
#include <cstdint>

#include "common/bytes.h"

namespace edgeprov {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(ByteView data);
Sha256Digest hmac_sha256(ByteView key, ByteView data);
Bytes random_bytes(std::size_t count);  // CSPRNG (RAND_bytes); throws std::runtime_error if it fails
bool constant_time_equal(ByteView a, ByteView b);

}  // namespace edgeprov
