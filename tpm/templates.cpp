#include "tpm/templates.h"

#include <tss2/tss2_mu.h>

#include <algorithm>
#include <stdexcept>

namespace edgeprov::tpm {
namespace {

TPM2B_PUBLIC rsa_2048_restricted_decrypt(TPMA_OBJECT attributes) {
  TPM2B_PUBLIC p{};
  p.publicArea.type = TPM2_ALG_RSA;
  p.publicArea.nameAlg = TPM2_ALG_SHA256;
  p.publicArea.objectAttributes = attributes;
  auto& rsa = p.publicArea.parameters.rsaDetail;
  rsa.symmetric.algorithm = TPM2_ALG_AES;
  rsa.symmetric.keyBits.aes = 128;
  rsa.symmetric.mode.aes = TPM2_ALG_CFB;
  rsa.scheme.scheme = TPM2_ALG_NULL;
  rsa.keyBits = 2048;
  rsa.exponent = 0;  // 65537
  // TCG template L-1: the unique field holds 256 zero bytes, which feeds the key derivation, so the
  // EK created here equals the one a manufacturer certified.
  p.publicArea.unique.rsa.size = 256;
  return p;
}

}  // namespace

TPM2B_PUBLIC endorsement_key_template() {
  auto p = rsa_2048_restricted_decrypt(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                                       TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT);
  p.publicArea.authPolicy.size = ek_policy_digest.size();
  std::copy(ek_policy_digest.begin(), ek_policy_digest.end(), p.publicArea.authPolicy.buffer);
  return p;
}

TPM2B_PUBLIC storage_root_key_template() {
  return rsa_2048_restricted_decrypt(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                     TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                     TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT);
}

Bytes marshal_public(const TPM2B_PUBLIC& public_area) {
  Bytes out(sizeof(TPM2B_PUBLIC));
  std::size_t offset = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Marshal(&public_area, out.data(), out.size(), &offset) != TSS2_RC_SUCCESS)
    throw std::logic_error("TPM2B_PUBLIC does not marshal");
  out.resize(offset);
  return out;
}

}  // namespace edgeprov::tpm
