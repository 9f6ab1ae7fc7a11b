// dps/mqtt_topic.h — the names DPS uses over MQTT (docs/dps-protocol.md §3): the CONNECT user name, the
// request topics and the reply topic, built and read here only. Pure, so they are built and tested in
// every build, with or without an MQTT library.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace edgeprov::dps {

// Client id is the registration id. User name, not URL-encoded, like the C SDK:
// "{idScope}/registrations/{regId}/api-version=2021-06-01&ClientVersion={clientVersion}".
std::string mqtt_username(std::string_view id_scope, std::string_view registration_id,
                          std::string_view client_version);

inline constexpr std::string_view reply_subscription = "$dps/registrations/res/#";

// "$dps/registrations/PUT/iotdps-register/?$rid={rid}"; the payload is register_body(...).
std::string register_topic(unsigned request_id);
// "$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={opId}". The operation id
// comes from the server: it is escaped with c_sdk_url_encode so it cannot add topic properties (real
// operation ids are unchanged by it). The C SDK sends the register body as this request's payload too.
std::string operation_status_topic(unsigned request_id, std::string_view operation_id);

// "$dps/registrations/res/{status}/?$rid={n}[&retry-after={s}][&…]" taken apart; unknown properties are
// ignored. std::nullopt when the topic is not a DPS reply (other prefix, a status that is not 100-599).
struct ReplyTopic {
  int status = 0;
  std::optional<unsigned> request_id;  // $rid
  std::string retry_after;             // raw text for parse_retry_after; "" when absent
  friend bool operator==(const ReplyTopic&, const ReplyTopic&) = default;
};
std::optional<ReplyTopic> parse_reply_topic(std::string_view topic);

}  // namespace edgeprov::dps
