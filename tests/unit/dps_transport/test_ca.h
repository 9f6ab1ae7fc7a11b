// A CA made in memory with OpenSSL, and the server certificates it signs, for the trust store tests
// (the Windows build has no openssl command line to make them with). Tests only.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace edgeprov::test {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

class TestCa {
 public:
  explicit TestCa(const std::string& common_name);
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  X509* certificate() const { return cert_.get(); }
  std::vector<unsigned char> der() const;
  // A server certificate for `dns_name` (serverAuth), signed by this CA.
  X509Ptr issue_server(const std::string& dns_name) const;

 private:
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
  X509Ptr cert_;
};

// Verifies `leaf` as a TLS server certificate for `host` with the trust of `context`, as a handshake
// does: X509_V_OK or OpenSSL's verify error.
int verify_server(SSL_CTX* context, X509* leaf, const std::string& host);

}  // namespace edgeprov::test
