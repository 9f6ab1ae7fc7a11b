// tpm/ek_certificate.h — what the manufacturer's EK certificate says about the EK edgeprov uses: whose it
// is and whether its public key is the EK's. Pure (OpenSSL parsing only); never touches the TPM.
#pragma once
#include <optional>
#include <string>

#include "common/bytes.h"

namespace edgeprov::tpm {

struct EkCertificateFacts {
  bool parsed = false;                    // DER X.509 that OpenSSL reads
  std::string subject, issuer;            // one-line RFC 2253 names (subject is often empty for EK certs)
  std::string not_after;                  // RFC 3339, "" when not parsed
  std::optional<bool> matches_endorsement_key;  // null when either key cannot be compared (not RSA, not parsed)
  std::string problem;                    // why it was not parsed or not compared; "" otherwise
};

// `der`: the certificate from NV; `endorsement_key`: the EK as marshalled TPM2B_PUBLIC (PublicKeys).
// Compares the RSA modulus and exponent of both.
EkCertificateFacts examine_ek_certificate(ByteView der, ByteView endorsement_key);

}  // namespace edgeprov::tpm
