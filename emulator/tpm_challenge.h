// emulator/tpm_challenge.h — the server side of DPS TPM attestation (docs/dps-protocol.md §11): parse the
// EK/SRK public areas a device sends and build the activation blob that hands it an HMAC key.
// Pure functions on OpenSSL; the caller supplies the randomness so known-answer tests can fix it.
// Never logs and never keeps the key: the caller owns it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace edgeprov::emulator::tpm {

// What matters of an RSA storage/endorsement key's TPM2B_PUBLIC.
struct RsaPublic {
  Bytes tpmt_public;            // the public area without its TPM2B size (what the Name hashes)
  std::uint16_t name_alg = 0;   // 0x000B = SHA-256 (the only one accepted)
  std::uint32_t attributes = 0;
  std::uint16_t symmetric_bits = 0;  // AES key size of the key's symmetric definition (128 or 256)
  std::uint32_t exponent = 65537;
  Bytes modulus;
};

// Parses a marshalled TPM2B_PUBLIC (2-byte size included) of an RSA restricted decryption key with an
// AES-CFB symmetric definition and SHA-256 name algorithm. On failure returns std::nullopt and puts the
// reason, fit for an error reply, in `error`.
std::optional<RsaPublic> parse_rsa_public(ByteView tpm2b_public, std::string* error = nullptr);

// 0x000B ‖ SHA-256(TPMT_PUBLIC).
Bytes object_name(ByteView tpmt_public);

// KDFa (TPM 2.0 Part 1 §11.4.10.2) with HMAC-SHA-256. `label` is given without its terminating zero;
// the zero is added here as the specification requires.
Bytes kdfa_sha256(ByteView key, std::string_view label, ByteView context_u, ByteView context_v, std::size_t bits);

// AES-CFB with a zero IV, key size 16 or 32 bytes.
Bytes aes_cfb_encrypt(ByteView key, ByteView plain);

// RSA-OAEP-SHA-256 to `key` with `label` (the zero terminator is appended here).
Bytes rsa_oaep_encrypt(const RsaPublic& key, ByteView plain, std::string_view label);

// The marshalled public area of the imported HMAC key (TPM2B_PUBLIC) for key bits `k` and obfuscation `sv`.
Bytes hmac_key_public(ByteView key, ByteView seed_value);

// The credential (TPM2B_ID_OBJECT) that ActivateCredential opens with the seed: deterministic given the seed.
Bytes credential_blob(ByteView seed, ByteView object_name, ByteView credential, std::uint16_t symmetric_bits);

// The duplicate (TPM2B_PRIVATE) of the HMAC key wrapped with the inner key and the outer seed.
Bytes duplicate_private(ByteView seed, ByteView name, ByteView inner_key, ByteView key, ByteView seed_value,
                        std::uint16_t symmetric_bits);

struct ChallengeRandomness {
  Bytes hmac_key;        // k, 32 bytes: the key the device gets
  Bytes seed_value;      // sv, 32 bytes
  Bytes inner_key;       // ik, 16 bytes: Import's encryptionKey, delivered as the credential
  Bytes duplicate_seed;  // 32 bytes, encrypted to the SRK
  Bytes credential_seed; // 32 bytes, encrypted to the EK
  static ChallengeRandomness generate();
};

// The whole activation blob (credentialBlob ‖ secret ‖ duplicate ‖ inSymSeed ‖ public ‖ u16 0).
Bytes build_activation_blob(const RsaPublic& ek, const RsaPublic& srk, const ChallengeRandomness& random);

}  // namespace edgeprov::emulator::tpm
