// Checks shared by the end-to-end provisioning tests: what a provisioned device must look like from every
// side (status, identity.get, the persisted file, the emulator's registration record), the hub-SAS check,
// and the scan of every log for secrets.
#pragma once
#include <sys/stat.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "common/time.h"
#include "ipc/client.h"
#include "tests/support/provisioning_world.h"

namespace edgeprov::test {

// Keys made up for these tests (base64 of 32 bytes from `head -c 32 /dev/urandom | base64`).
inline constexpr const char* individual_key = "q0vJ3FQp9XlXWb0l3z4mM2m5c6Gk8yTt1fS7aE2dWvU=";
inline constexpr const char* group_key = "Zb3Rr9kq1nY0b7oWm2pX8cT5vLr4eN6aQs1dFg3hJkM=";

inline std::chrono::milliseconds between(SystemTime from, SystemTime to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from);
}

inline SystemTime time_of(const nlohmann::json& text) {
  REQUIRE(text.is_string());
  const auto t = parse_rfc3339(text.get<std::string>());
  REQUIRE(t.has_value());
  return *t;
}

// A figure a test observed (never asserted beyond a generous bound): printed so runs can be compared.
inline void record(const std::string& what, double value, const std::string& unit) {
  std::cout << "figure: " << what << " = " << value << " " << unit << "\n";
}

