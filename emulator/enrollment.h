// emulator/enrollment.h — individual enrollments and enrollment groups as the DPS service API shapes them
// (JSON camelCase), and the same shape read from the TOML enrollment file. Pure: parsing and validation only.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"

namespace edgeprov::emulator {

enum class AttestationType { tpm, symmetric_key, x509 };
enum class AllocationPolicy { hashed, static_hub, custom, geo_latency };

std::string to_string(AttestationType type);          // "tpm" / "symmetricKey" / "x509"
std::string to_string(AllocationPolicy policy);       // "hashed" / "static" / "custom" / "geoLatency"
std::optional<AllocationPolicy> parse_allocation_policy(std::string_view text);

struct X509Attestation {
  // Individual: certificates (DER) and/or thumbprints (lowercase hex SHA-1 or SHA-256) of the device certificate.
  // Group: CA certificates (DER) that a device's chain must lead to.
  std::vector<Bytes> certificates;
  std::vector<std::string> thumbprints;
};

// What an individual enrollment and a group have in common.
struct EnrollmentSettings {
  AttestationType attestation = AttestationType::symmetric_key;
  Bytes endorsement_key;                          // tpm: marshalled TPM2B_PUBLIC
  std::string primary_key, secondary_key;         // symmetricKey: base64
  X509Attestation x509;
  bool enabled = true;                            // provisioningStatus
  bool iot_edge = false;                          // capabilities.iotEdge
  std::vector<std::string> iot_hubs;              // empty: the emulator's configured hubs
  std::optional<AllocationPolicy> allocation_policy;  // empty: the emulator's default
  bool update_hub_assignment = true;              // reprovisionPolicy.updateHubAssignment
  bool migrate_device_data = true;                // reprovisionPolicy.migrateDeviceData
  nlohmann::json initial_twin;                    // null when absent
  nlohmann::json reply_payload;                   // emulator extension: static custom-allocation reply payload
  // Bookkeeping, set by the store.
  std::string etag;
  std::string created, last_updated;
};

struct Enrollment {
  std::string registration_id;
  std::optional<std::string> device_id;
  EnrollmentSettings settings;
};

struct EnrollmentGroup {
  std::string group_id;
  EnrollmentSettings settings;
};

// Parse a service-API body. `path_id` is the id from the URL (or the file entry); the body's id, when present,
// must equal it. On error returns std::nullopt and a message naming the field and the fix.
std::optional<Enrollment> enrollment_from_json(const nlohmann::json& body, std::string_view path_id, std::string& error);
std::optional<EnrollmentGroup> group_from_json(const nlohmann::json& body, std::string_view path_id, std::string& error);

// Service-API shape. Keys are included (as the service API returns them) unless `redact_keys`.
nlohmann::json to_json(const Enrollment& enrollment, bool redact_keys = false);
nlohmann::json to_json(const EnrollmentGroup& group, bool redact_keys = false);

// True when the two differ in anything but bookkeeping (etag, times).
bool same_content(const EnrollmentSettings& a, const EnrollmentSettings& b);

// A registration id DPS accepts: 1..128 of [a-z0-9.-_:] (lowercase letters; DPS compares case-insensitively).
bool valid_registration_id(std::string_view id);

}  // namespace edgeprov::emulator
