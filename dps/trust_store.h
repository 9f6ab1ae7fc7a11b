// dps/trust_store.h — the system's trusted root certificates, for a TLS client context whose
// [edgeprov.dps] trusted_ca is not set. Linux: OpenSSL's default locations (Debian's ca-certificates,
// /etc/ssl/certs). Windows: the certificates of the "ROOT" system store (Trusted Root Certification
// Authorities, what Windows itself trusts), copied into the context; OpenSSL's own default locations
// are never read there (docs/windows.md says why).
#pragma once
#include <optional>
#include <string>

using SSL_CTX = struct ssl_ctx_st;

namespace edgeprov::dps {

enum class SystemTrustFailure {
  store_unavailable,  // the store could not be opened or read
  store_empty,        // it holds no certificate usable for a TLS server
};

struct SystemTrustError {
  SystemTrustFailure failure;
  std::string cause;  // what failed, in the system's words
  std::string fix;    // what the user can do, on this platform
};

// Adds the system's trusted roots to `context`'s verify store.
std::optional<SystemTrustError> load_system_trust(SSL_CTX* context);

// Where the roots come from, for messages: "the system trust store" · "the Windows certificate store
// (ROOT)".
std::string system_trust_name();

}  // namespace edgeprov::dps
