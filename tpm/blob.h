// tpm/blob.h — the layout of a DPS `authenticationKey` blob (docs/dps-protocol.md §5.5): five TPM2B items
// and an optional trailing size. Pure: bytes in, parts out; a malformed blob is reported by part.
#pragma once
#include <optional>

#include "common/bytes.h"
#include "tpm/error.h"

namespace edgeprov::tpm {

// Each part keeps its TPM2B marshalling (u16be size ‖ bytes), ready for Tss2_MU_*_Unmarshal.
struct AuthKeyBlob {
  Bytes credential;   // TPM2B_ID_OBJECT: ActivateCredential credentialBlob
  Bytes secret;       // TPM2B_ENCRYPTED_SECRET: ActivateCredential secret (to the EK)
  Bytes duplicate;    // TPM2B_PRIVATE: Import duplicate
  Bytes seed;         // TPM2B_ENCRYPTED_SECRET: Import inSymSeed (to the SRK)
  Bytes public_area;  // TPM2B_PUBLIC: Import objectPublic, the HMAC key's public area
  std::optional<Bytes> encrypted_data;  // the trailing `u16 n ‖ n bytes`, unused for import
};

// Throws Error{ErrorKind::bad_blob} naming the part that is truncated, oversized or not well-formed.
AuthKeyBlob parse_auth_key_blob(ByteView blob);

}  // namespace edgeprov::tpm
