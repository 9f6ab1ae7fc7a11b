#include "dps/vocabulary.h"

#include <algorithm>

#include <fmt/format.h>

#include "dps/sas.h"

namespace edgeprov::dps {

std::string_view to_string(AttestationMethod method) {
  switch (method) {
    case AttestationMethod::tpm: return "tpm";
    case AttestationMethod::symmetric_key: return "symmetric_key";
    case AttestationMethod::x509: return "x509";
  }
  return "tpm";
}

std::string_view to_string(Transport transport) {
  switch (transport) {
    case Transport::https: return "https";
    case Transport::mqtt: return "mqtt";
  }
  return "https";
}

std::optional<AttestationMethod> parse_attestation_method(std::string_view text) {
  for (auto method : {AttestationMethod::tpm, AttestationMethod::symmetric_key, AttestationMethod::x509})
    if (text == to_string(method)) return method;
  return std::nullopt;
}

std::optional<Transport> parse_transport(std::string_view text) {
  for (auto transport : {Transport::https, Transport::mqtt})
    if (text == to_string(transport)) return transport;
  return std::nullopt;
}

std::string_view display_name(AttestationMethod method) {
  switch (method) {
    case AttestationMethod::tpm: return "TPM";
    case AttestationMethod::symmetric_key: return "symmetric key";
    case AttestationMethod::x509: return "X.509";
  }
  return "TPM";
}

std::string_view display_name(Transport transport) { return transport == Transport::mqtt ? "MQTT" : "HTTPS"; }

std::optional<Problem> check_registration_id(std::string_view registration_id) {
  constexpr std::string_view fix =
      "use 1 to 128 letters, digits, '-', '.', '_' or ':', exactly as in the DPS enrollment";
  if (registration_id.empty()) return Problem{"the registration id is empty", std::string(fix)};
  if (registration_id.size() > 128) {
    return Problem{fmt::format("the registration id \"{}...\" is {} characters long; DPS accepts at most 128",
                               c_sdk_url_encode(registration_id.substr(0, 40)), registration_id.size()),
                   std::string(fix)};
  }
  const auto bad = std::find_if_not(registration_id.begin(), registration_id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == ':';
  });
  if (bad != registration_id.end()) {
    // Escaped, so a control character or a quote in the value cannot garble the message or a log line.
    return Problem{fmt::format("\"{}\" is not a DPS registration id: it contains {}",
                               c_sdk_url_encode(registration_id), c_sdk_url_encode(std::string_view(&*bad, 1))),
                   std::string(fix)};
  }
  return std::nullopt;
}

std::optional<Problem> check_id_scope(std::string_view id_scope) {
  const bool ok = !id_scope.empty() && std::all_of(id_scope.begin(), id_scope.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                  });
  if (ok) return std::nullopt;
  return Problem{fmt::format("\"{}\" is not an ID Scope (letters and digits only)", c_sdk_url_encode(id_scope)),
                 "copy the ID Scope from the Overview page of your Device Provisioning Service, e.g. "
                 "id_scope = \"0ne00000000\""};
}

std::optional<Problem> check_transport(AttestationMethod method, Transport transport) {
  if (method == AttestationMethod::tpm && transport == Transport::mqtt) {
    return Problem{"DPS accepts TPM attestation over HTTPS only (it has no TPM challenge over MQTT)",
                   "set transport = \"https\" under [edgeprov.dps] (or remove it), or use symmetric_key or x509 "
                   "attestation for MQTT"};
  }
  return std::nullopt;
}

}  // namespace edgeprov::dps
