#include "dps/reply.h"

#include <algorithm>
#include <limits>

#include "common/encoding.h"

namespace edgeprov::dps {
namespace {

using nlohmann::json;

constexpr std::string_view reprovision_hint = "then run `edgeprovctl reprovision`";

// Text that came from the server is shown to users: keep it printable and short.
std::string printable(std::string_view text, std::size_t limit = 300) {
  std::string out;
  out.reserve(std::min(text.size(), limit));
  for (char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F ? ' ' : c);
  }
  return out;
}

std::string who(const ReplyContext& context) {
  std::string text = context.registration_id.empty()
                         ? std::string("this device")
                         : "registration id \"" + printable(context.registration_id, 140) + "\"";
  if (!context.id_scope.empty()) text += " in id scope \"" + printable(context.id_scope, 64) + "\"";
  return text;
}

const json* member(const json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

const std::string* string_member(const json& object, std::string_view name) {
  const json* value = member(object, name);
  return value && value->is_string() ? value->get_ptr<const std::string*>() : nullptr;
}

std::optional<int> int_member(const json& object, std::string_view name) {
  const json* value = member(object, name);
  if (!value || !value->is_number_integer()) return std::nullopt;
  const auto number = value->get<std::int64_t>();
  if (number < std::numeric_limits<int>::min() || number > std::numeric_limits<int>::max()) return std::nullopt;
  return static_cast<int>(number);
}

// DPS error bodies: {"errorCode":401002,"trackingId":…,"message":…}; aziot also reads "code" and
// "errorMessage", and status "failed" puts the same pair in registrationState.
struct ServiceError {
  std::optional<int> code;
  std::string message;
};

ServiceError service_error(const json& object) {
  ServiceError error;
  error.code = int_member(object, "errorCode");
  if (!error.code) error.code = int_member(object, "code");
  const std::string* message = string_member(object, "message");
  if (!message) message = string_member(object, "errorMessage");
  if (message) error.message = printable(*message);
  return error;
}

std::string details(int status, const ServiceError& error) {
  std::string text = "HTTP " + std::to_string(status);
  if (error.code) text += ", errorCode " + std::to_string(*error.code);
  return text;
}

std::string dps_says(const ServiceError& error) {
  return error.message.empty() ? std::string() : " DPS says: \"" + error.message + "\".";
}

Rejected reject(int status, RejectionCause cause, bool transient, std::string message, const RetryAfter& retry_after,
                std::optional<int> error_code = std::nullopt) {
  Rejected rejected;
  rejected.status = status;
  rejected.error_code = error_code;
  rejected.message = std::move(message);
  rejected.transient = transient;
  rejected.retry_after = retry_after;
  rejected.cause = cause;
  return rejected;
}

Rejected malformed(int status, std::string what, const RetryAfter& retry_after) {
  return reject(status, RejectionCause::malformed_reply, true,
                "DPS answered HTTP " + std::to_string(status) + " with " + std::move(what) +
                    "; edgeprov retries with backoff. If this persists, check that "
                    "provisioning.global_endpoint points at DPS and that no proxy rewrites its replies",
                retry_after);
}

Reply tpm_challenge(int status, const json& body, const std::string& key_b64, const RetryAfter& retry_after) {
  auto blob = base64_decode(key_b64);
  if (!blob || blob->empty()) {
    return malformed(status, "a TPM challenge whose authenticationKey is not valid base64", retry_after);
  }
  const std::string* key_name = string_member(body, "keyName");
  return TpmChallenge{std::move(*blob), key_name && !key_name->empty() ? *key_name : std::string("registration")};
}

Rejected unauthorized(int status, const json& body, const ReplyContext& context, const RetryAfter& retry_after) {
  const ServiceError error = service_error(body);
  std::string fix;
  switch (context.attestation.value_or(AttestationMethod::tpm)) {
    case AttestationMethod::tpm:
      fix = context.attestation
                ? "check that an individual enrollment exists for this registration id with this TPM's "
                  "endorsement key (`edgeprovctl tpm info` prints both) and that the device clock is right: the SAS "
                  "token expires by it"
                : "check that an enrollment exists for this registration id and that the device's credential "
                  "matches it";
      break;
    case AttestationMethod::symmetric_key:
      fix = "check that an enrollment exists for this registration id and that the symmetric key matches it (for "
            "a group enrollment, configure the device key derived from the group key), and that the device "
            "clock is right: the SAS token expires by it";
      break;
    case AttestationMethod::x509:
      fix = "check that the enrollment (or its group's verified CA certificate) matches identity_cert and that "
            "the registration id equals the certificate's common name";
      break;
  }
  return reject(status, RejectionCause::unauthorized, false,
                "DPS refused the credentials of " + who(context) + " (" + details(status, error) + "): " + fix + ", " +
                    std::string(reprovision_hint) + "." + dps_says(error),
                retry_after, error.code);
}

Reply parse_registration(int status, const json& body, const ReplyContext& context, const RetryAfter& retry_after) {
  const std::string* operation_id = string_member(body, "operationId");
  const json* state_field = member(body, "status");
  if (!state_field) {
    // aziot reads a register 202 as just {"operationId":…}.
    if (operation_id && !operation_id->empty()) return Assigning{*operation_id, retry_after};
    return malformed(status, "a JSON object that has neither \"status\" nor \"operationId\"", retry_after);
  }
  if (!state_field->is_string()) return malformed(status, "a \"status\" that is not a string", retry_after);
  const std::string& state = state_field->get_ref<const std::string&>();
  static const json empty_object = json::object();
  const json* registration = member(body, "registrationState");
  const json& registration_state = registration && registration->is_object() ? *registration : empty_object;

  if (state == "assigning") {
    if (operation_id && !operation_id->empty()) return Assigning{*operation_id, retry_after};
    if (!context.operation_id.empty()) return Assigning{context.operation_id, retry_after};
    return malformed(status, "status \"assigning\" but no operationId to poll", retry_after);
  }

  if (state == "assigned") {
    if (!registration) return malformed(status, "status \"assigned\" but no registrationState", retry_after);
    const std::string* hub = string_member(registration_state, "assignedHub");
    const std::string* device_id = string_member(registration_state, "deviceId");
    if (!hub || hub->empty()) {
      return malformed(status, "status \"assigned\" but no registrationState.assignedHub", retry_after);
    }
    if (!device_id || device_id->empty()) {
      return malformed(status, "status \"assigned\" but no registrationState.deviceId", retry_after);
    }
    Assigned assigned;
    assigned.hub = *hub;
    assigned.device_id = *device_id;
    if (const std::string* substatus = string_member(registration_state, "substatus")) assigned.substatus = *substatus;
    if (const json* payload = member(registration_state, "payload")) assigned.payload = *payload;
    if (const json* tpm = member(registration_state, "tpm"); tpm && !tpm->is_null()) {
      const json* key = member(*tpm, "authenticationKey");
      if (key && !key->is_null()) {
        std::optional<Bytes> blob = key->is_string() ? base64_decode(key->get_ref<const std::string&>()) : std::nullopt;
        if (!blob || blob->empty()) {
          return malformed(status, "registrationState.tpm.authenticationKey that is not valid base64", retry_after);
        }
        assigned.hub_key_blob = std::move(blob);
      }
    }
    return assigned;
  }

  if (state == "failed") {
    const ServiceError error = service_error(registration_state);
    std::string message;
    if (error.code == 400208) {
      message = "DPS found no IoT hub to assign " + who(context) +
                " to (errorCode 400208): link an IoT hub to the DPS instance and select it in the enrollment (or "
                "fix the custom allocation function so it returns a linked hub), " +
                std::string(reprovision_hint) + ".";
    } else if (error.code == 400209) {
      message = "DPS reports the registration of " + who(context) +
                " as unauthorized (errorCode 400209): check the enrollment's attestation and that the DPS "
                "instance's link to the IoT hub (its shared access policy) is still valid, " +
                std::string(reprovision_hint) + ".";
    } else {
      message = "DPS failed the registration of " + who(context) +
                (error.code ? " (errorCode " + std::to_string(*error.code) + ")" : std::string()) +
                ": correct the enrollment or the IoT hub as the DPS message says, " + std::string(reprovision_hint) +
                ".";
    }
    return reject(status, RejectionCause::failed, false, message + dps_says(error), retry_after, error.code);
  }

  if (state == "disabled") {
    return reject(status, RejectionCause::disabled, false,
                  "the enrollment for " + who(context) +
                      " is disabled in DPS: enable it (Azure portal: the DPS instance, Manage enrollments, the "
                      "enrollment, Enable entry), " +
                      std::string(reprovision_hint) + ".",
                  retry_after, service_error(registration_state).code);
  }

  if (state == "blacklisted") {
    return reject(status, RejectionCause::blacklisted, false,
                  "DPS blocks " + who(context) +
                      " (status blacklisted), typically through a disabled individual enrollment or a disabled "
                      "entry in its enrollment group: remove or enable that entry, " +
                      std::string(reprovision_hint) + ".",
                  retry_after, service_error(registration_state).code);
  }

  if (state == "unassigned") {
    // The C SDK reads this over HTTP as a TPM challenge and over MQTT as "poll operationId".
    if (const std::string* key = string_member(body, "authenticationKey")) {
      return tpm_challenge(status, body, *key, retry_after);
    }
    if (operation_id && !operation_id->empty()) return Assigning{*operation_id, retry_after};
    return malformed(status, "status \"unassigned\" without an operationId or a TPM challenge", retry_after);
  }

  return reject(status, RejectionCause::unexpected_status, false,
                "DPS answered with the registration status \"" + printable(state, 40) + "\" for " + who(context) +
                    ", which edgeprov does not know: check the enrollment in DPS, " + std::string(reprovision_hint) +
                    ".",
                retry_after, service_error(registration_state).code);
}

// Statuses that are not 2xx or 401: the body, if any, is a DPS error object.
Rejected rejected_status(int status, const json& body, const ReplyContext& context, const RetryAfter& retry_after) {
  const ServiceError error = service_error(body);
  const std::string where = " (" + details(status, error) + ")";
  if (classify_http_status(status) == FailureClass::transient) {
    if (status == 429) {
      return reject(status, RejectionCause::throttled, true,
                    "DPS is throttling requests" + where +
                        ": edgeprov waits for the Retry-After DPS gave (or its backoff) and tries again; many "
                        "devices registering at once cause this." +
                        dps_says(error),
                    retry_after, error.code);
    }
    return reject(status, RejectionCause::server_error, true,
                  "DPS or a proxy in front of it failed temporarily" + where +
                      ": edgeprov retries with backoff; if this persists, check the Azure status page and the proxy." +
                      dps_says(error),
                  retry_after, error.code);
  }
  switch (status) {
    case 400:
      return reject(status, RejectionCause::bad_request, false,
                    "DPS rejected the request for " + who(context) + " as invalid" + where +
                        ": check id_scope, registration_id and the payload file in config.toml, " +
                        std::string(reprovision_hint) + "." + dps_says(error),
                    retry_after, error.code);
    case 403:
      return reject(status, RejectionCause::forbidden, false,
                    "DPS forbids the request for " + who(context) + where +
                        ": the DPS instance does not accept it (for example its IP filter blocks this device, or "
                        "the enrollment or its group is disabled); fix that in DPS, " +
                        std::string(reprovision_hint) + "." + dps_says(error),
                    retry_after, error.code);
    case 404:
      if (!context.operation_id.empty()) {
        return reject(status, RejectionCause::not_found, false,
                      "DPS does not know the registration operation \"" + printable(context.operation_id, 80) +
                          "\" of " + who(context) + where + ": the enrollment may have been deleted; check it, " +
                          std::string(reprovision_hint) + "." + dps_says(error),
                      retry_after, error.code);
      }
      return reject(status, RejectionCause::not_found, false,
                    "no enrollment for " + who(context) + where +
                        ": create the individual enrollment (or a group enrollment that covers it) and check "
                        "id_scope and registration_id in config.toml, " +
                        std::string(reprovision_hint) + "." + dps_says(error),
                    retry_after, error.code);
    default:
      break;
  }
  if (status >= 300 && status < 400) {
    return reject(status, RejectionCause::unexpected_status, false,
                  "the server answered with a redirect" + where +
                      ", which DPS never sends: provisioning.global_endpoint points at something else; use "
                      "https://global.azure-devices-provisioning.net/ or your DPS instance's host name, " +
                      std::string(reprovision_hint) + ".",
                  retry_after, error.code);
  }
  return reject(status, RejectionCause::unexpected_status, false,
                "DPS answered " + who(context) + " with an unexpected" + where +
                    ": check provisioning.global_endpoint and any proxy in between, " + std::string(reprovision_hint) +
                    "." + dps_says(error),
                retry_after, error.code);
}

bool is_json_media_type(std::string_view content_type) {
  std::string lower(content_type.substr(0, 200));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return lower.find("application/json") != std::string::npos;
}

}  // namespace

std::string_view to_string(RejectionCause cause) {
  switch (cause) {
    case RejectionCause::throttled: return "throttled";
    case RejectionCause::server_error: return "server_error";
    case RejectionCause::unauthorized: return "unauthorized";
    case RejectionCause::forbidden: return "forbidden";
    case RejectionCause::not_found: return "not_found";
    case RejectionCause::bad_request: return "bad_request";
    case RejectionCause::failed: return "failed";
    case RejectionCause::disabled: return "disabled";
    case RejectionCause::blacklisted: return "blacklisted";
    case RejectionCause::malformed_reply: return "malformed_reply";
    case RejectionCause::unexpected_status: return "unexpected_status";
    case RejectionCause::still_assigning: return "still_assigning";
  }
  return "unknown";
}

Reply parse_reply(int status, std::string_view retry_after_header, std::string_view body) {
  return parse_reply(status, retry_after_header, body, ReplyContext{});
}

Reply parse_reply(int status, std::string_view retry_after_header, std::string_view body,
                  const ReplyContext& context) {
  const RetryAfter retry_after = parse_retry_after(retry_after_header);
  // Parsing with exceptions off: a malformed body becomes a discarded value, never a throw.
  const json parsed = body.empty() ? json() : json::parse(body, nullptr, false);
  const bool body_is_object = parsed.is_object();

  if (status == 401) {
    if (body_is_object) {
      if (const std::string* key = string_member(parsed, "authenticationKey")) {
        return tpm_challenge(status, parsed, *key, retry_after);
      }
      if (member(parsed, "authenticationKey")) {
        return malformed(status, "a TPM challenge whose authenticationKey is not a string", retry_after);
      }
    }
    return unauthorized(status, body_is_object ? parsed : json::object(), context, retry_after);
  }

  if (status >= 200 && status <= 299) {
    if (body.empty()) return malformed(status, "an empty body where a registration status was expected", retry_after);
    if (parsed.is_discarded()) return malformed(status, "a body that is not valid JSON", retry_after);
    if (!body_is_object) return malformed(status, "JSON that is not an object", retry_after);
    return parse_registration(status, parsed, context, retry_after);
  }

  return rejected_status(status, body_is_object ? parsed : json::object(), context, retry_after);
}

Reply parse_http_reply(int status, std::string_view retry_after_header, std::string_view content_type,
                       std::string_view body, const ReplyContext& context) {
  if (body.empty() || content_type.empty() || is_json_media_type(content_type)) {
    return parse_reply(status, retry_after_header, body, context);
  }
  if ((status >= 200 && status <= 299) || status == 401) {
    return malformed(status, "Content-Type \"" + printable(content_type, 80) + "\" instead of application/json",
                     parse_retry_after(retry_after_header));
  }
  return parse_reply(status, retry_after_header, {}, context);
}

}  // namespace edgeprov::dps
