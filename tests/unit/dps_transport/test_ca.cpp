#include "tests/unit/dps_transport/test_ca.h"

#include <stdexcept>
#include <utility>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace edgeprov::test {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("test CA: " + what); }

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (extension == nullptr) fail(std::string("bad extension ") + value);
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

using Extensions = std::vector<std::pair<int, std::string>>;

// A certificate for `key` named `cn`, signed by `issuer_key` (issuer == nullptr: a self-signed CA).
X509Ptr make_certificate(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                         const Extensions& extensions) {
  X509Ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509* issuing = issuer != nullptr ? issuer : cert.get();
  add_extension(cert.get(), issuing, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), issuing, NID_authority_key_identifier, "keyid:always");
  if (issuer == nullptr) {
    add_extension(cert.get(), issuing, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), issuing, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  for (const auto& [nid, value] : extensions) add_extension(cert.get(), issuing, nid, value.c_str());
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) fail("signing failed");
  return cert;
}

}  // namespace

TestCa::TestCa(const std::string& common_name)
    : key_(EVP_EC_gen("P-256"), EVP_PKEY_free), cert_(nullptr, X509_free) {
  if (!key_) fail("EC key generation failed");
  cert_ = make_certificate(key_.get(), common_name, nullptr, key_.get(), {});
}

std::vector<unsigned char> TestCa::der() const {
  const int size = i2d_X509(cert_.get(), nullptr);
  if (size <= 0) fail("DER encoding failed");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  unsigned char* out = bytes.data();
  i2d_X509(cert_.get(), &out);
  return bytes;
}

X509Ptr TestCa::issue_server(const std::string& dns_name) const {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) fail("EC key generation failed");
  return make_certificate(key.get(), dns_name, cert_.get(), key_.get(),
                          {{NID_subject_alt_name, "DNS:" + dns_name},
                           {NID_ext_key_usage, "serverAuth"},
                           {NID_key_usage, "critical,digitalSignature"}});
}

int verify_server(SSL_CTX* context, X509* leaf, const std::string& host) {
  X509_STORE_CTX* verify = X509_STORE_CTX_new();
  if (verify == nullptr || X509_STORE_CTX_init(verify, SSL_CTX_get_cert_store(context), leaf, nullptr) != 1) {
    throw std::runtime_error("X509_STORE_CTX_init failed");
  }
  // What a TLS client checks: the server purpose and the host name, with the context's parameters.
  X509_STORE_CTX_set_purpose(verify, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(verify), host.c_str(), host.size());
  const int result = X509_verify_cert(verify) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(verify);
  X509_STORE_CTX_free(verify);
  return result;
}

}  // namespace edgeprov::test
