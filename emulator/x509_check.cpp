#include "emulator/x509_check.h"

#include <memory>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/crypto.h"
#include "common/encoding.h"

namespace edgeprov::emulator::x509 {
namespace {

struct X509Deleter { void operator()(X509* p) const { X509_free(p); } };
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr parse_der(ByteView der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert && p != der.data() + der.size()) return nullptr;
  return cert;
}

}  // namespace

std::optional<Bytes> certificate_der(std::string_view text) {
  Bytes der;
  if (text.find("-----BEGIN") != std::string_view::npos) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
    X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert) return std::nullopt;
    int len = i2d_X509(cert.get(), nullptr);
    if (len <= 0) return std::nullopt;
    der.resize(static_cast<std::size_t>(len));
    unsigned char* out = der.data();
    i2d_X509(cert.get(), &out);
    return der;
  }
  auto decoded = base64_decode(text);
  if (!decoded || !parse_der(*decoded)) return std::nullopt;
  return decoded;
}

std::string pem_of(ByteView der) {
  X509Ptr cert = parse_der(der);
  if (!cert) return {};
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::optional<std::string> common_name(ByteView der) {
  X509Ptr cert = parse_der(der);
  if (!cert) return std::nullopt;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return std::nullopt;
  ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) return std::nullopt;
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return cn;
}

std::string sha1_thumbprint(ByteView der) {
  unsigned char digest[20];
  unsigned int len = 0;
  EVP_Digest(der.data(), der.size(), digest, &len, EVP_sha1(), nullptr);
  return hex_encode(ByteView(digest, len));
}

std::string sha256_thumbprint(ByteView der) { return hex_encode(sha256(der)); }

bool chain_leads_to(std::span<const Bytes> chain, std::span<const Bytes> cas, std::string& error) {
  if (chain.empty()) {
    error = "no client certificate was presented";
    return false;
  }
  X509Ptr leaf = parse_der(chain.front());
  if (!leaf) {
    error = "the client certificate cannot be parsed";
    return false;
  }
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  for (const auto& ca : cas) {
    X509Ptr cert = parse_der(ca);
    if (cert) X509_STORE_add_cert(store.get(), cert.get());
  }
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> intermediates(
      sk_X509_new_null(), [](STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); });
  for (std::size_t i = 1; i < chain.size(); ++i) {
    X509Ptr cert = parse_der(chain[i]);
    if (cert) sk_X509_push(intermediates.get(), cert.release());
  }
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), intermediates.get()) != 1) {
    error = "certificate verification could not start";
    return false;
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    error = std::string("the client certificate chain does not verify against the group's CA: ") +
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    return false;
  }
  return true;
}

}  // namespace edgeprov::emulator::x509
