// service/credentials.h — the device's proof of identity for the configured attestation: the TPM (through
// the tpm::Worker thread), a symmetric key (software HMAC with the device key, derived from a group key
// when configured) or an X.509 certificate. Hub SAS tokens (identity.*) are signed with the device key
// (dps::DeviceKey): the TPM's persisted key, never a key loaded for a DPS attempt.
// Keys never leave this unit: not in logs, not in errors, not in status.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <boost/asio/any_io_executor.hpp>

#include "common/bytes.h"
#include "common/secret.h"
#include "dps/registration.h"
#include "edge-config/config.h"
#include "tpm/worker.h"

namespace edgeprov::service {

class DeviceCredential : public dps::Credential {
 public:
  // Whether the key can sign a hub SAS (TPM and symmetric key; X.509 authenticates with its certificate).
  virtual bool signs() const = 0;
  // "tpm", "symmetric_key", "x509" (identity.get keySource).
  virtual std::string key_source() const = 0;
};

// A credential that cannot be built (unreadable key file, certificate without CN, …): config error.
struct CredentialSetupError {
  std::string message;
};

// TPM: the EK/SRK come from tpm_keys once set_tpm_keys() was called (after the worker read them).
class TpmCredential : public DeviceCredential {
 public:
  TpmCredential(tpm::Worker& worker, boost::asio::any_io_executor executor);
  void set_tpm_keys(dps::TpmKeys keys) { keys_ = std::move(keys); }

  dps::AttestationMethod method() const override { return dps::AttestationMethod::tpm; }
  std::optional<dps::TpmKeys> tpm_keys() const override { return keys_; }
  void async_sign(dps::SigningKey key, std::string data, SignDone done) override;
  void async_load_key(Bytes blob, LoadDone done) override;
  void async_persist_key(dps::AttemptKey key, PersistDone done) override;
  void release_key(dps::AttemptKey key) override;
  bool signs() const override { return true; }
  std::string key_source() const override { return "tpm"; }

 private:
  tpm::Worker& worker_;
  boost::asio::any_io_executor executor_;
  std::optional<dps::TpmKeys> keys_;
};

// Builds the credential for a symmetric-key or X.509 configuration (`registration_id` already resolved).
// TPM credentials are made directly (they need the worker).
std::variant<std::unique_ptr<DeviceCredential>, CredentialSetupError> make_software_credential(
    const config::Config& config, const std::string& registration_id);

// The registration id the configuration implies when it is not the TPM's: the configured one, or for
// X.509 the certificate's CN. A CredentialSetupError when neither is there.
std::variant<std::string, CredentialSetupError> configured_registration_id(const config::Config& config);

// The device key of a symmetric-key configuration: the inline value or the uri's file (raw bytes),
// derived from the group key when [edgeprov.dps] symmetric_key_source = "group".
std::variant<Bytes, CredentialSetupError> device_symmetric_key(const config::Config& config,
                                                              const std::string& registration_id);

}  // namespace edgeprov::service
