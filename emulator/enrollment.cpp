#include "emulator/enrollment.h"

#include <algorithm>
#include <cctype>

#include "common/crypto.h"
#include "common/encoding.h"
#include "emulator/tpm_challenge.h"
#include "emulator/x509_check.h"

namespace edgeprov::emulator {
namespace {

using nlohmann::json;

bool fail(std::string& error, std::string text) {
  error = std::move(text);
  return false;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

const json* member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

bool read_string(const json& object, const char* name, std::string& out, std::string& error, const char* where) {
  const json* value = member(object, name);
  if (!value) return true;
  if (!value->is_string()) return fail(error, std::string(where) + name + " must be a string");
  out = value->get<std::string>();
  return true;
}

bool valid_symmetric_key(const std::string& key) {
  auto bytes = base64_decode(key);
  return bytes && bytes->size() >= 16 && bytes->size() <= 64;
}

bool add_certificate(const json& entry, X509Attestation& x509, std::string& error, const std::string& where) {
  if (!entry.is_object()) return fail(error, where + " must be an object with \"certificate\" or \"thumbprint\"");
  bool found = false;
  if (const json* cert = member(entry, "certificate")) {
    if (!cert->is_string()) return fail(error, where + ".certificate must be a string (PEM or base64 DER)");
    auto der = x509::certificate_der(cert->get<std::string>());
    if (!der) return fail(error, where + ".certificate is neither a PEM certificate nor base64 of a DER certificate");
    x509.certificates.push_back(std::move(*der));
    found = true;
  }
  auto add_thumbprint = [&](const json* value, const char* name) {
    if (!value) return true;
    std::string text = value->is_string() ? lower(value->get<std::string>()) : std::string{};
    text.erase(std::remove(text.begin(), text.end(), ':'), text.end());
    if (!hex_decode(text) || (text.size() != 40 && text.size() != 64))
      return fail(error, where + "." + name + " must be a SHA-1 (40 hex) or SHA-256 (64 hex) thumbprint");
    x509.thumbprints.push_back(text);
    found = true;
    return true;
  };
  if (!add_thumbprint(member(entry, "thumbprint"), "thumbprint")) return false;
  if (const json* info = member(entry, "info")) {
    if (!add_thumbprint(member(*info, "sha1Thumbprint"), "info.sha1Thumbprint")) return false;
    if (!add_thumbprint(member(*info, "sha256Thumbprint"), "info.sha256Thumbprint")) return false;
  }
  if (!found) return fail(error, where + " needs \"certificate\" (PEM) or \"thumbprint\"");
  return true;
}

bool settings_from_json(const json& body, bool group, EnrollmentSettings& s, std::string& error) {
  const json* attestation = member(body, "attestation");
  if (!attestation || !attestation->is_object())
    return fail(error, "attestation is required: {\"type\": \"tpm\"|\"symmetricKey\"|\"x509\", …}");
  std::string type;
  if (!read_string(*attestation, "type", type, error, "attestation.")) return false;
  if (type == "tpm") {
    if (group) return fail(error, "TPM attestation is not supported for enrollment groups; create an individual enrollment");
    s.attestation = AttestationType::tpm;
    const json* tpm = member(*attestation, "tpm");
    std::string ek;
    if (tpm && !read_string(*tpm, "endorsementKey", ek, error, "attestation.tpm.")) return false;
    auto bytes = base64_decode(ek);
    std::string why;
    if (ek.empty() || !bytes || !tpm::parse_rsa_public(*bytes, &why))
      return fail(error, "attestation.tpm.endorsementKey must be the base64 of the EK's marshalled TPM2B_PUBLIC "
                         "(as tpm_device_provision or `tpm2_readpublic -c 0x81010001 -o ek.pub` gives it)" +
                             (why.empty() ? std::string{} : ": " + why));
    s.endorsement_key = std::move(*bytes);
  } else if (type == "symmetricKey") {
    s.attestation = AttestationType::symmetric_key;
    if (const json* keys = member(*attestation, "symmetricKey")) {
      if (!read_string(*keys, "primaryKey", s.primary_key, error, "attestation.symmetricKey.") ||
          !read_string(*keys, "secondaryKey", s.secondary_key, error, "attestation.symmetricKey."))
        return false;
    }
    // The service generates keys when none are given, as DPS does.
    if (s.primary_key.empty()) s.primary_key = base64_encode(random_bytes(32));
    if (s.secondary_key.empty()) s.secondary_key = base64_encode(random_bytes(32));
    if (!valid_symmetric_key(s.primary_key) || !valid_symmetric_key(s.secondary_key))
      return fail(error, "attestation.symmetricKey keys must be base64 of 16 to 64 bytes");
  } else if (type == "x509") {
    s.attestation = AttestationType::x509;
    const json* x509 = member(*attestation, "x509");
    const char* field = group ? "signingCertificates" : "clientCertificates";
    const json* certs = x509 ? member(*x509, field) : nullptr;
    if (group && x509 && member(*x509, "caReferences"))
      return fail(error, "attestation.x509.caReferences is not supported; put the CA certificate in "
                         "attestation.x509.signingCertificates.primary.certificate");
    if (!certs || !certs->is_object())
      return fail(error, std::string("attestation.x509.") + field + " is required with a primary certificate");
    for (const char* slot : {"primary", "secondary"}) {
      if (const json* entry = member(*certs, slot)) {
        if (!add_certificate(*entry, s.x509, error, std::string("attestation.x509.") + field + "." + slot)) return false;
      }
    }
    if (group && s.x509.certificates.empty())
      return fail(error, "attestation.x509.signingCertificates needs the CA certificate itself (PEM), not a thumbprint");
    if (s.x509.certificates.empty() && s.x509.thumbprints.empty())
      return fail(error, std::string("attestation.x509.") + field + ".primary is required");
  } else {
    return fail(error, "attestation.type must be \"tpm\", \"symmetricKey\" or \"x509\"");
  }

  std::string status = "enabled";
  if (!read_string(body, "provisioningStatus", status, error, "")) return false;
  if (status != "enabled" && status != "disabled") return fail(error, "provisioningStatus must be \"enabled\" or \"disabled\"");
  s.enabled = status == "enabled";
  if (const json* capabilities = member(body, "capabilities")) {
    if (const json* edge = member(*capabilities, "iotEdge")) {
      if (!edge->is_boolean()) return fail(error, "capabilities.iotEdge must be true or false");
      s.iot_edge = edge->get<bool>();
    }
  }
  if (const json* hubs = member(body, "iotHubs")) {
    if (!hubs->is_array()) return fail(error, "iotHubs must be an array of IoT hub host names");
    for (const auto& hub : *hubs) {
      if (!hub.is_string() || hub.get<std::string>().empty()) return fail(error, "iotHubs must be an array of IoT hub host names");
      s.iot_hubs.push_back(hub.get<std::string>());
    }
  }
  std::string hub_host;
  if (!read_string(body, "iotHubHostName", hub_host, error, "")) return false;
  if (!hub_host.empty() && std::find(s.iot_hubs.begin(), s.iot_hubs.end(), hub_host) == s.iot_hubs.end())
    s.iot_hubs.insert(s.iot_hubs.begin(), hub_host);
  std::string policy;
  if (!read_string(body, "allocationPolicy", policy, error, "")) return false;
  if (!policy.empty()) {
    s.allocation_policy = parse_allocation_policy(policy);
    if (!s.allocation_policy) return fail(error, "allocationPolicy must be \"hashed\", \"static\", \"custom\" or \"geoLatency\"");
  }
  if (const json* reprovision = member(body, "reprovisionPolicy")) {
    if (const json* v = member(*reprovision, "updateHubAssignment"); v && v->is_boolean()) s.update_hub_assignment = v->get<bool>();
    if (const json* v = member(*reprovision, "migrateDeviceData"); v && v->is_boolean()) s.migrate_device_data = v->get<bool>();
  }
  if (const json* twin = member(body, "initialTwin")) {
    if (!twin->is_object()) return fail(error, "initialTwin must be an object ({\"tags\": …, \"properties\": {\"desired\": …}})");
    s.initial_twin = *twin;
  }
  if (const json* payload = member(body, "replyPayload")) s.reply_payload = *payload;
  return true;
}

json settings_to_json(const EnrollmentSettings& s, bool group, bool redact) {
  json attestation = {{"type", to_string(s.attestation)}};
  switch (s.attestation) {
    case AttestationType::tpm:
      attestation["tpm"] = {{"endorsementKey", base64_encode(s.endorsement_key)}};
      break;
    case AttestationType::symmetric_key:
      attestation["symmetricKey"] = redact ? json{{"primaryKey", nullptr}, {"secondaryKey", nullptr}}
                                           : json{{"primaryKey", s.primary_key}, {"secondaryKey", s.secondary_key}};
      break;
    case AttestationType::x509: {
      json certs = json::object();
      const char* slots[] = {"primary", "secondary"};
      std::size_t slot = 0;
      for (const auto& der : s.x509.certificates) {
        if (slot >= 2) break;
        certs[slots[slot++]] = {{"certificate", x509::pem_of(der)},
                                {"info", {{"sha1Thumbprint", x509::sha1_thumbprint(der)},
                                          {"sha256Thumbprint", x509::sha256_thumbprint(der)}}}};
      }
      for (const auto& thumbprint : s.x509.thumbprints) {
        if (slot >= 2) break;
        certs[slots[slot++]] = {{"thumbprint", thumbprint}};
      }
      attestation["x509"] = {{group ? "signingCertificates" : "clientCertificates", certs}};
      break;
    }
  }
  json out = {{"attestation", attestation},
              {"capabilities", {{"iotEdge", s.iot_edge}}},
              {"provisioningStatus", s.enabled ? "enabled" : "disabled"},
              {"reprovisionPolicy", {{"updateHubAssignment", s.update_hub_assignment}, {"migrateDeviceData", s.migrate_device_data}}},
              {"etag", s.etag},
              {"createdDateTimeUtc", s.created},
              {"lastUpdatedDateTimeUtc", s.last_updated}};
  if (!s.iot_hubs.empty()) out["iotHubs"] = s.iot_hubs;
  if (s.allocation_policy) out["allocationPolicy"] = to_string(*s.allocation_policy);
  if (!s.initial_twin.is_null()) out["initialTwin"] = s.initial_twin;
  if (!s.reply_payload.is_null()) out["replyPayload"] = s.reply_payload;
  return out;
}

bool check_id(const json& body, const char* name, std::string_view path_id, std::string& error) {
  const json* id = member(body, name);
  if (id && (!id->is_string() || id->get<std::string>() != path_id))
    return fail(error, std::string(name) + " in the body (" + (id->is_string() ? id->get<std::string>() : id->dump()) +
                           ") differs from the id in the path (" + std::string(path_id) + ")");
  return true;
}

}  // namespace



std::string to_string(AttestationType type) {
  switch (type) {
    case AttestationType::tpm: return "tpm";
    case AttestationType::symmetric_key: return "symmetricKey";
    case AttestationType::x509: return "x509";
  }
  return "unknown";
}

std::string to_string(AllocationPolicy policy) {
  switch (policy) {
    case AllocationPolicy::hashed: return "hashed";
    case AllocationPolicy::static_hub: return "static";
    case AllocationPolicy::custom: return "custom";
    case AllocationPolicy::geo_latency: return "geoLatency";
  }
  return "hashed";
}

std::optional<AllocationPolicy> parse_allocation_policy(std::string_view text) {
  if (text == "hashed") return AllocationPolicy::hashed;
  if (text == "static") return AllocationPolicy::static_hub;
  if (text == "custom") return AllocationPolicy::custom;
  if (text == "geoLatency") return AllocationPolicy::geo_latency;
  return std::nullopt;
}

bool valid_registration_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' && c != ':') return false;
  }
  return true;
}

