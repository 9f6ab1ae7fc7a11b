// tpm/options.h — how to reach the TPM and which handles and passwords to use. Plain values, so the
// TPM module never depends on how the configuration is stored; the service maps its config onto this.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "common/secret.h"

namespace edgeprov::tpm {

inline constexpr std::uint32_t endorsement_key_handle = 0x81010001;
inline constexpr std::uint32_t storage_root_key_handle = 0x81000001;
inline constexpr std::uint32_t auth_key_handle_base = 0x81000000;
inline constexpr std::uint32_t default_auth_key_index = 0x100;
inline constexpr std::uint32_t max_auth_key_index = 0x7FFFFF;
// Where the TCG EK Credential Profile has a manufacturer store the RSA-2048 EK certificate (DER).
inline constexpr std::uint32_t rsa_ek_certificate_index = 0x01C00002;

struct Options {
  // A tpm2-tss TCTI string: "device:/dev/tpmrm0", "tbs", "swtpm:host=127.0.0.1,port=2321",
  // "mssim:host=…,port=…". Empty = the platform default (default_tcti()).
  std::string tcti;
  std::uint32_t auth_key_index = default_auth_key_index;  // the key lives at 0x81000000 + index
  std::optional<Secret> endorsement_auth;                 // [tpm.hierarchy_authorization] endorsement
  std::optional<Secret> owner_auth;                       // [tpm.hierarchy_authorization] owner
  // The file named in messages that tell the user to set a key; empty = the platform default.
  std::string config_file;
};

std::string default_tcti();         // "device:/dev/tpmrm0" · "tbs"
std::string default_config_file();  // "/etc/edgeprov/config.toml" · "%ProgramData%\edgeprov\config.toml"

inline std::uint32_t auth_key_handle(const Options& options) {
  return auth_key_handle_base + options.auth_key_index;
}

}  // namespace edgeprov::tpm
