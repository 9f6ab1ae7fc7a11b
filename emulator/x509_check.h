// emulator/x509_check.h — the X.509 facts DPS attestation needs from a device certificate: its CN (the
// registration id), its thumbprints, and whether its chain leads to an enrollment group's CA. Pure, OpenSSL.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace edgeprov::emulator::x509 {

// A certificate given as PEM or as base64 of its DER (both appear in DPS service-API bodies) → DER.
std::optional<Bytes> certificate_der(std::string_view pem_or_base64);
std::string pem_of(ByteView der);
std::optional<std::string> common_name(ByteView der);
std::string sha1_thumbprint(ByteView der);    // lowercase hex
std::string sha256_thumbprint(ByteView der);  // lowercase hex
// `chain` is the device's certificate first, then the intermediates it sent. Verified against `cas`
// (trust anchors; partial chains allowed so an intermediate CA can be the group's certificate), with
// validity periods checked. On failure `error` says why.
bool chain_leads_to(std::span<const Bytes> chain, std::span<const Bytes> cas, std::string& error);

}  // namespace edgeprov::emulator::x509
