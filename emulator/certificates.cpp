#include "emulator/certificates.h"

#include <fstream>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace edgeprov::emulator {
namespace {

namespace fs = std::filesystem;
using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("cannot create the test certificates: " + what); }

PkeyPtr new_key() {
  PkeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) fail("EC key generation failed");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509Ptr new_certificate(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, long days) {
  X509Ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof serial, nullptr), BN_free);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("edgeprov dps-emulator"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* issuer_cert = issuer ? issuer : cert.get();
  add_extension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid:always");
  if (!issuer) {
    add_extension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:1");
    add_extension(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0) fail("signing failed");
  return cert;
}

std::string pem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

void write(const fs::path& path, const std::string& text, bool secret) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write " + tmp.string() + "; check the permissions of --cert-dir");
    out << text;
  }
  if (secret) fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  fs::rename(tmp, path);
}

}  // namespace

CertificatePaths ensure_certificates(const fs::path& dir, const std::vector<std::string>& extra_names) {
  CertificatePaths paths{dir / "ca.pem", dir / "server.pem", dir / "server.key"};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create " + dir.string() + ": " + ec.message());
  if (fs::exists(paths.ca_certificate) && fs::exists(paths.server_certificate) && fs::exists(paths.server_key)) return paths;

  PkeyPtr ca_key = new_key();
  X509Ptr ca = new_certificate(ca_key.get(), "edgeprov dps-emulator test CA", nullptr, nullptr, 3650);
  PkeyPtr server_key = new_key();
  X509Ptr server = new_certificate(server_key.get(), "localhost", ca.get(), ca_key.get(), 825);
  std::string names = "DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const auto& name : extra_names) names += (name.find_first_not_of("0123456789.:") == std::string::npos ? ",IP:" : ",DNS:") + name;
  add_extension(server.get(), ca.get(), NID_subject_alt_name, names);
  add_extension(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  add_extension(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  if (X509_sign(server.get(), ca_key.get(), EVP_sha256()) <= 0) fail("signing the server certificate failed");

  write(dir / "ca.key", pem(ca_key.get()), true);
  write(paths.server_key, pem(server_key.get()), true);
  write(paths.server_certificate, pem(server.get()) + pem(ca.get()), false);
  write(paths.ca_certificate, pem(ca.get()), false);
  paths.generated = true;
  return paths;
}

}  // namespace edgeprov::emulator
