#include "dps/mqtt_topic.h"

#include <charconv>

#include <fmt/format.h>

#include "dps/sas.h"
#include "dps/vocabulary.h"

namespace edgeprov::dps {

std::string mqtt_username(std::string_view id_scope, std::string_view registration_id,
                          std::string_view client_version) {
  return fmt::format("{}/registrations/{}/api-version={}&ClientVersion={}", id_scope, registration_id, api_version,
                     client_version);
}

std::string register_topic(unsigned request_id) {
  return fmt::format("$dps/registrations/PUT/iotdps-register/?$rid={}", request_id);
}

std::string operation_status_topic(unsigned request_id, std::string_view operation_id) {
  return fmt::format("$dps/registrations/GET/iotdps-get-operationstatus/?$rid={}&operationId={}", request_id,
                     c_sdk_url_encode(operation_id));
}

std::optional<ReplyTopic> parse_reply_topic(std::string_view topic) {
  constexpr std::string_view prefix = "$dps/registrations/res/";
  if (!topic.starts_with(prefix)) return std::nullopt;
  topic.remove_prefix(prefix.size());
  const auto slash = topic.find('/');
  const auto status_text = topic.substr(0, slash);
  ReplyTopic reply;
  const auto [end, ec] = std::from_chars(status_text.data(), status_text.data() + status_text.size(), reply.status);
  if (ec != std::errc{} || end != status_text.data() + status_text.size() || reply.status < 100 ||
      reply.status > 599) {
    return std::nullopt;
  }
  if (slash == std::string_view::npos) return reply;
  auto rest = topic.substr(slash + 1);
  if (rest.starts_with('?')) rest.remove_prefix(1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    const auto name = pair.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (name == "$rid") {
      unsigned rid = 0;
      const auto [rid_end, rid_ec] = std::from_chars(value.data(), value.data() + value.size(), rid);
      if (rid_ec == std::errc{} && rid_end == value.data() + value.size()) reply.request_id = rid;
    } else if (name == "retry-after") {
      reply.retry_after = std::string(value);
    }
  }
  return reply;
}

}  // namespace edgeprov::dps
