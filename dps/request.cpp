#include "dps/request.h"

#include <algorithm>
#include <charconv>

#include "common/encoding.h"
#include "dps/sas.h"

namespace edgeprov::dps {
namespace {

std::string query_suffix() { return "?api-version=" + std::string(api_version); }

}  // namespace

std::string register_path(std::string_view id_scope, std::string_view registration_id) {
  return "/" + c_sdk_url_encode(id_scope) + "/registrations/" + c_sdk_url_encode(registration_id) + "/register" +
         query_suffix();
}

std::string operation_status_path(std::string_view id_scope, std::string_view registration_id,
                                  std::string_view operation_id) {
  return "/" + c_sdk_url_encode(id_scope) + "/registrations/" + c_sdk_url_encode(registration_id) +
         "/operations/" + c_sdk_url_encode(operation_id) + query_suffix();
}

HttpHeaders standard_headers(std::string_view user_agent, bool has_body) {
  HttpHeaders headers{{"User-Agent", std::string(user_agent)}, {"Accept", "application/json"}};
  if (has_body) headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  return headers;
}

std::string register_body(std::string_view registration_id, const std::optional<TpmKeys>& tpm,
                          const std::optional<nlohmann::json>& payload) {
  // ordered_json keeps the reference clients' key order; JSON does not need it, but it makes requests
  // byte-comparable with theirs in captures.
  nlohmann::ordered_json body;
  body["registrationId"] = std::string(registration_id);
  if (tpm) {
    body["tpm"]["endorsementKey"] = base64_encode(tpm->endorsement_key);
    body["tpm"]["storageRootKey"] = base64_encode(tpm->storage_root_key);
  }
  if (payload) body["payload"] = *payload;
  // `replace`: a registration id or payload string with invalid UTF-8 is sent with U+FFFD, not thrown.
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace edgeprov::dps
