#include "tests/integration/tpm/dps_blob.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "common/crypto.h"
#include "common/encoding.h"
#include "tests/support/process.h"

namespace edgeprov::test {
namespace {

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL: ") + what);
}

void put_u16(Bytes& out, std::size_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}
Bytes tpm2b(ByteView data) {
  Bytes out;
  put_u16(out, data.size());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}
Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes random(std::size_t n) {
  Bytes out(n);
  check(RAND_bytes(out.data(), static_cast<int>(n)) == 1, "RAND_bytes");
  return out;
}

// KDFa (TPM 2.0 Part 1 §11.4.10.2) is SP 800-108 counter mode with HMAC: OpenSSL's KBKDF, which adds
// the zero separator itself, so the label goes in without its terminating zero.
Bytes kdfa(ByteView key, const std::string& label, ByteView context, std::size_t bits) {
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "KBKDF", nullptr), EVP_KDF_free);
  check(kdf != nullptr, "KBKDF");
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()), EVP_KDF_CTX_free);
  Bytes ctx_bytes(context.begin(), context.end());
  Bytes key_bytes(key.begin(), key.end());
  std::string mac = "HMAC", digest = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, mac.data(), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key_bytes.data(), key_bytes.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(label.data()), label.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ctx_bytes.data(), ctx_bytes.size()),
      OSSL_PARAM_construct_end()};
  Bytes out(bits / 8);
  check(EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) == 1, "KBKDF derive");
  return out;
}

Bytes aes_128_cfb(ByteView key, ByteView data) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  const std::uint8_t iv[16] = {};
  check(EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_cfb128(), nullptr, key.data(), iv) == 1, "AES init");
  Bytes out(data.size() + 16);
  int n = 0, m = 0;
  check(EVP_EncryptUpdate(ctx.get(), out.data(), &n, data.data(), static_cast<int>(data.size())) == 1, "AES");
  check(EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &m) == 1, "AES final");
  out.resize(static_cast<std::size_t>(n + m));
  return out;
}

// RSA-OAEP-SHA256 to the RSA-2048 key whose TPM2B_PUBLIC is given (modulus = its last 256 bytes,
// exponent 0 = 65537, as in the EK/SRK templates).
Bytes rsa_oaep(const Bytes& tpm2b_public, const std::string& label_with_zero, ByteView data) {
  const Bytes modulus(tpm2b_public.end() - 256, tpm2b_public.end());
  std::unique_ptr<BIGNUM, decltype(&BN_free)> n(BN_bin2bn(modulus.data(), 256, nullptr), BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> e(BN_new(), BN_free);
  BN_set_word(e.get(), 65537);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> fctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr),
                                                                  EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  check(EVP_PKEY_fromdata_init(fctx.get()) == 1 &&
            EVP_PKEY_fromdata(fctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) == 1,
        "RSA key");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw, EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key.get(), nullptr),
                                                                 EVP_PKEY_CTX_free);
  check(EVP_PKEY_encrypt_init(ctx.get()) == 1, "encrypt init");
  check(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1, "OAEP");
  check(EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) == 1, "OAEP md");
  check(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) == 1, "MGF1 md");
  auto* label = static_cast<unsigned char*>(OPENSSL_memdup(label_with_zero.data(), label_with_zero.size()));
  check(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, static_cast<int>(label_with_zero.size())) == 1, "label");
  std::size_t len = 0;
  check(EVP_PKEY_encrypt(ctx.get(), nullptr, &len, data.data(), data.size()) == 1, "encrypt size");
  Bytes out(len);
  check(EVP_PKEY_encrypt(ctx.get(), out.data(), &len, data.data(), data.size()) == 1, "encrypt");
  out.resize(len);
  return out;
}

Bytes name_of(ByteView tpmt_public) {
  const auto digest = sha256(tpmt_public);
  return concat({Bytes{0x00, 0x0B}, digest});
}

}  // namespace

DpsBlob build_dps_blob(const Bytes& ek_public, const Bytes& srk_public, const std::filesystem::path& work_dir) {
  const Bytes k = random(32), sv = random(32), ik = random(16), seed = random(32);

  // 1. The HMAC key's public area: KEYEDHASH, SHA-256, userWithAuth|sign, HMAC-SHA-256, unique = H(sv ‖ k).
  const auto unique = sha256(concat({sv, k}));
  const Bytes tpmt_public = concat({Bytes{0x00, 0x08, 0x00, 0x0B, 0x00, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x05,
                                          0x00, 0x0B},
                                    tpm2b(unique)});
  const Bytes name = name_of(tpmt_public);

  // 2. Inner wrapper with ik.
  const Bytes tpmt_sensitive = concat({Bytes{0x00, 0x08}, tpm2b(Bytes{}), tpm2b(sv), tpm2b(k)});
  const Bytes sensitive = tpm2b(tpmt_sensitive);
  const auto inner_integrity = sha256(concat({sensitive, name}));
  const Bytes inner = aes_128_cfb(ik, concat({tpm2b(inner_integrity), sensitive}));

  // 3. Outer wrapper to the SRK.
  const Bytes in_sym_seed = rsa_oaep(srk_public, std::string("DUPLICATE\0", 10), seed);
  const Bytes sym_key = kdfa(seed, "STORAGE", name, 128);
  const Bytes enc = aes_128_cfb(sym_key, inner);
  const Bytes hmac_key = kdfa(seed, "INTEGRITY", {}, 256);
  const auto outer_hmac = hmac_sha256(hmac_key, concat({enc, name}));
  const Bytes duplicate = tpm2b(concat({tpm2b(outer_hmac), enc}));

  // 4. The credential to the EK, for the SRK's name: tpm2_makecredential in software (--tcti none).
  const Bytes srk_name = name_of(ByteView(srk_public).subspan(2));
  write_file(work_dir / "ek.pub", to_string(ek_public));
  write_file(work_dir / "ik.bin", to_string(ik));
  const auto made = run({.argv = {"tpm2_makecredential", "--tcti", "none", "-u", (work_dir / "ek.pub").string(), "-s",
                                  (work_dir / "ik.bin").string(), "-n", hex_encode(srk_name), "-o",
                                  (work_dir / "cred.out").string()}});
  if (made.status.code != 0) throw std::runtime_error("tpm2_makecredential failed: " + made.output);
  const Bytes cred_file = to_bytes(read_file(work_dir / "cred.out"));
  // tpm2-tools' file: u32 0xBADCC0DE ‖ u32 1 ‖ TPM2B_ID_OBJECT ‖ TPM2B_ENCRYPTED_SECRET.
  const Bytes credential_and_secret(cred_file.begin() + 8, cred_file.end());
  std::filesystem::remove(work_dir / "ik.bin");

  DpsBlob out;
  out.hmac_key = k;
  out.blob = credential_and_secret;
  out.part_offset[0] = 0;
  out.part_offset[1] = 2 + ((std::size_t{credential_and_secret[0]} << 8) | credential_and_secret[1]);
  out.part_offset[2] = out.blob.size();
  out.blob.insert(out.blob.end(), duplicate.begin(), duplicate.end());
  out.part_offset[3] = out.blob.size();
  const Bytes seed_part = tpm2b(in_sym_seed);
  out.blob.insert(out.blob.end(), seed_part.begin(), seed_part.end());
  out.part_offset[4] = out.blob.size();
  const Bytes public_part = tpm2b(tpmt_public);
  out.blob.insert(out.blob.end(), public_part.begin(), public_part.end());
  out.blob.insert(out.blob.end(), {0x00, 0x00});
  return out;
}

}  // namespace edgeprov::test
