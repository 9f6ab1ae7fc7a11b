// dps/trust_store_windows.cpp — the system roots on Windows: the "ROOT" system store (Trusted Root
// Certification Authorities, what Windows itself trusts), copied into the context's X509_STORE.
// OpenSSL's default locations (OPENSSLDIR\certs, cert.pem) are not used: Windows keeps its roots in the
// certificate store, not in files, and OpenSSL 3.0 cannot read that store itself.
#include "dps/trust_store.h"
#include "dps/trust_store_windows.h"

#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ipc/windows_text.h"

namespace edgeprov::dps {
namespace {

constexpr const char* set_trusted_ca =
    "set [edgeprov.dps] trusted_ca to the PEM file of the CA that signed the DPS server certificate";

}  // namespace

namespace detail {

bool trusted_for_server_auth(PCCERT_CONTEXT certificate) {
  DWORD size = 0;
  if (!CertGetEnhancedKeyUsage(certificate, 0, nullptr, &size) || size < sizeof(CERT_ENHKEY_USAGE)) return false;
  std::vector<unsigned char> buffer(size);
  auto* usage = reinterpret_cast<CERT_ENHKEY_USAGE*>(buffer.data());
  if (!CertGetEnhancedKeyUsage(certificate, 0, usage, &size)) return false;
  if (usage->cUsageIdentifier == 0) {
    // Documented: an empty list with CRYPT_E_NOT_FOUND means "good for all uses" (no restriction at all);
    // without it, "good for none".
    return GetLastError() == static_cast<DWORD>(CRYPT_E_NOT_FOUND);
  }
  for (DWORD i = 0; i < usage->cUsageIdentifier; ++i) {
    if (std::strcmp(usage->rgpszUsageIdentifier[i], szOID_PKIX_KP_SERVER_AUTH) == 0) return true;
  }
  return false;
}

std::size_t add_server_roots(HCERTSTORE from, X509_STORE* to) {
  std::size_t added = 0;
  PCCERT_CONTEXT certificate = nullptr;
  // CertEnumCertificatesInStore frees the previous context on each call, and the last one on its end.
  while ((certificate = CertEnumCertificatesInStore(from, certificate)) != nullptr) {
    if (certificate->dwCertEncodingType != X509_ASN_ENCODING || !trusted_for_server_auth(certificate)) continue;
    const unsigned char* der = certificate->pbCertEncoded;
    X509* x509 = d2i_X509(nullptr, &der, static_cast<long>(certificate->cbCertEncoded));
    if (x509 == nullptr) continue;  // a certificate OpenSSL cannot parse cannot verify anything either
    // Fails only when out of memory; a certificate already there (the store may list one twice) succeeds.
    if (X509_STORE_add_cert(to, x509) == 1) ++added;
    X509_free(x509);
  }
  ERR_clear_error();  // what skipped certificates left behind
  return added;
}

}  // namespace detail

std::optional<SystemTrustError> load_system_trust(SSL_CTX* context) {
  HCERTSTORE store = CertOpenSystemStoreW(0, L"ROOT");
  if (store == nullptr) {
    return SystemTrustError{SystemTrustFailure::store_unavailable,
                            fmt::format("the ROOT store cannot be opened: {}",
                                        ipc::detail::win32_message(GetLastError())),
                            set_trusted_ca};
  }
  const std::size_t added = detail::add_server_roots(store, SSL_CTX_get_cert_store(context));
  CertCloseStore(store, 0);
  if (added == 0) {
    return SystemTrustError{SystemTrustFailure::store_empty,
                            "the ROOT store holds no certificate trusted for TLS servers",
                            "add the CA that signed the DPS server certificate to the Trusted Root Certification "
                            "Authorities of the computer, or " + std::string(set_trusted_ca)};
  }
  return std::nullopt;
}

std::string system_trust_name() { return "the Windows certificate store (ROOT)"; }

}  // namespace edgeprov::dps
