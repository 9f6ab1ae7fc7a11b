#include "tpm/json.h"

#include <fmt/format.h>

#include "common/encoding.h"
#include "tpm/ek_certificate.h"

namespace edgeprov::tpm {
namespace {
std::string handle_text(std::uint32_t handle) { return fmt::format("0x{:08x}", handle); }

nlohmann::json ek_certificate_json(const PublicKeys& keys, const Info& info) {
  nlohmann::json out = {{"nvIndex", handle_text(rsa_ek_certificate_index)}, {"present", info.ek_certificate.has_value()}};
  if (!info.ek_certificate) return out;
  const auto facts = examine_ek_certificate(*info.ek_certificate, keys.endorsement_key);
  out["subject"] = facts.subject;
  out["issuer"] = facts.issuer;
  out["notAfter"] = facts.not_after.empty() ? nlohmann::json(nullptr) : nlohmann::json(facts.not_after);
  out["matchesEndorsementKey"] =
      facts.matches_endorsement_key ? nlohmann::json(*facts.matches_endorsement_key) : nlohmann::json(nullptr);
  if (!facts.problem.empty()) out["problem"] = facts.problem;
  return out;
}
}  // namespace

nlohmann::json info_json(const PublicKeys& keys, const Info& info, std::string_view tcti) {
  nlohmann::json persistent = nlohmann::json::array();
  for (auto h : info.persistent_handles) persistent.push_back(handle_text(h));
  return {
      {"registrationId", keys.registration_id},
      {"endorsementKey", base64_encode(keys.endorsement_key)},
      {"storageRootKey", base64_encode(keys.storage_root_key)},
      {"tcti", std::string(tcti)},
      {"tpm",
       {{"manufacturer", info.manufacturer},
        {"vendor", info.vendor},
        {"firmwareVersion", info.firmware_version},
        {"specFamily", info.spec_family},
        {"specLevel", info.spec_level},
        {"specRevision", info.spec_revision},
        {"lockout", lockout_json(info.dictionary_attack)},
        {"hierarchyAuthSet",
         {{"owner", info.owner_auth_set},
          {"endorsement", info.endorsement_auth_set},
          {"lockout", info.dictionary_attack.lockout_auth_set}}}}},
      {"ekCertificate", ek_certificate_json(keys, info)},
      {"handles",
       {{"endorsementKey", {{"handle", handle_text(endorsement_key_handle)}, {"present", info.endorsement_key_present}}},
        {"storageRootKey", {{"handle", handle_text(storage_root_key_handle)}, {"present", info.storage_root_key_present}}},
        {"authKey", {{"handle", handle_text(info.auth_key_handle)}, {"present", info.auth_key_present}}},
        {"persistent", persistent}}},
  };
}

}  // namespace edgeprov::tpm
