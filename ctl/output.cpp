#include "ctl/output.h"

#include <algorithm>

#include <fmt/format.h>

namespace edgeprov::ctl {

using nlohmann::json;

namespace {

// The value at `key` as text; "-" when absent or null.
std::string text(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null()) return "-";
  const auto& value = object[key];
  return value.is_string() ? value.get<std::string>() : value.dump();
}

bool present(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && !object[key].is_null();
}

std::string yes_no_unknown(const json& object, const char* key) {
  if (!present(object, key)) return "unknown";
  return object[key].is_boolean() && object[key].get<bool>() ? "yes" : "no";
}

// "dps HTTP 401 code 401002 — message"
std::string describe_error(const json& error) {
  std::string out = text(error, "kind");
  if (present(error, "httpStatus")) out += " HTTP " + text(error, "httpStatus");
  if (present(error, "code")) out += " code " + text(error, "code");
  return out + " — " + text(error, "message");
}

// "error kind dps, HTTP 404, code 404201": the facts beside a message printed already.
std::string describe_error_kind(const json& error) {
  std::string out = "error kind " + text(error, "kind");
  if (present(error, "httpStatus")) out += ", HTTP " + text(error, "httpStatus");
  if (present(error, "code")) out += ", code " + text(error, "code");
  return out;
}

std::string describe_attempt(const json& attempt) {
  std::string out = text(attempt, "at") + " " + text(attempt, "outcome");
  if (present(attempt, "error")) out += ": " + describe_error(attempt["error"]);
  return out;
}

// How the device authenticates to its hub, from identity.get's authType and keySource.
std::string describe_authentication(const json& identity) {
  const std::string auth = text(identity, "authType");
  const std::string key = text(identity, "keySource");
  if (auth == "sas" && key == "tpm") return "SAS tokens signed in the TPM (sas, tpm)";
  if (auth == "sas" && key == "symmetric_key") return "SAS tokens signed with the device key (sas, symmetric_key)";
  if (auth == "x509") return "X.509 client certificate (x509)";
  return auth + ", key " + key;
}

// True when `attempts` says at least one registration attempt was made (a TPM that failed before the
// first request counts none).
bool made_attempts(const json& s) {
  return present(s, "attempts") && s["attempts"].is_number_integer() && s["attempts"].get<long long>() > 0;
}

std::string attempts_text(const json& s) {
  const std::string count = text(s, "attempts");
  return count == "1" ? "1 attempt" : count + " attempts";
}

}  // namespace

std::string aligned(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::string out;
  for (const auto& [label, value] : rows) out += fmt::format("{:<{}}  {}\n", label, width, value);
  return out;
}

std::string format_status(const json& s) {
  const json provisioning = s.value("provisioning", json::object());
  const json tpm = s.value("tpm", json::object());
  const json service = s.value("service", json::object());

  std::vector<std::pair<std::string, std::string>> rows;
  std::string state = text(s, "state") + " since " + text(s, "since");
  if (present(s, "source")) state += " (from " + text(s, "source") + ")";
  rows.emplace_back("state", state);

  rows.emplace_back("provisioning", fmt::format("{} attestation over {}, id scope {}",
                                                text(provisioning, "attestation"),
                                                text(provisioning, "transport"), text(provisioning, "idScope")));
  // A TPM's registration id is derived from its EK when the configuration does not give one.
  const bool derived = !present(provisioning, "registrationId") && text(provisioning, "attestation") == "tpm";
  rows.emplace_back("registration id", derived ? "derived from the TPM" : text(provisioning, "registrationId"));
  rows.emplace_back("dps endpoint", text(provisioning, "globalEndpoint"));

  if (present(s, "assignment")) {
    const auto& a = s["assignment"];
    rows.emplace_back("hub", text(a, "hub"));
    rows.emplace_back("device id", text(a, "deviceId") + " (" + text(a, "substatus") + ", assigned " +
                                       text(a, "assignedAt") + ")");
    if (present(a, "payload")) rows.emplace_back("payload", a["payload"].dump());
  } else {
    rows.emplace_back("assignment", "none");
  }
  rows.emplace_back("last attempt", present(s, "lastAttempt") ? describe_attempt(s["lastAttempt"]) : "none");
  if (present(s, "nextAttemptAt") || text(s, "state") == "retrying")
    rows.emplace_back("next attempt", text(s, "nextAttemptAt") + (made_attempts(s) ? " (after " + attempts_text(s) + ")" : ""));

  std::string tpm_line = "tcti " + text(tpm, "tcti") + ", available " + yes_no_unknown(tpm, "available") +
                         ", auth key " + yes_no_unknown(tpm, "authKeyPresent");
  if (present(tpm, "registrationId")) tpm_line += ", registration id " + text(tpm, "registrationId");
  rows.emplace_back("tpm", tpm_line);
  rows.emplace_back("service", fmt::format("edgeprovd {}, pid {}, up {} s", text(service, "version"),
                                           text(service, "pid"), text(service, "uptimeSeconds")));
  return aligned(rows);
}

