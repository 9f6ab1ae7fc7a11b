#include <catch2/catch_test_macros.hpp>

#include "tpm/json.h"

using namespace edgeprov;

TEST_CASE("tpm.info carries the EK and SRK as base64 of their marshalled TPM2B_PUBLIC and the TPM's facts") {
  tpm::PublicKeys keys{.endorsement_key = {0x01, 0x3A, 0x00}, .storage_root_key = {0xFF}, .registration_id = "abc"};
  tpm::Info info;
  info.manufacturer = "IBM";
  info.spec_revision = 164;
  info.dictionary_attack.in_lockout = true;
  info.auth_key_handle = 0x81000100;
  info.auth_key_present = true;
  info.persistent_handles = {0x81000001, 0x81010001};
  const auto j = tpm::info_json(keys, info, "swtpm:host=127.0.0.1,port=2321");
  CHECK(j["registrationId"] == "abc");
  CHECK(j["endorsementKey"] == "AToA");  // base64 of 01 3A 00
  CHECK(j["storageRootKey"] == "/w==");
  CHECK(j["tcti"] == "swtpm:host=127.0.0.1,port=2321");
  CHECK(j["tpm"]["manufacturer"] == "IBM");
  CHECK(j["tpm"]["specRevision"] == 164);
  CHECK(j["tpm"]["lockout"]["inLockout"] == true);
  CHECK(j["handles"]["authKey"]["handle"] == "0x81000100");
  CHECK(j["handles"]["authKey"]["present"] == true);
  CHECK(j["handles"]["persistent"] == nlohmann::json::array({"0x81000001", "0x81010001"}));
}