// The device key of a symmetric-key group member, computed as docs/dps-protocol.md §4.4 and the IoT Edge
// e2e scripts do it: openssl's HMAC-SHA256 keyed with the decoded group key, then base64.
inline std::string openssl_derived_key(const std::string& group_key_b64, const std::string& registration_id) {
  const auto r = run({.argv = {"sh", "-c", R"(set -e
hex=$(printf %s "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
printf %s "$ID" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$hex -binary | base64 | tr -d '\n')"},
                      .env = {{"KEY", group_key_b64}, {"ID", registration_id}}});
  REQUIRE(r.status.code == 0);
  return r.output;
}

// base64(HMAC-SHA256(base64decode(key), data)) by the openssl command line: what identity.sign must answer
// for a symmetric-key device, whose hub key is its device key.
inline std::string openssl_hmac(const std::string& key_b64, const std::string& data) {
  const auto r = run({.argv = {"sh", "-c", R"(set -e
hex=$(printf %s "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
printf %s "$DATA" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$hex -binary | base64 | tr -d '\n')"},
                      .env = {{"KEY", key_b64}, {"DATA", data}}});
  REQUIRE(r.status.code == 0);
  return r.output;
}

// The number of register requests the emulator logged for a registration id (faulted ones included).
inline std::size_t register_requests(const ProvisioningWorld& world, const std::string& registration_id) {
  std::size_t n = 0;
  for (const auto& r : world.emulator().requests(registration_id))
    if (r.kind == "register") ++n;
  return n;
}

// The emulator's registration record agrees with what the service reports, the identity methods answer
// for it, and the persisted file holds it (mode 0600, version 1, the configured settings).
inline void check_provisioned(ProvisioningWorld& world, const nlohmann::json& status, const std::string& registration_id,
                              const std::string& attestation, const std::string& transport) {
  INFO("status: " << status.dump());
  REQUIRE(status["state"] == "provisioned");
  CHECK(status["source"] == "dps");
  CHECK(status["provisioning"]["idScope"] == world_id_scope);
  CHECK(status["provisioning"]["registrationId"] == registration_id);
  CHECK(status["provisioning"]["attestation"] == attestation);
  CHECK(status["provisioning"]["transport"] == transport);
  CHECK(status["lastAttempt"]["outcome"] == "assigned");
  CHECK(status["nextAttemptAt"].is_null());
  CHECK(status["attempts"].get<int>() >= 1);

  const auto record = world.emulator().admin("GET", "/registrations/" + registration_id);
  REQUIRE(record.status == 200);
  const auto r = record.json();
  INFO("emulator's registration: " << record.body);
  CHECK(r["status"] == "assigned");
  CHECK(status["assignment"]["hub"] == r["assignedHub"]);
  CHECK(status["assignment"]["deviceId"] == r["deviceId"]);
  CHECK(status["assignment"]["substatus"] == r["substatus"]);

  const auto identity = world.call("identity.get");
  INFO("identity.get: " << identity.dump());
  CHECK(identity["hub"] == r["assignedHub"]);
  CHECK(identity["deviceId"] == r["deviceId"]);
  CHECK(identity["registrationId"] == registration_id);
  CHECK(identity["authType"] == (attestation == "x509" ? "x509" : "sas"));
  CHECK(identity["keySource"] == attestation);
  CHECK(identity["source"] == "dps");

  struct stat st{};
  REQUIRE(::stat(world.state_file().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const auto persisted = nlohmann::json::parse(read_file(world.state_file()), nullptr, false);
  INFO("provisioning.json: " << persisted.dump());
  REQUIRE(persisted.is_object());
  CHECK(persisted["version"] == 1);
  CHECK(persisted["settings"]["idScope"] == world_id_scope);
  CHECK(persisted["settings"]["registrationId"] == registration_id);
  CHECK(persisted["settings"]["attestation"] == attestation);
  CHECK(persisted["assignment"]["hub"] == r["assignedHub"]);
  CHECK(persisted["assignment"]["deviceId"] == r["deviceId"]);
}

// identity.sasToken, judged by the emulator's POST /hubSasCheck (was it signed with the key the device was
// given for its hub?). A copy with one signature character changed must be refused, so the check can fail.
inline std::string check_hub_sas_token(ProvisioningWorld& world, const std::string& hub, const std::string& device_id) {
  const auto before = std::chrono::system_clock::now();
  const auto result = world.call("identity.sasToken", {{"lifetimeSeconds", 3600}});
  INFO("identity.sasToken: " << result.dump());
  const std::string token = result["token"].get<std::string>();
  const bool names_device = token.rfind("SharedAccessSignature sr=" + hub + "%2fdevices%2f" + device_id + "&", 0) == 0 ||
                            token.rfind("SharedAccessSignature sr=" + hub + "/devices/" + device_id + "&", 0) == 0;
  CHECK(names_device);
  CHECK(result["hub"] == hub);
  CHECK(result["deviceId"] == device_id);
  const auto expires = between(before, time_of(result["expiresAt"]));
  CHECK(expires >= std::chrono::seconds(3590));
  CHECK(expires <= std::chrono::seconds(3610));

  const auto check = world.emulator().admin("POST", "/hubSasCheck", {{"token", token}});
  INFO("hubSasCheck: " << check.body);
  REQUIRE(check.status == 200);
  CHECK(check.json()["valid"] == true);
  CHECK(check.json()["deviceId"] == device_id);
  CHECK(check.json()["assignedHub"] == hub);

  std::string tampered = token;
  const auto sig = tampered.find("sig=") + 4;
  tampered[sig] = tampered[sig] == 'A' ? 'B' : 'A';
  const auto refused = world.emulator().admin("POST", "/hubSasCheck", {{"token", tampered}});
  CHECK(refused.json()["valid"] == false);
  return token;
}

// The `sig` of a SAS token, as sent (URL-encoded) and decoded: either form in a log is a leak.
inline std::vector<std::string> signature_forms(const std::string& token) {
  const auto at = token.find("sig=");
  if (at == std::string::npos) return {};
  const auto end = token.find('&', at);
  std::string encoded = token.substr(at + 4, end == std::string::npos ? std::string::npos : end - at - 4);
  std::string decoded;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size()) {
      decoded += static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      decoded += encoded[i];
    }
  }
  return {encoded, decoded};
}

// Every log of the world (edgeprovd's, the emulator's, edgeprovctl's output including `logs`) is free of
// each secret. The secrets are long random strings: any occurrence is a leak, never a coincidence.
inline void check_no_secret_in_logs(ProvisioningWorld& world, const std::vector<std::string>& secrets) {
  const auto logs = world.ctl({"logs", "--lines", "1000", "--level", "trace"});
  INFO("edgeprovctl logs: exit " << logs.status.code);
  const std::pair<std::string, std::string> sources[] = {
      {"edgeprovd's log", world.daemon_log()},
      {"the emulator's log", world.emulator().log()},
      {"edgeprovctl's output", world.ctl_transcript()},
  };
  for (const auto& [where, text] : sources) {
    REQUIRE_FALSE(text.empty());
    for (const auto& secret : secrets) {
      if (secret.size() < 8) continue;  // too short to be a meaningful needle
      const auto found = lines_containing(text, secret);
      INFO("a secret in " << where << ": " << (found.empty() ? std::string{} : found.front()));
      CHECK(found.empty());
    }
  }
}

}  // namespace edgeprov::test
