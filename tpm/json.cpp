#include "tpm/json.h"

#include <fmt/format.h>

#include "common/encoding.h"

namespace edgeprov::tpm {
namespace {
std::string handle_text(std::uint32_t handle) { return fmt::format("0x{:08x}", handle); }
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
        {"lockout",
         {{"inLockout", info.in_lockout},
          {"counter", info.lockout_counter},
          {"maxTries", info.max_auth_fail},
          {"intervalSeconds", info.lockout_interval},
          {"recoverySeconds", info.lockout_recovery}}},
        {"hierarchyAuthSet",
         {{"owner", info.owner_auth_set}, {"endorsement", info.endorsement_auth_set}, {"lockout", info.lockout_auth_set}}}}},
      {"handles",
       {{"endorsementKey", {{"handle", handle_text(endorsement_key_handle)}, {"present", info.endorsement_key_present}}},
        {"storageRootKey", {{"handle", handle_text(storage_root_key_handle)}, {"present", info.storage_root_key_present}}},
        {"authKey", {{"handle", handle_text(info.auth_key_handle)}, {"present", info.auth_key_present}}},
        {"persistent", persistent}}},
  };
}

}  // namespace edgeprov::tpm