std::optional<Enrollment> enrollment_from_json(const json& body, std::string_view path_id, std::string& error) {
  if (!body.is_object()) return fail(error, "the enrollment must be a JSON object"), std::nullopt;
  if (!valid_registration_id(path_id))
    return fail(error, "registration id \"" + std::string(path_id) +
                           "\" is invalid: use 1 to 128 letters, digits, '-', '.', '_' or ':'"), std::nullopt;
  if (!check_id(body, "registrationId", path_id, error)) return std::nullopt;
  Enrollment e;
  e.registration_id = std::string(path_id);
  std::string device_id;
  if (!read_string(body, "deviceId", device_id, error, "")) return std::nullopt;
  if (!device_id.empty()) e.device_id = device_id;
  if (!settings_from_json(body, false, e.settings, error)) return std::nullopt;
  return e;
}

std::optional<EnrollmentGroup> group_from_json(const json& body, std::string_view path_id, std::string& error) {
  if (!body.is_object()) return fail(error, "the enrollment group must be a JSON object"), std::nullopt;
  if (!valid_registration_id(path_id))
    return fail(error, "enrollment group id \"" + std::string(path_id) +
                           "\" is invalid: use 1 to 128 letters, digits, '-', '.', '_' or ':'"), std::nullopt;
  if (!check_id(body, "enrollmentGroupId", path_id, error)) return std::nullopt;
  EnrollmentGroup g;
  g.group_id = std::string(path_id);
  if (!settings_from_json(body, true, g.settings, error)) return std::nullopt;
  return g;
}

json to_json(const Enrollment& e, bool redact_keys) {
  json out = settings_to_json(e.settings, false, redact_keys);
  out["registrationId"] = e.registration_id;
  if (e.device_id) out["deviceId"] = *e.device_id;
  return out;
}

json to_json(const EnrollmentGroup& g, bool redact_keys) {
  json out = settings_to_json(g.settings, true, redact_keys);
  out["enrollmentGroupId"] = g.group_id;
  return out;
}

bool same_content(const EnrollmentSettings& a, const EnrollmentSettings& b) {
  return a.attestation == b.attestation && a.endorsement_key == b.endorsement_key && a.primary_key == b.primary_key &&
         a.secondary_key == b.secondary_key && a.x509.certificates == b.x509.certificates &&
         a.x509.thumbprints == b.x509.thumbprints && a.enabled == b.enabled && a.iot_edge == b.iot_edge &&
         a.iot_hubs == b.iot_hubs && a.allocation_policy == b.allocation_policy &&
         a.update_hub_assignment == b.update_hub_assignment && a.migrate_device_data == b.migrate_device_data &&
         a.initial_twin == b.initial_twin && a.reply_payload == b.reply_payload;
}

}  // namespace edgeprov::emulator
