#include "tpm/ek_certificate.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include <memory>

#include "common/time.h"

namespace edgeprov::tpm {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::string name_text(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::string time_text(const ASN1_TIME* t) {
  struct tm parts {};
  if (ASN1_TIME_to_tm(t, &parts) != 1) return {};
  using namespace std::chrono;
  const year_month_day day{year{parts.tm_year + 1900}, month{static_cast<unsigned>(parts.tm_mon + 1)},
                           std::chrono::day{static_cast<unsigned>(parts.tm_mday)}};
  return to_rfc3339(sys_days{day} + hours{parts.tm_hour} + minutes{parts.tm_min} + seconds{parts.tm_sec});
}

}  // namespace

EkCertificateFacts examine_ek_certificate(ByteView der, ByteView endorsement_key) {
  EkCertificateFacts facts;
  const unsigned char* p = der.data();
  std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    facts.problem = "the NV index does not hold a DER X.509 certificate";
    return facts;
  }
  facts.parsed = true;
  facts.subject = name_text(X509_get_subject_name(cert.get()));
  facts.issuer = name_text(X509_get_issuer_name(cert.get()));
  facts.not_after = time_text(X509_get0_notAfter(cert.get()));

  TPM2B_PUBLIC ek{};
  std::size_t offset = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(endorsement_key.data(), endorsement_key.size(), &offset, &ek) != 0 ||
      ek.publicArea.type != TPM2_ALG_RSA) {
    facts.problem = "the endorsement key is not an RSA key, so it cannot be compared with the RSA EK certificate";
    return facts;
  }
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  BIGNUM* n_raw = nullptr;
  BIGNUM* e_raw = nullptr;
  if (key == nullptr || EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n_raw) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e_raw) != 1) {
    BN_free(n_raw);
    facts.problem = "the certificate's public key is not an RSA key";
    return facts;
  }
  std::unique_ptr<BIGNUM, BnFree> n(n_raw), e(e_raw);
  const auto& rsa = ek.publicArea.unique.rsa;
  std::unique_ptr<BIGNUM, BnFree> ek_n(BN_bin2bn(rsa.buffer, rsa.size, nullptr));
  // An exponent of 0 in a TPM public area means the default, 65537.
  const std::uint32_t exponent = ek.publicArea.parameters.rsaDetail.exponent;
  const bool same_exponent = BN_is_word(e.get(), exponent == 0 ? 65537 : exponent) == 1;
  facts.matches_endorsement_key = ek_n && BN_cmp(n.get(), ek_n.get()) == 0 && same_exponent;
  return facts;
}

}  // namespace edgeprov::tpm
