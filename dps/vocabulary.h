// dps/vocabulary.h — the words of DPS that every part of edgeprov shares, defined once: attestation
// methods, transports, what a registration id and an ID scope may hold, which attestation goes over which
// transport, the API version and the default ports (docs/dps-protocol.md §2.1, §3). The configuration
// (edge-config) validates with these rules; it never restates them. Pure: no I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgeprov::dps {

inline constexpr std::string_view api_version = "2021-06-01";
inline constexpr std::string_view default_global_endpoint = "https://global.azure-devices-provisioning.net/";
inline constexpr std::uint16_t default_https_port = 443;
inline constexpr std::uint16_t default_mqtt_port = 8883;

enum class AttestationMethod { tpm, symmetric_key, x509 };
enum class Transport { https, mqtt };

std::string_view to_string(AttestationMethod method);  // "tpm", "symmetric_key", "x509" (aziot's names)
std::string_view to_string(Transport transport);       // "https", "mqtt"
std::optional<AttestationMethod> parse_attestation_method(std::string_view text);
std::optional<Transport> parse_transport(std::string_view text);
// For messages: "TPM", "symmetric key", "X.509"; "HTTPS", "MQTT".
std::string_view display_name(AttestationMethod method);
std::string_view display_name(Transport transport);

// A problem with a value, in two parts so a caller can put them where its messages need them (the
// configuration adds file, line and key): what is wrong, and what to do.
struct Problem {
  std::string problem;
  std::string fix;
};

// DPS accepts registration ids of 1..128 characters from A-Z a-z 0-9 - . _ : (case-insensitive).
std::optional<Problem> check_registration_id(std::string_view registration_id);
// An ID scope is letters and digits ("0ne00000000"), as the portal shows it.
std::optional<Problem> check_id_scope(std::string_view id_scope);
// DPS offers the TPM challenge over HTTPS only; symmetric key and X.509 go over both.
std::optional<Problem> check_transport(AttestationMethod method, Transport transport);

}  // namespace edgeprov::dps
