// dps/reply.h — what a DPS answer means, independent of HTTPS or MQTT (docs/dps-protocol.md §2.4, §9).
// Total and pure: any status and any bytes give a Reply, never an exception; messages name the cause and
// the fix and never repeat a credential or a TPM blob.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "dps/retry.h"
#include "dps/vocabulary.h"

namespace edgeprov::dps {

// status "assigned": where the device now lives.
struct Assigned {
  std::string hub, device_id, substatus;  // substatus "" when DPS sent none
  // registrationState.tpm.authenticationKey, base64-decoded: the hub key to persist (TPM only). Absent is
  // accepted, as aziot does: the key of the 401 challenge then is the hub key, and is persisted instead.
  std::optional<Bytes> hub_key_blob;
  nlohmann::json payload;  // registrationState.payload (custom allocation data); null when absent
};

// status "assigning" (or a 202 with only an operationId): poll operation_id after retry_after
// (see poll_interval in retry.h).
struct Assigning {
  std::string operation_id;
  RetryAfter retry_after;
};

// HTTP 401 carrying authenticationKey: the blob to load into the TPM, then PUT again with a SAS whose
// skn is key_name ("registration" when DPS names none).
struct TpmChallenge {
  Bytes auth_key_blob;
  std::string key_name;
};

enum class RejectionCause {
  throttled,          // 429
  server_error,       // 5xx, 408
  unauthorized,       // 401 without a TPM challenge
  forbidden,          // 403
  not_found,          // 404
  bad_request,        // 400
  failed,             // status "failed" (errorCode says why)
  disabled,           // status "disabled": the enrollment is disabled
  blacklisted,        // status "blacklisted": DPS blocks this device
  malformed_reply,    // 2xx/401 body that is not the JSON DPS sends (empty, not JSON, fields missing)
  unexpected_status,  // any other HTTP status, or a registration status edgeprov does not know
  still_assigning,    // DPS kept answering `assigning` past the poll limit of one attempt
};
inline constexpr RejectionCause all_rejection_causes[] = {
    RejectionCause::throttled,    RejectionCause::server_error, RejectionCause::unauthorized,
    RejectionCause::forbidden,    RejectionCause::not_found,    RejectionCause::bad_request,
    RejectionCause::failed,       RejectionCause::disabled,     RejectionCause::blacklisted,
    RejectionCause::malformed_reply, RejectionCause::unexpected_status, RejectionCause::still_assigning};
std::string_view to_string(RejectionCause cause);

// Everything that is not progress. `transient` says whether waiting can fix it (retry with backoff,
// honouring retry_after) or an operator must act (state `failed`).
struct Rejected {
  int status = 0;                 // HTTP status (MQTT: the status of the reply topic)
  std::optional<int> error_code;  // DPS errorCode, e.g. 400209, 401002
  std::string message;
  bool transient = false;
  RetryAfter retry_after;
  RejectionCause cause = RejectionCause::unexpected_status;
};

using Reply = std::variant<Assigned, Assigning, TpmChallenge, Rejected>;

// What the request was about, so messages can name it ("no enrollment for registration id X in id
// scope Y") and a poll reply without operationId keeps the one being polled. All fields optional.
struct ReplyContext {
  std::string id_scope;
  std::string registration_id;
  std::optional<AttestationMethod> attestation;
  std::string operation_id;  // set when the request was a status poll
};

Reply parse_reply(int status, std::string_view retry_after_header, std::string_view body);
Reply parse_reply(int status, std::string_view retry_after_header, std::string_view body,
                  const ReplyContext& context);

// HTTPS: as parse_reply, and a body whose Content-Type is present but not application/json
// (case-insensitive, parameters allowed) is not read. On a 2xx or 401 that is a transient malformed
// reply — typically a proxy or captive portal answered instead of DPS; other statuses keep their meaning.
Reply parse_http_reply(int status, std::string_view retry_after_header, std::string_view content_type,
                       std::string_view body, const ReplyContext& context);

}  // namespace edgeprov::dps
