// dps/request.h — what the device sends to DPS (docs/dps-protocol.md §2, §3): the endpoint, HTTPS paths and
// headers, register bodies for TPM / symmetric key / X.509, MQTT username and topics, and reading the
// MQTT reply topic. Pure: no sockets; the SAS token (a Secret) is added by the transport, never here.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"

namespace edgeprov::dps {

inline constexpr std::string_view api_version = "2021-06-01";
inline constexpr std::string_view default_global_endpoint = "global.azure-devices-provisioning.net";

// ---- Endpoint ---------------------------------------------------------------------------------------

// `[provisioning] global_endpoint`: "https://host[:port][/]" as aziot writes it, or a bare "host[:port]"
// as the C SDK takes it. Plain http:// is refused: DPS is only spoken over TLS. (Named apart from
// transport.h's Endpoint, which the transports connect to, so both headers can be included together.)
struct GlobalEndpoint {
  std::string host;
  std::uint16_t https_port = 443;
  friend bool operator==(const GlobalEndpoint&, const GlobalEndpoint&) = default;
};
struct EndpointError {
  std::string message;
};
std::variant<GlobalEndpoint, EndpointError> parse_endpoint(std::string_view global_endpoint);

// DPS accepts registration ids of 1..128 characters from A-Z a-z 0-9 - . _ : (case-insensitive).
// std::nullopt when valid, else a message saying what is wrong and how to fix it.
std::optional<std::string> check_registration_id(std::string_view registration_id);

// ---- HTTPS ------------------------------------------------------------------------------------------

// Path and query of the register PUT and the operation-status GET. Each of id scope, registration id and
// operation id is one path segment, escaped with the C SDK's encoder (c_sdk_url_encode): "/" inside an
// id becomes "%2f" and cannot change the path. (aziot leaves "/" unescaped; for valid ids the two agree.)
std::string register_path(std::string_view id_scope, std::string_view registration_id);
// "/{scope}/registrations/{regId}/operations/{opId}?api-version=2021-06-01"
std::string operation_status_path(std::string_view id_scope, std::string_view registration_id,
                                  std::string_view operation_id);

// Headers every request carries besides Host, Content-Length and Authorization (the transport adds those;
// Authorization only for symmetric key and the TPM's signed PUT, never for X.509). We send
// `User-Agent` (the C SDK's header name "UserAgent" is a quirk), `Accept: application/json`, and
// `Content-Type: application/json; charset=utf-8` only when there is a body (as aziot does).
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;
HttpHeaders standard_headers(std::string_view user_agent, bool has_body);

// ---- Bodies -----------------------------------------------------------------------------------------

// Marshalled TPM2B_PUBLIC areas (size prefix included) of the EK and the SRK.
struct TpmKeys {
  Bytes endorsement_key;
  Bytes storage_root_key;
};

// {"registrationId":…[,"tpm":{"endorsementKey":…,"storageRootKey":…}][,"payload":…]}, compact, keys in
// this order. TPM: we send the "tpm" object on every PUT, the first and the signed one, as the C SDK
// does (aziot drops it from the second PUT). The C SDK's TPM flow is the one exercised end to end against
// DPS, and repeating the EK lets the service check the signed PUT against the key it challenged.
// Symmetric key and X.509: no "tpm". `payload` is any JSON value (custom allocation data); std::nullopt
// omits it.
std::string register_body(std::string_view registration_id, const std::optional<TpmKeys>& tpm,
                          const std::optional<nlohmann::json>& payload);

// ---- MQTT (symmetric key and X.509 only; DPS over MQTT has no TPM challenge) -------------------------

inline constexpr std::string_view mqtt_subscribe_topic = "$dps/registrations/res/#";
inline constexpr std::uint16_t mqtt_port = 8883;

// Client id is the registration id. Username, not URL-encoded, like the C SDK:
// "{idScope}/registrations/{regId}/api-version=2021-06-01&ClientVersion={clientVersion}".
std::string mqtt_username(std::string_view id_scope, std::string_view registration_id,
                          std::string_view client_version);
// "$dps/registrations/PUT/iotdps-register/?$rid={rid}"; the payload is register_body(...).
std::string mqtt_register_topic(std::uint32_t rid);
// "$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={opId}" (opId escaped with
// c_sdk_url_encode so it cannot add properties; real operation ids are unchanged by it). The C SDK sends
// the register body as the payload here too; we do the same so a server may check it.
std::string mqtt_status_topic(std::uint32_t rid, std::string_view operation_id);

// "$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]" taken apart. Unknown properties are
// ignored. retry_after is the raw text, for parse_retry_after / parse_reply.
struct MqttReplyTopic {
  int status = 0;
  std::string rid;
  std::string retry_after;
  friend bool operator==(const MqttReplyTopic&, const MqttReplyTopic&) = default;
};
struct MqttTopicError {
  std::string message;
};
std::variant<MqttReplyTopic, MqttTopicError> parse_mqtt_reply_topic(std::string_view topic);

}  // namespace edgeprov::dps
