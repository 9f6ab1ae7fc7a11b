// The Windows side of the trust store: a CA in the machine's ROOT store verifies the servers it signed
// through a context without trusted_ca, a root Windows restricts to other purposes does not, and the
// OpenSSL of the Windows build names no directory a user could create.
// The store tests add a CA to the machine's ROOT store, so they run only under Wine, in the throw-away
// prefix of tests/windows/run.sh; on a real Windows machine they are skipped.
#include <windows.h>
#include <wincrypt.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <boost/asio/ssl/context.hpp>
#include <openssl/crypto.h>
#include <openssl/opensslconf.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "dps/tls.h"
#include "tests/unit/dps_transport/test_ca.h"

using namespace edgeprov::dps;
using edgeprov::test::TestCa;
using edgeprov::test::verify_server;
using Catch::Matchers::ContainsSubstring;

namespace {

bool under_wine() {
  const HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

// The CA in the local machine's ROOT store for the life of this object.
class MachineRoot {
 public:
  explicit MachineRoot(const TestCa& ca) {
    store_ = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_LOCAL_MACHINE, L"ROOT");
    REQUIRE(store_ != nullptr);
    const auto der = ca.der();
    REQUIRE(CertAddEncodedCertificateToStore(store_, X509_ASN_ENCODING, der.data(), static_cast<DWORD>(der.size()),
                                             CERT_STORE_ADD_REPLACE_EXISTING, &added_));
  }
  ~MachineRoot() {
    if (added_ != nullptr) CertDeleteCertificateFromStore(added_);  // frees the context too
    if (store_ != nullptr) CertCloseStore(store_, 0);
  }
  MachineRoot(const MachineRoot&) = delete;
  MachineRoot& operator=(const MachineRoot&) = delete;

  // What an administrator does with "Enable only the following purposes" in the certificate's properties.
  void restrict_to(const char* oid) {
    LPSTR oids[] = {const_cast<LPSTR>(oid)};
    CERT_ENHKEY_USAGE usage{1, oids};
    REQUIRE(CertSetEnhancedKeyUsage(added_, &usage));
  }

 private:
  HCERTSTORE store_ = nullptr;
  PCCERT_CONTEXT added_ = nullptr;
};

std::shared_ptr<boost::asio::ssl::context> system_context() {
  auto made = make_client_context(TlsSettings{});
  if (auto* error = std::get_if<TransportError>(&made)) FAIL(error->message);
  return std::get<std::shared_ptr<boost::asio::ssl::context>>(made);
}

}  // namespace

TEST_CASE("a CA in the Windows ROOT store verifies the server certificates it signed") {
  if (!under_wine()) SKIP("adds a CA to the machine's ROOT store: run under Wine (tests/windows/run.sh)");
  const TestCa ca("edgeprov test root in the Windows store");
  const auto leaf = ca.issue_server("dps.example");
  {
    MachineRoot root(ca);
    const auto context = system_context();
    CHECK(verify_server(context->native_handle(), leaf.get(), "dps.example") == X509_V_OK);
    // The host name is still checked.
    CHECK(verify_server(context->native_handle(), leaf.get(), "other.example") == X509_V_ERR_HOSTNAME_MISMATCH);
  }
  // Removed from the store: a new context no longer trusts it (the store is read per context).
  const auto context = system_context();
  CHECK(verify_server(context->native_handle(), leaf.get(), "dps.example") ==
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_CASE("a root Windows allows only for code signing does not verify a TLS server") {
  if (!under_wine()) SKIP("adds a CA to the machine's ROOT store: run under Wine (tests/windows/run.sh)");
  const TestCa ca("edgeprov test root for code signing only");
  const auto leaf = ca.issue_server("dps.example");
  MachineRoot root(ca);
  root.restrict_to(szOID_PKIX_KP_CODE_SIGNING);
  const auto context = system_context();
  CHECK(verify_server(context->native_handle(), leaf.get(), "dps.example") ==
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_CASE("the Windows OpenSSL reads files only under the installation directory, and loads no DLL") {
  // Built by scripts/windows/build-deps.sh: a directory without a drive letter (C:\var\cache\...) could be
  // created by any user, who could then plant an openssl.cnf or CA certificates for the service.
  CHECK_THAT(OpenSSL_version(OPENSSL_DIR), ContainsSubstring("\"C:/Program Files/edgeprov/ssl\""));
  CHECK_THAT(X509_get_default_cert_dir(), Catch::Matchers::StartsWith("C:/Program Files/edgeprov/ssl"));
  CHECK_THAT(X509_get_default_cert_file(), Catch::Matchers::StartsWith("C:/Program Files/edgeprov/ssl"));
  CHECK_THAT(OpenSSL_version(OPENSSL_ENGINES_DIR), ContainsSubstring("\"C:/Program Files/edgeprov/lib/"));
  CHECK_THAT(OpenSSL_version(OPENSSL_MODULES_DIR), ContainsSubstring("\"C:/Program Files/edgeprov/lib/"));
#ifdef OPENSSL_NO_DSO
  constexpr bool loads_dlls = false;
#else
  constexpr bool loads_dlls = true;
#endif
  CHECK_FALSE(loads_dlls);
}
