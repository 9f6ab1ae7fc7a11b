// tpm/templates.h — the creation templates of the primary keys edgeprov makes when none is persisted
// (docs/dps-protocol.md §5.2): the TCG EK template L-1 and the storage root key, both RSA-2048.
// Pure values; never changes a key that is already persisted.
#pragma once
#include <tss2/tss2_tpm2_types.h>

#include <array>
#include <cstdint>

#include "common/bytes.h"

namespace edgeprov::tpm {

// PolicySecret(TPM_RH_ENDORSEMENT): the EK's authPolicy (TCG EK Credential Profile).
inline constexpr std::array<std::uint8_t, 32> ek_policy_digest = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
    0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

TPM2B_PUBLIC endorsement_key_template();   // attributes 0x000300B2, unique = 256 zero bytes
TPM2B_PUBLIC storage_root_key_template();  // attributes 0x00030472 (noDA), unique = 256 zero bytes

// Tss2_MU marshalling of a TPM2B_PUBLIC, including its 2-byte size: what DPS receives as the EK/SRK.
Bytes marshal_public(const TPM2B_PUBLIC& public_area);

}  // namespace edgeprov::tpm
