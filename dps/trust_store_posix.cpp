// dps/trust_store_posix.cpp — the system roots on Linux: OpenSSL's default locations, which Debian's
// OpenSSL points at /etc/ssl/certs (filled by ca-certificates). OpenSSL reads that directory lazily, per
// issuer, so an empty directory shows only at the first handshake, as an untrusted server.
#include "dps/trust_store.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace edgeprov::dps {

std::optional<SystemTrustError> load_system_trust(SSL_CTX* context) {
  if (SSL_CTX_set_default_verify_paths(context) == 1) return std::nullopt;
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return SystemTrustError{SystemTrustFailure::store_unavailable,
                          reason != nullptr ? reason : "OpenSSL could not set its default locations",
                          "install the ca-certificates package or set [edgeprov.dps] trusted_ca"};
}

std::string system_trust_name() { return "the system trust store"; }

}  // namespace edgeprov::dps
