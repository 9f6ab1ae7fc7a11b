#include "service/credentials.h"

#include <cstdio>
#include <fstream>
#include <iterator>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/crypto.h"
#include "common/encoding.h"
#include "dps/sas.h"
#include "tpm/json.h"

namespace edgeprov::service {

namespace {

std::string config_name(const config::Config& config) {
  return config.source_file.empty() ? std::string("the configuration") : config.source_file.string();
}

// A software credential: symmetric key (signs with the device key) or X.509 (the TLS certificate proves
// the device; nothing to sign).
class SoftwareCredential : public DeviceCredential {
 public:
  SoftwareCredential(dps::AttestationMethod method, std::optional<Bytes> key)
      : method_(method), key_(std::move(key)) {}
  ~SoftwareCredential() override {
    if (key_) std::fill(key_->begin(), key_->end(), std::uint8_t{0});
  }

  dps::AttestationMethod method() const override { return method_; }
  std::optional<dps::TpmKeys> tpm_keys() const override { return std::nullopt; }
  // The device key is the only key a software credential has: DPS requests and hub tokens alike.
  void async_sign(dps::SigningKey key, std::string data, SignDone done) override {
    if (!key_) {
      done(dps::config_failure("this device authenticates with its X.509 certificate and has no key to sign with",
                               "provisioning.attestation.method"));
      return;
    }
    if (!std::holds_alternative<dps::DeviceKey>(key)) {
      done(not_a_tpm());
      return;
    }
    done(hmac_sha256(*key_, as_bytes(data)));
  }
  void async_load_key(Bytes, LoadDone done) override { done(not_a_tpm()); }
  void async_persist_key(dps::AttemptKey, PersistDone done) override { done(not_a_tpm()); }
  void release_key(dps::AttemptKey) override {}
  bool signs() const override { return key_.has_value(); }
  std::string key_source() const override {
    return method_ == dps::AttestationMethod::x509 ? "x509" : "symmetric_key";
  }

 private:
  static dps::Error not_a_tpm() {
    return dps::config_failure("DPS sent a TPM key to a device that does not use TPM attestation; check that the "
                               "enrollment's attestation matches [provisioning.attestation] method",
                               "provisioning.attestation.method");
  }

  dps::AttestationMethod method_;
  std::optional<Bytes> key_;
};

// The TPM's names for the keys a dps::SigningKey names.
tpm::SigningKey tpm_key(const dps::SigningKey& key) {
  if (const auto* attempt = std::get_if<dps::AttemptKey>(&key)) return tpm::TransientKey{attempt->id};
  return tpm::PersistedKey{};
}

std::optional<std::string> certificate_common_name(const std::filesystem::path& file, std::string& why) {
  std::FILE* f = std::fopen(file.string().c_str(), "rb");
  if (f == nullptr) {
    why = fmt::format("cannot open {}", file.string());
    return std::nullopt;
  }
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) {
    why = fmt::format("{} holds no PEM certificate", file.string());
    return std::nullopt;
  }
  std::optional<std::string> cn;
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, data);
    if (length > 0) cn = std::string(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
    OPENSSL_free(utf8);
  }
  X509_free(cert);
  if (!cn) why = fmt::format("the certificate in {} has no subject CN", file.string());
  return cn;
}

}  // namespace

TpmCredential::TpmCredential(tpm::Worker& worker, boost::asio::any_io_executor executor)
    : worker_(worker), executor_(std::move(executor)) {}

void TpmCredential::async_sign(dps::SigningKey key, std::string data, SignDone done) {
  worker_.async_sign(tpm_key(key), to_bytes(data), executor_, [done = std::move(done)](tpm::Result<Sha256Digest> mac) {
    if (!mac.ok()) {
      done(dps::tpm_failure(mac.error()));
      return;
    }
    done(mac.value());
  });
}

void TpmCredential::async_load_key(Bytes blob, LoadDone done) {
  worker_.async_load_key(std::move(blob), executor_, [done = std::move(done)](tpm::Result<tpm::TransientKey> loaded) {
    if (!loaded.ok()) {
      done(dps::tpm_failure(loaded.error()));
      return;
    }
    done(dps::AttemptKey{loaded.value().id});
  });
}