std::string format_provisioned(const json& s) {
  const json assignment = s.value("assignment", json::object());
  std::string out = "provisioned: device " + text(assignment, "deviceId") + " on hub " + text(assignment, "hub");
  out += " (";
  if (present(s, "source")) out += "from " + text(s, "source") + ", ";
  return out + "since " + text(s, "since") + ")\n";
}

std::string format_not_provisioned(const json& s) {
  std::string out;
  if (present(s, "lastAttempt") && present(s["lastAttempt"], "error"))
    out += "  last attempt at " + text(s["lastAttempt"], "at") + ": " + describe_error(s["lastAttempt"]["error"]) + "\n";
  if (text(s, "state") == "retrying")
    out += "  edgeprovd tries again at " + text(s, "nextAttemptAt") +
           (made_attempts(s) ? " (" + attempts_text(s) + " so far)" : "") + "\n";
  if (text(s, "state") == "failed")
    out += "  edgeprovd does not try again by itself: fix the cause, then run `edgeprovctl reprovision`\n";
  return out;
}

std::string format_provisioning_failure(const json& data, const std::string& message) {
  std::string out = "reprovision failed: " + message + "\n";
  if (present(data, "error")) out += "  " + describe_error_kind(data["error"]) + "\n";
  const std::string state = text(data, "state");
  if (state == "retrying") {
    out += "  edgeprovd tries again at " + text(data, "nextAttemptAt") +
           "; `edgeprovctl wait` waits for the outcome\n";
  } else if (state == "failed") {
    out += "  edgeprovd does not try again by itself: fix the cause, then run `edgeprovctl reprovision`\n";
  }
  return out;
}

std::string format_identity(const json& identity) {
  return aligned({
      {"hub", text(identity, "hub")},
      {"device id", text(identity, "deviceId")},
      {"registration id", text(identity, "registrationId")},
      {"authentication", describe_authentication(identity)},
      {"assigned", text(identity, "assignedAt") + " (from " + text(identity, "source") + ")"},
  });
}

std::string format_version(const std::string& client_version, const json& v) {
  std::string service = text(v, "version") + " on " + text(v, "platform");
  if (present(v, "commit")) service += " (commit " + text(v, "commit") + ")";
  return aligned({{"edgeprovctl", client_version}, {"edgeprovd", service}});
}

std::string format_logs(const json& logs) {
  std::string out;
  if (!logs.is_object() || !logs.contains("entries") || !logs["entries"].is_array()) return out;
  for (const auto& entry : logs["entries"])
    out += fmt::format("{} {:<8} {}\n", text(entry, "time"), text(entry, "level"), text(entry, "message"));
  return out;
}

std::string json_text(const json& result) { return result.dump() + "\n"; }

}  // namespace edgeprov::ctl
