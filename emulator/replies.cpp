#include "emulator/replies.h"

#include "common/crypto.h"
#include "common/encoding.h"

namespace edgeprov::emulator {

using nlohmann::json;

std::string new_tracking_id() {
  std::string hex = hex_encode(random_bytes(16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" + hex.substr(20);
}

std::string body_text(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

json error_body(int code, const std::string& message, SystemTime now) {
  return {{"errorCode", code}, {"trackingId", new_tracking_id()}, {"message", message}, {"timestampUtc", to_rfc3339(now, true)}};
}

DeviceReply error_reply(int status, int code, const std::string& message, SystemTime now, std::optional<int> retry_after) {
  return {status, body_text(error_body(code, message, now)), retry_after, std::to_string(status) + " " + std::to_string(code)};
}

DeviceReply assigning_reply(const std::string& operation_id, int retry_after) {
  return {202, body_text(json{{"operationId", operation_id}, {"status", "assigning"}}), retry_after, "202 assigning"};
}

DeviceReply assigning_poll_reply(const std::string& operation_id, const std::string& registration_id, int retry_after) {
  json body = {{"operationId", operation_id},
               {"status", "assigning"},
               {"registrationState", {{"registrationId", registration_id}, {"status", "assigning"}}}};
  return {202, body_text(body), retry_after, "202 assigning"};
}

DeviceReply final_poll_reply(const std::string& operation_id, const json& registration_state) {
  std::string status = registration_state.value("status", "failed");
  json body = {{"operationId", operation_id}, {"status", status}, {"registrationState", registration_state}};
  return {200, body_text(body), std::nullopt, "200 " + status};
}

bool json_nesting_exceeds(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

DeviceReply tpm_challenge_reply(const std::string& authentication_key_b64) {
  return {401, body_text(json{{"authenticationKey", authentication_key_b64}, {"keyName", "registration"}}), std::nullopt,
          "401 tpm challenge"};
}

}  // namespace edgeprov::emulator