void TpmCredential::async_persist_key(dps::AttemptKey key, PersistDone done) {
  worker_.async_persist_key(tpm::TransientKey{key.id}, executor_,
                            [done = std::move(done)](tpm::Result<tpm::ImportedKey> persisted) {
                              if (!persisted.ok()) {
                                done(dps::tpm_failure(persisted.error()));
                                return;
                              }
                              done(std::nullopt);
                            });
}

void TpmCredential::release_key(dps::AttemptKey key) { worker_.flush_key(tpm::TransientKey{key.id}); }

std::variant<std::string, CredentialSetupError> configured_registration_id(const config::Config& config) {
  const auto& attestation = config.provisioning.attestation;
  if (attestation.registration_id) return *attestation.registration_id;
  if (attestation.method == dps::AttestationMethod::x509 && attestation.identity_cert) {
    std::string why;
    auto cn = certificate_common_name(config::local_path(*attestation.identity_cert), why);
    if (!cn) {
      return CredentialSetupError{fmt::format(
          "the registration id of X.509 attestation defaults to the certificate's CN, but {}: set "
          "[provisioning.attestation] registration_id in {}",
          why, config_name(config))};
    }
    if (auto problem = dps::check_registration_id(*cn)) {
      return CredentialSetupError{fmt::format("the certificate's CN is not a valid registration id ({}): set "
                                              "[provisioning.attestation] registration_id in {}",
                                              problem->problem, config_name(config))};
    }
    return *cn;
  }
  return CredentialSetupError{fmt::format("[provisioning.attestation] registration_id is not set in {}: set it to "
                                          "the enrollment's registration id",
                                          config_name(config))};
}

std::variant<Bytes, CredentialSetupError> device_symmetric_key(const config::Config& config,
                                                              const std::string& registration_id) {
  const auto& attestation = config.provisioning.attestation;
  std::optional<Bytes> key;
  if (attestation.symmetric_key_value) {
    key = base64_decode(attestation.symmetric_key_value->reveal());
    if (!key) {
      return CredentialSetupError{fmt::format(
          "[provisioning.attestation] symmetric_key value in {} is not base64: paste the enrollment's key as the "
          "portal shows it",
          config_name(config))};
    }
  } else if (attestation.symmetric_key_uri) {
    const auto path = config::local_path(*attestation.symmetric_key_uri);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return CredentialSetupError{fmt::format(
          "cannot read the symmetric key file {} ([provisioning.attestation] symmetric_key uri): check that it "
          "exists and that edgeprovd may read it",
          path.string())};
    }
    key = Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (!key || key->empty()) {
    return CredentialSetupError{fmt::format(
        "symmetric key attestation needs a key: set [provisioning.attestation] symmetric_key in {}", config_name(config))};
  }
  if (config.dps.symmetric_key_source == config::SymmetricKeySource::group) {
    // §4.4: the device key is HMAC-SHA-256(group key, registration id).
    const Sha256Digest derived = hmac_sha256(*key, as_bytes(registration_id));
    std::fill(key->begin(), key->end(), std::uint8_t{0});
    return Bytes(derived.begin(), derived.end());
  }
  return *key;
}

std::variant<std::unique_ptr<DeviceCredential>, CredentialSetupError> make_software_credential(
    const config::Config& config, const std::string& registration_id) {
  const auto method = config.provisioning.attestation.method;
  if (method == dps::AttestationMethod::x509) {
    return std::unique_ptr<DeviceCredential>(std::make_unique<SoftwareCredential>(method, std::nullopt));
  }
  auto key = device_symmetric_key(config, registration_id);
  if (auto* error = std::get_if<CredentialSetupError>(&key)) return *error;
  return std::unique_ptr<DeviceCredential>(
      std::make_unique<SoftwareCredential>(method, std::move(std::get<Bytes>(key))));
}

}  // namespace edgeprov::service
