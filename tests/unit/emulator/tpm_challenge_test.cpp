#include <memory>

#include <catch2/catch_test_macros.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "common/encoding.h"
#include "emulator/tpm_challenge.h"
#include "tests/unit/emulator/tpm_vectors.h"

using namespace edgeprov;
using namespace edgeprov::emulator::tpm;

namespace {

Bytes hex(const char* text) { return *hex_decode(text); }

// Decrypts with the vector's private key (what the TPM does with its EK), through OpenSSL.
Bytes oaep_decrypt(ByteView cipher, const char* label) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(vectors::vector_rsa_private_pem, -1), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  REQUIRE(key);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key.get(), nullptr), EVP_PKEY_CTX_free);
  std::size_t label_len = std::char_traits<char>::length(label) + 1;
  auto* label_copy = static_cast<unsigned char*>(OPENSSL_malloc(label_len));
  std::copy(label, label + label_len, label_copy);
  REQUIRE(EVP_PKEY_decrypt_init(ctx.get()) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) == 1);
  REQUIRE(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label_copy, static_cast<int>(label_len)) == 1);
  Bytes out(512);
  std::size_t out_len = out.size();
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &out_len, cipher.data(), cipher.size()) != 1) return {};
  out.resize(out_len);
  return out;
}

}  // namespace

TEST_CASE("KDFa with the STORAGE label matches OpenSSL's SP 800-108 counter-mode KDF") {
  CHECK(kdfa_sha256(hex(vectors::kdfa_key), "STORAGE", hex(vectors::kdfa_name), {}, 128) == hex(vectors::kdfa_storage_128));
}

TEST_CASE("KDFa with the INTEGRITY label and no context gives 256 bits matching OpenSSL") {
  CHECK(kdfa_sha256(hex(vectors::kdfa_key), "INTEGRITY", {}, {}, 256) == hex(vectors::kdfa_integrity_256));
}

TEST_CASE("the credential blob equals tpm2_makecredential's for the same seed, name and credential") {
  Bytes secret = hex(vectors::makecredential_secret);
  REQUIRE(secret.size() == 258);
  Bytes seed = oaep_decrypt(ByteView(secret).subspan(2), "IDENTITY");
  REQUIRE(seed.size() == 32);
  CHECK(credential_blob(seed, hex(vectors::credential_name), hex(vectors::credential_value), 128) ==
        hex(vectors::makecredential_id_object));
}

TEST_CASE("a TPM2B_PUBLIC of an RSA EK parses and its name is 0x000B and SHA-256 of the public area") {
  Bytes ek = hex(vectors::vector_ek_public);
  std::string error;
  auto key = parse_rsa_public(ek, &error);
  REQUIRE(key);
  CHECK(key->modulus.size() == 256);
  CHECK(key->symmetric_bits == 128);
  CHECK(key->exponent == 65537);
  Bytes name = object_name(key->tpmt_public);
  CHECK(name.size() == 34);
  CHECK(name[0] == 0x00);
  CHECK(name[1] == 0x0B);
}

TEST_CASE("a truncated or non-RSA public area is rejected with a reason") {
  Bytes ek = hex(vectors::vector_ek_public);
  std::string error;
  Bytes truncated(ek.begin(), ek.end() - 1);
  CHECK_FALSE(parse_rsa_public(truncated, &error));
  CHECK(error.find("size") != std::string::npos);
  Bytes keyedhash = hmac_key_public(Bytes(32, 1), Bytes(32, 2));
  CHECK_FALSE(parse_rsa_public(keyedhash, &error));
  CHECK_FALSE(parse_rsa_public({}, &error));
}

TEST_CASE("RSA-OAEP with the IDENTITY label decrypts only with that label") {
  auto key = parse_rsa_public(hex(vectors::vector_ek_public));
  REQUIRE(key);
  Bytes seed(32, 0x5a);
  Bytes cipher = rsa_oaep_encrypt(*key, seed, "IDENTITY");
  CHECK(cipher.size() == 256);
  CHECK(oaep_decrypt(cipher, "IDENTITY") == seed);
  CHECK(oaep_decrypt(cipher, "DUPLICATE").empty());
}

TEST_CASE("the HMAC key public area is KEYEDHASH, userWithAuth|sign, HMAC-SHA256, unique = SHA-256(sv‖k)") {
  Bytes pub = hmac_key_public(Bytes(32, 0x11), Bytes(32, 0x22));
  // 0x0030 size, KEYEDHASH, SHA256, 0x00040040, empty policy, HMAC, SHA256, 32-byte unique
  CHECK(pub.size() == 50);
  Bytes head(pub.begin(), pub.begin() + 18);
  CHECK(head == Bytes{0x00, 0x30, 0x00, 0x08, 0x00, 0x0B, 0x00, 0x04, 0x00, 0x40, 0x00, 0x00, 0x00, 0x05, 0x00, 0x0B, 0x00, 0x20});
}

TEST_CASE("the activation blob has the five TPM2B parts in order and a trailing zero size: 766 bytes for RSA-2048") {
  auto ek = parse_rsa_public(hex(vectors::vector_ek_public));
  REQUIRE(ek);
  ChallengeRandomness random{Bytes(32, 1), Bytes(32, 2), Bytes(16, 3), Bytes(32, 4), Bytes(32, 5)};
  Bytes blob = build_activation_blob(*ek, *ek, random);
  REQUIRE(blob.size() == 766);
  std::size_t at = 0;
  std::vector<std::size_t> sizes;
  for (int part = 0; part < 5; ++part) {
    std::size_t size = static_cast<std::size_t>(blob[at] << 8 | blob[at + 1]);
    sizes.push_back(size + 2);
    at += size + 2;
  }
  CHECK(sizes == std::vector<std::size_t>{54, 258, 144, 258, 50});
  CHECK(blob[at] == 0);
  CHECK(blob[at + 1] == 0);
  // The credential part is deterministic given the seed; the EK's private key recovers that seed.
  CHECK(oaep_decrypt(ByteView(blob).subspan(56, 256), "IDENTITY") == random.credential_seed);
  CHECK(oaep_decrypt(ByteView(blob).subspan(54 + 258 + 144 + 2, 256), "DUPLICATE") == random.duplicate_seed);
  Bytes srk_name = object_name(ek->tpmt_public);
  CHECK(Bytes(blob.begin(), blob.begin() + 54) == credential_blob(random.credential_seed, srk_name, random.inner_key, 128));
}
