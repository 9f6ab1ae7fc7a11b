// dps/request.h — what the device sends to DPS (docs/dps-protocol.md §2): HTTPS paths and headers, and the
// register body for TPM, symmetric key and X.509 (the MQTT names are in dps/mqtt_topic.h). Pure: no
// sockets; the SAS token (a Secret) is added by the transport, never here.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "dps/vocabulary.h"

namespace edgeprov::dps {

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

}  // namespace edgeprov::dps
