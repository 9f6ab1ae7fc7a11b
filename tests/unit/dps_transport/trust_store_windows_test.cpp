// The Windows side of the trust store: the certificates of a CryptoAPI store verify, through OpenSSL, the
// servers their CAs signed; a root Windows restricts to other purposes is left out; a context without
// trusted_ca holds exactly the usable roots of the ROOT store; and the OpenSSL of the Windows build names
// no directory a user could create.
// The CAs are put in an in-memory CryptoAPI store, not in the machine's ROOT store: a test must not change
// what a machine trusts, and Wine's ROOT store is a fresh read-only copy of the host's roots at each open.
#include <windows.h>
#include <wincrypt.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <boost/asio/ssl/context.hpp>
#include <openssl/crypto.h>
#include <openssl/opensslconf.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <set>
#include <vector>

#include "dps/tls.h"
#include "dps/trust_store_windows.h"
#include "tests/unit/dps_transport/test_ca.h"

using namespace edgeprov::dps;
using edgeprov::test::TestCa;
using edgeprov::test::verify_server;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

namespace {

using Der = std::vector<unsigned char>;

// A CryptoAPI store in memory, as CertOpenSystemStoreW gives: certificates with their properties.
class MemoryStore {
 public:
  MemoryStore() : store_(CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, 0, nullptr)) { REQUIRE(store_ != nullptr); }
  ~MemoryStore() { CertCloseStore(store_, 0); }
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Adds `ca`; with `only_for`, restricted to that purpose as an administrator does with "Enable only the
  // following purposes" in the certificate's properties.
  void add(const TestCa& ca, const char* only_for = nullptr) {
    const Der der = ca.der();
    PCCERT_CONTEXT added = nullptr;
    REQUIRE(CertAddEncodedCertificateToStore(store_, X509_ASN_ENCODING, der.data(), static_cast<DWORD>(der.size()),
                                             CERT_STORE_ADD_REPLACE_EXISTING, &added));
    if (only_for != nullptr) {
      LPSTR oids[] = {const_cast<LPSTR>(only_for)};
      CERT_ENHKEY_USAGE usage{1, oids};
      REQUIRE(CertSetEnhancedKeyUsage(added, &usage));
    }
    CertFreeCertificateContext(added);
  }
  HCERTSTORE handle() const { return store_; }

 private:
  HCERTSTORE store_;
};

// A TLS client context with no trust at all, as make_client_context starts.
std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> empty_context() {
  return {SSL_CTX_new(TLS_client_method()), SSL_CTX_free};
}

std::set<Der> ders_of(X509_STORE* store) {
  std::set<Der> ders;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
    if (cert == nullptr) continue;
    const int size = i2d_X509(cert, nullptr);
    Der der(static_cast<std::size_t>(size));
    unsigned char* out = der.data();
    i2d_X509(cert, &out);
    ders.insert(std::move(der));
  }
  return ders;
}

}  // namespace

TEST_CASE("the CAs of a Windows store verify, through OpenSSL, the server certificates they signed") {
  const TestCa ca("edgeprov test root in a Windows store");
  const TestCa other("edgeprov test root elsewhere");
  MemoryStore store;
  store.add(ca);
  auto context = empty_context();
  CHECK(detail::add_server_roots(store.handle(), SSL_CTX_get_cert_store(context.get())) == 1);

  CHECK(verify_server(context.get(), ca.issue_server("dps.example").get(), "dps.example") == X509_V_OK);
  CHECK(verify_server(context.get(), ca.issue_server("dps.example").get(), "other.example") ==
        X509_V_ERR_HOSTNAME_MISMATCH);
  CHECK(verify_server(context.get(), other.issue_server("dps.example").get(), "dps.example") ==
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_CASE("a root Windows allows only for other purposes than server authentication is left out") {
  const TestCa open("edgeprov test root for every purpose");
  const TestCa server("edgeprov test root for server authentication");
  const TestCa signing("edgeprov test root for code signing only");
  MemoryStore store;
  store.add(open);
  store.add(server, szOID_PKIX_KP_SERVER_AUTH);
  store.add(signing, szOID_PKIX_KP_CODE_SIGNING);
  auto context = empty_context();
  CHECK(detail::add_server_roots(store.handle(), SSL_CTX_get_cert_store(context.get())) == 2);

  CHECK(verify_server(context.get(), open.issue_server("dps.example").get(), "dps.example") == X509_V_OK);
  CHECK(verify_server(context.get(), server.issue_server("dps.example").get(), "dps.example") == X509_V_OK);
  CHECK(verify_server(context.get(), signing.issue_server("dps.example").get(), "dps.example") ==
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_CASE("without trusted_ca, the context holds the roots of the Windows ROOT store usable for TLS servers") {
  std::set<Der> usable, all;
  HCERTSTORE root = CertOpenSystemStoreW(0, L"ROOT");
  REQUIRE(root != nullptr);
  PCCERT_CONTEXT certificate = nullptr;
  while ((certificate = CertEnumCertificatesInStore(root, certificate)) != nullptr) {
    Der der(certificate->pbCertEncoded, certificate->pbCertEncoded + certificate->cbCertEncoded);
    if (detail::trusted_for_server_auth(certificate)) usable.insert(der);
    all.insert(std::move(der));
  }
  CertCloseStore(root, 0);
  INFO("the ROOT store: " << all.size() << " certificates, " << usable.size() << " for TLS servers");
  REQUIRE_FALSE(usable.empty());  // Wine fills its ROOT store from the host's ca-certificates

  auto made = make_client_context(TlsSettings{});
  if (auto* error = std::get_if<TransportError>(&made)) FAIL(error->message);
  const auto context = std::get<std::shared_ptr<boost::asio::ssl::context>>(std::move(made));
  // Exactly those: nothing read from OpenSSL's own directory, nothing left out. (Two certificates that
  // OpenSSL would count as one are not expected in a ROOT store.)
  CHECK(ders_of(SSL_CTX_get_cert_store(context->native_handle())) == usable);
}

TEST_CASE("the Windows OpenSSL reads files only under the installation directory, and loads no DLL") {
  // Built by scripts/windows/build-deps.sh: a directory without a drive letter (C:\var\cache\...) could be
  // created by any user, who could then plant an openssl.cnf or CA certificates for the service.
  CHECK_THAT(OpenSSL_version(OPENSSL_DIR), ContainsSubstring("\"C:/Program Files/edgeprov/ssl\""));
  CHECK_THAT(X509_get_default_cert_dir(), StartsWith("C:/Program Files/edgeprov/ssl"));
  CHECK_THAT(X509_get_default_cert_file(), StartsWith("C:/Program Files/edgeprov/ssl"));
  CHECK_THAT(OpenSSL_version(OPENSSL_ENGINES_DIR), ContainsSubstring("\"C:/Program Files/edgeprov/lib/"));
  CHECK_THAT(OpenSSL_version(OPENSSL_MODULES_DIR), ContainsSubstring("\"C:/Program Files/edgeprov/lib/"));
#ifdef OPENSSL_NO_DSO
  constexpr bool loads_dlls = false;
#else
  constexpr bool loads_dlls = true;
#endif
  CHECK_FALSE(loads_dlls);
}
