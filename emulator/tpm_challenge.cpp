#include "emulator/tpm_challenge.h"

#include <memory>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "common/crypto.h"

namespace edgeprov::emulator::tpm {
namespace {

constexpr std::uint16_t alg_rsa = 0x0001;
constexpr std::uint16_t alg_keyedhash = 0x0008;
constexpr std::uint16_t alg_sha256 = 0x000B;
constexpr std::uint16_t alg_aes = 0x0006;
constexpr std::uint16_t alg_cfb = 0x0043;
constexpr std::uint16_t alg_null = 0x0010;
constexpr std::uint16_t alg_hmac = 0x0005;
constexpr std::uint32_t attr_user_with_auth_sign = 0x00040040;
constexpr std::uint32_t attr_restricted = 0x00010000;
constexpr std::uint32_t attr_decrypt = 0x00020000;

struct Reader {
  ByteView data;
  std::size_t at = 0;
  bool ok = true;
  std::uint16_t u16() {
    if (at + 2 > data.size()) { ok = false; return 0; }
    std::uint16_t v = static_cast<std::uint16_t>(data[at] << 8 | data[at + 1]);
    at += 2;
    return v;
  }
  std::uint32_t u32() {
    std::uint32_t hi = u16();
    return hi << 16 | u16();
  }
  Bytes bytes(std::size_t n) {
    if (!ok || at + n > data.size()) { ok = false; return {}; }
    Bytes out(data.begin() + static_cast<std::ptrdiff_t>(at), data.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    return out;
  }
  Bytes tpm2b() { return bytes(u16()); }
};

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(Bytes& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v));
}
void put_tpm2b(Bytes& out, ByteView data) {
  put_u16(out, static_cast<std::uint16_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
}
Bytes tpm2b(ByteView data) {
  Bytes out;
  put_tpm2b(out, data);
  return out;
}
void append(Bytes& out, ByteView data) { out.insert(out.end(), data.begin(), data.end()); }

bool fail(std::string* error, std::string text) {
  if (error) *error = std::move(text);
  return false;
}

struct PkeyDeleter { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct PkeyCtxDeleter { void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); } };
struct CipherCtxDeleter { void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); } };

[[noreturn]] void openssl_failure(const char* what) {
  throw std::runtime_error(std::string("OpenSSL failed in ") + what);
}

}  // namespace

std::optional<RsaPublic> parse_rsa_public(ByteView tpm2b_public, std::string* error) {
  Reader r{tpm2b_public};
  std::uint16_t size = r.u16();
  if (!r.ok || size + 2u != tpm2b_public.size()) {
    fail(error, "the key is not a marshalled TPM2B_PUBLIC (its size prefix does not match its length)");
    return std::nullopt;
  }
  RsaPublic key;
  key.tpmt_public.assign(tpm2b_public.begin() + 2, tpm2b_public.end());
  std::uint16_t type = r.u16();
  key.name_alg = r.u16();
  key.attributes = r.u32();
  r.tpm2b();  // authPolicy
  std::uint16_t sym = r.u16();
  if (sym != alg_null) {
    key.symmetric_bits = r.u16();
    std::uint16_t mode = r.u16();
    if (r.ok && (sym != alg_aes || mode != alg_cfb)) {
      fail(error, "the key's symmetric definition is not AES-CFB");
      return std::nullopt;
    }
  }
  std::uint16_t scheme = r.u16();
  if (scheme != alg_null) r.u16();
  std::uint16_t key_bits = r.u16();
  std::uint32_t exponent = r.u32();
  key.modulus = r.tpm2b();
  if (!r.ok || r.at != tpm2b_public.size()) {
    fail(error, "the key's public area is truncated or has trailing bytes");
    return std::nullopt;
  }
  if (type != alg_rsa) {
    fail(error, "the key is not an RSA key (only RSA EK/SRK templates are supported)");
    return std::nullopt;
  }
  if (key.name_alg != alg_sha256) {
    fail(error, "the key's name algorithm is not SHA-256");
    return std::nullopt;
  }
  if ((key.attributes & (attr_restricted | attr_decrypt)) != (attr_restricted | attr_decrypt) || sym == alg_null ||
      (key.symmetric_bits != 128 && key.symmetric_bits != 256)) {
    fail(error, "the key is not a restricted decryption key with an AES-128/256-CFB symmetric definition");
    return std::nullopt;
  }
  if (key.modulus.size() * 8 != key_bits || key.modulus.empty()) {
    fail(error, "the key's modulus does not have the declared size");
    return std::nullopt;
  }
  key.exponent = exponent == 0 ? 65537 : exponent;
  return key;
}

Bytes object_name(ByteView tpmt_public) {
  Bytes name{0x00, 0x0B};
  auto digest = sha256(tpmt_public);
  append(name, digest);
  return name;
}

Bytes kdfa_sha256(ByteView key, std::string_view label, ByteView context_u, ByteView context_v, std::size_t bits) {
  Bytes out;
  std::size_t bytes = (bits + 7) / 8;
  for (std::uint32_t counter = 1; out.size() < bytes; ++counter) {
    Bytes message;
    put_u32(message, counter);
    append(message, as_bytes(label));
    message.push_back(0);
    append(message, context_u);
    append(message, context_v);
    put_u32(message, static_cast<std::uint32_t>(bits));
    append(out, hmac_sha256(key, message));
  }
  out.resize(bytes);
  return out;
}

