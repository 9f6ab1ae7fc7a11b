#include "common/secret.h"

#include <openssl/crypto.h>

namespace edgeprov {

bool operator==(const Secret& a, const Secret& b) {
  return a.value_.size() == b.value_.size() &&
         CRYPTO_memcmp(a.value_.data(), b.value_.data(), a.value_.size()) == 0;
}

void Secret::wipe() {
  if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
}

}  // namespace edgeprov
