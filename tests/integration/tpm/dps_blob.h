// tests/integration/tpm/dps_blob.h — builds a DPS authentication-key blob the way the service side does
// (docs/dps-protocol.md §11), independently of edgeprov's TPM code: the credential comes from
// `tpm2_makecredential --tcti none`, the duplicate is wrapped here with OpenSSL. Tests and benchmarks only.
#pragma once
#include <filesystem>

#include "common/bytes.h"

namespace edgeprov::test {

struct DpsBlob {
  Bytes blob;      // credential ‖ secret ‖ duplicate ‖ seed ‖ public ‖ u16 0
  Bytes hmac_key;  // the 32-byte key the TPM holds after importing the blob
  // Offsets of the five TPM2B parts inside `blob` (start of the size prefix), for tampering.
  std::size_t part_offset[5] = {};
};

// `ek_public` / `srk_public`: marshalled TPM2B_PUBLIC files as `tpm2_readpublic -o` writes them.
// `work_dir` receives the temporary files tpm2_makecredential needs.
DpsBlob build_dps_blob(const Bytes& ek_public, const Bytes& srk_public, const std::filesystem::path& work_dir);

}  // namespace edgeprov::test
