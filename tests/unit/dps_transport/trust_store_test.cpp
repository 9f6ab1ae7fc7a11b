// The system trust store behind a client context without [edgeprov.dps] trusted_ca, on both platforms:
// Linux reads OpenSSL's default locations (ca-certificates), Windows the ROOT certificate store (under
// Wine: the host's ca-certificates, which Wine puts in its ROOT store).
#include <catch2/catch_test_macros.hpp>

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "dps/tls.h"
#include "dps/trust_store.h"
#include "tests/unit/dps_transport/test_ca.h"

using namespace edgeprov::dps;
using edgeprov::test::TestCa;
using edgeprov::test::verify_server;

namespace {

std::shared_ptr<boost::asio::ssl::context> system_context() {
  auto made = make_client_context(TlsSettings{});
  if (auto* error = std::get_if<TransportError>(&made)) FAIL(error->message);
  return std::get<std::shared_ptr<boost::asio::ssl::context>>(made);
}

std::vector<X509*> trusted_certificates(SSL_CTX* context) {
  std::vector<X509*> certificates;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(context));
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    if (X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))) certificates.push_back(cert);
  }
  return certificates;
}

}  // namespace

TEST_CASE("without trusted_ca, the client context holds the system's roots") {
  const auto context = system_context();
  const auto roots = trusted_certificates(context->native_handle());
  INFO(system_trust_name());
  // Debian's ca-certificates (scripts/debian-packages.txt) and any Windows hold well over a hundred.
  CHECK(roots.size() > 50);
}

TEST_CASE("a root of the system store verifies as a chain of its own through the context") {
  const auto context = system_context();
  const auto roots = trusted_certificates(context->native_handle());
  REQUIRE_FALSE(roots.empty());
  X509* root = roots.front();
  X509_STORE_CTX* verify = X509_STORE_CTX_new();
  REQUIRE(X509_STORE_CTX_init(verify, SSL_CTX_get_cert_store(context->native_handle()), root, nullptr) == 1);
  const int ok = X509_verify_cert(verify);
  INFO(X509_verify_cert_error_string(X509_STORE_CTX_get_error(verify)));
  CHECK(ok == 1);
  X509_STORE_CTX_free(verify);
}

TEST_CASE("a server certificate from a CA the system does not trust is refused") {
  const TestCa unknown("edgeprov test CA not in any store");
  const auto context = system_context();
  const auto leaf = unknown.issue_server("dps.example");
  CHECK(verify_server(context->native_handle(), leaf.get(), "dps.example") ==
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}
