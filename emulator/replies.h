// emulator/replies.h — the JSON bodies DPS answers devices with (docs/dps-protocol.md §2.4), built in one
// place so HTTPS and MQTT answer byte for byte alike. Pure.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/time.h"

namespace edgeprov::emulator {

// DPS error codes used by the emulator (errorCode in error bodies and failed registration states).
namespace error_code {
inline constexpr int bad_api_version = 400001;
inline constexpr int bad_request = 400004;
inline constexpr int no_hub = 400208;
inline constexpr int unauthorized = 401002;
inline constexpr int enrollment_not_found = 404201;
inline constexpr int operation_not_found = 404202;
inline constexpr int not_found = 404000;
inline constexpr int method_not_allowed = 405000;
inline constexpr int request_timeout = 408000;  // admin API: a long poll that ran out of time
inline constexpr int payload_too_large = 413000;
inline constexpr int throttled = 429001;
inline constexpr int internal = 500000;
inline constexpr int unavailable = 503000;
}  // namespace error_code

// What a transport sends back: HTTP status (MQTT: the `res/{status}` topic), body, Retry-After.
struct DeviceReply {
  int status = 200;
  std::string body;
  std::optional<int> retry_after;  // seconds; set on every 202 and 429
  std::string outcome;             // a few words for the request log line (never a secret)
};

// The body text of `value`. Never throws: text taken from a request (a path segment in an error message)
// may be invalid UTF-8, and is sent with U+FFFD in its place rather than failing the answer.
std::string body_text(const nlohmann::json& value);

// {"errorCode":…,"trackingId":…,"message":…,"timestampUtc":…}
nlohmann::json error_body(int code, const std::string& message, SystemTime now);
DeviceReply error_reply(int status, int code, const std::string& message, SystemTime now,
                        std::optional<int> retry_after = std::nullopt);

// 202 to a register request.
DeviceReply assigning_reply(const std::string& operation_id, int retry_after);
// 202 to a status poll while still assigning.
DeviceReply assigning_poll_reply(const std::string& operation_id, const std::string& registration_id, int retry_after);
// 200 to a status poll with the final state (`registration_state.status` is assigned, failed or disabled).
DeviceReply final_poll_reply(const std::string& operation_id, const nlohmann::json& registration_state);
// 401 TPM challenge.
DeviceReply tpm_challenge_reply(const std::string& authentication_key_b64);

std::string new_tracking_id();  // a random UUID-shaped id

// True when JSON text nests arrays/objects deeper than `max_depth`. Checked before parsing so a hostile body
// can never make the (recursive) serializer or destructor run out of stack.
bool json_nesting_exceeds(std::string_view text, int max_depth);

}  // namespace edgeprov::emulator
