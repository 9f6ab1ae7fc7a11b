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

std::string describe_attempt(const json& attempt) {
  std::string out = text(attempt, "at") + " " + text(attempt, "outcome");
  if (present(attempt, "error")) {
    const auto& error = attempt["error"];
    out += ": " + text(error, "kind");
    if (present(error, "httpStatus")) out += " HTTP " + text(error, "httpStatus");
    if (present(error, "code")) out += " code " + text(error, "code");
    out += " — " + text(error, "message");
  }
  return out;
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
    rows.emplace_back("assigned hub", text(a, "hub"));
    rows.emplace_back("device id", text(a, "deviceId") + " (" + text(a, "substatus") + ", " +
                                       text(a, "assignedAt") + ")");
  } else {
    rows.emplace_back("assignment", "none");
  }
  rows.emplace_back("last attempt", present(s, "lastAttempt") ? describe_attempt(s["lastAttempt"]) : "none");
  if (present(s, "nextAttemptAt")) rows.emplace_back("next attempt", text(s, "nextAttemptAt"));
  rows.emplace_back("attempts", text(s, "attempts"));

  std::string tpm_line = "tcti " + text(tpm, "tcti") + ", available " + yes_no_unknown(tpm, "available") +
                         ", auth key " + yes_no_unknown(tpm, "authKeyPresent");
  if (present(tpm, "registrationId")) tpm_line += ", registration id " + text(tpm, "registrationId");
  rows.emplace_back("tpm", tpm_line);
  rows.emplace_back("service", fmt::format("edgeprovd {}, pid {}, up {} s", text(service, "version"),
                                           text(service, "pid"), text(service, "uptimeSeconds")));
  return aligned(rows);
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
