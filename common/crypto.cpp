#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace edgeprov {

Sha256Digest sha256(ByteView data) {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL SHA-256 failed");
  return out;
}

Sha256Digest hmac_sha256(ByteView key, ByteView data) {
  Sha256Digest out{};
  unsigned int len = 0;
  static const std::uint8_t empty = 0;
  if (HMAC(EVP_sha256(), key.empty() ? &empty : key.data(), static_cast<int>(key.size()),
           data.data(), data.size(), out.data(), &len) == nullptr)
    throw std::runtime_error("OpenSSL HMAC-SHA-256 failed");
  return out;
}

Bytes random_bytes(std::size_t count) {
  Bytes out(count);
  if (count != 0 && RAND_bytes(out.data(), static_cast<int>(count)) != 1)
    throw std::runtime_error("OpenSSL RAND_bytes failed: the system random source is unavailable");
  return out;
}

bool constant_time_equal(ByteView a, ByteView b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace edgeprov