Bytes aes_cfb_encrypt(ByteView key, ByteView plain) {
  const EVP_CIPHER* cipher = key.size() == 16 ? EVP_aes_128_cfb128() : key.size() == 32 ? EVP_aes_256_cfb128() : nullptr;
  if (!cipher) throw std::invalid_argument("AES-CFB key must be 16 or 32 bytes");
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> ctx(EVP_CIPHER_CTX_new());
  std::uint8_t iv[16] = {};
  Bytes out(plain.size() + 16);
  int n = 0, tail = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &n, plain.data(), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &tail) != 1)
    openssl_failure("AES-CFB");
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

Bytes rsa_oaep_encrypt(const RsaPublic& key, ByteView plain, std::string_view label) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> n(BN_bin2bn(key.modulus.data(), static_cast<int>(key.modulus.size()), nullptr), BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> e(BN_new(), BN_free);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> build(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  if (!n || !e || !build || BN_set_word(e.get(), key.exponent) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1)
    openssl_failure("RSA key parameters");
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(build.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> from(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !from || EVP_PKEY_fromdata_init(from.get()) != 1 ||
      EVP_PKEY_fromdata(from.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    openssl_failure("RSA key import");
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(raw);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new(pkey.get(), nullptr));
  // OpenSSL takes ownership of the label buffer.
  auto* label_copy = static_cast<unsigned char*>(OPENSSL_malloc(label.size() + 1));
  if (!label_copy) openssl_failure("OAEP label");
  std::copy(label.begin(), label.end(), label_copy);
  label_copy[label.size()] = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label_copy, static_cast<int>(label.size() + 1)) != 1) {
    OPENSSL_free(label_copy);
    openssl_failure("RSA-OAEP setup");
  }
  std::size_t out_len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, plain.data(), plain.size()) != 1) openssl_failure("RSA-OAEP");
  Bytes out(out_len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &out_len, plain.data(), plain.size()) != 1) openssl_failure("RSA-OAEP");
  out.resize(out_len);
  return out;
}

Bytes hmac_key_public(ByteView key, ByteView seed_value) {
  Bytes unique_input(seed_value.begin(), seed_value.end());
  append(unique_input, key);
  Bytes area;
  put_u16(area, alg_keyedhash);
  put_u16(area, alg_sha256);
  put_u32(area, attr_user_with_auth_sign);
  put_u16(area, 0);  // authPolicy: empty
  put_u16(area, alg_hmac);
  put_u16(area, alg_sha256);
  put_tpm2b(area, sha256(unique_input));
  return tpm2b(area);
}

Bytes credential_blob(ByteView seed, ByteView name, ByteView credential, std::uint16_t symmetric_bits) {
  Bytes sym_key = kdfa_sha256(seed, "STORAGE", name, {}, symmetric_bits);
  Bytes enc_identity = aes_cfb_encrypt(sym_key, tpm2b(credential));
  Bytes hmac_key = kdfa_sha256(seed, "INTEGRITY", {}, {}, 256);
  Bytes mac_input = enc_identity;
  append(mac_input, name);
  Bytes id_object = tpm2b(hmac_sha256(hmac_key, mac_input));
  append(id_object, enc_identity);
  return tpm2b(id_object);
}

Bytes duplicate_private(ByteView seed, ByteView name, ByteView inner_key, ByteView key, ByteView seed_value,
                        std::uint16_t symmetric_bits) {
  Bytes sensitive;
  put_u16(sensitive, alg_keyedhash);
  put_u16(sensitive, 0);  // authValue: empty
  put_tpm2b(sensitive, seed_value);
  put_tpm2b(sensitive, key);
  Bytes sens = tpm2b(sensitive);
  Bytes integrity_input = sens;
  append(integrity_input, name);
  Bytes inner_plain = tpm2b(sha256(integrity_input));
  append(inner_plain, sens);
  Bytes inner = aes_cfb_encrypt(inner_key, inner_plain);

  Bytes sym_key = kdfa_sha256(seed, "STORAGE", name, {}, symmetric_bits);
  Bytes enc = aes_cfb_encrypt(sym_key, inner);
  Bytes hmac_key = kdfa_sha256(seed, "INTEGRITY", {}, {}, 256);
  Bytes mac_input = enc;
  append(mac_input, name);
  Bytes priv = tpm2b(hmac_sha256(hmac_key, mac_input));
  append(priv, enc);
  return tpm2b(priv);
}

ChallengeRandomness ChallengeRandomness::generate() {
  return {random_bytes(32), random_bytes(32), random_bytes(16), random_bytes(32), random_bytes(32)};
}

Bytes build_activation_blob(const RsaPublic& ek, const RsaPublic& srk, const ChallengeRandomness& random) {
  Bytes key_public = hmac_key_public(random.hmac_key, random.seed_value);
  Bytes key_name = object_name(ByteView(key_public).subspan(2));

  Bytes blob = credential_blob(random.credential_seed, object_name(srk.tpmt_public), random.inner_key, ek.symmetric_bits);
  append(blob, tpm2b(rsa_oaep_encrypt(ek, random.credential_seed, "IDENTITY")));
  append(blob, duplicate_private(random.duplicate_seed, key_name, random.inner_key, random.hmac_key, random.seed_value,
                                 srk.symmetric_bits));
  append(blob, tpm2b(rsa_oaep_encrypt(srk, random.duplicate_seed, "DUPLICATE")));
  append(blob, key_public);
  put_u16(blob, 0);  // the "encrypted data" size the Azure C SDK reads and ignores
  return blob;
}

}  // namespace edgeprov::emulator::tpm
