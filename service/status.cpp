#include "service/status.h"

namespace edgeprov::service {

using nlohmann::json;

std::string_view to_string(State state) {
  switch (state) {
    case State::starting: return "starting";
    case State::provisioning: return "provisioning";
    case State::provisioned: return "provisioned";
    case State::retrying: return "retrying";
    case State::failed: return "failed";
  }
  return "unknown";
}

std::string_view to_string(Source source) {
  switch (source) {
    case Source::dps: return "dps";
    case Source::cache: return "cache";
  }
  return "unknown";
}

ProvisioningSettings settings_from(const config::Config& config) {
  const auto& p = config.provisioning;
  return {.global_endpoint = p.global_endpoint,
          .id_scope = p.id_scope,
          .registration_id = p.attestation.registration_id,
          .attestation = p.attestation.method,
          .transport = config.dps.transport};
}

namespace {

template <typename T, typename F>
json or_null(const std::optional<T>& value, F&& convert) {
  return value ? json(convert(*value)) : json(nullptr);
}
template <typename T>
json or_null(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}
std::string time_text(SystemTime t) { return to_rfc3339(t); }

json to_json(const Attempt& a) {
  return {{"at", time_text(a.at)},
          {"outcome", a.outcome},
          {"error", or_null(a.error, [](const dps::Error& e) { return dps::to_json(e); })}};
}

}  // namespace

json to_json(const Assignment& a) {
  return {{"hub", a.hub},
          {"deviceId", a.device_id},
          {"substatus", a.substatus},
          {"assignedAt", time_text(a.assigned_at)},
          {"payload", a.payload}};
}

json to_json(const StatusSnapshot& s, const ServiceInfo& service) {
  const auto& p = s.provisioning;
  return {
      {"state", to_string(s.state)},
      {"since", time_text(s.since)},
      {"source", or_null(s.source, [](Source src) { return to_string(src); })},
      {"provisioning",
       {{"globalEndpoint", p.global_endpoint},
        {"idScope", p.id_scope},
        {"registrationId", or_null(p.registration_id)},
        {"attestation", config::to_string(p.attestation)},
        {"transport", config::to_string(p.transport)}}},
      {"assignment", or_null(s.assignment, [](const Assignment& a) { return to_json(a); })},
      {"lastAttempt", or_null(s.last_attempt, [](const Attempt& a) { return to_json(a); })},
      {"nextAttemptAt", or_null(s.next_attempt_at, time_text)},
      {"attempts", s.attempts},
      {"tpm",
       {{"available", or_null(s.tpm.available)},
        {"tcti", s.tpm.tcti},
        {"registrationId", or_null(s.tpm.registration_id)},
        {"authKeyPresent", or_null(s.tpm.auth_key_present)},
        {"error", or_null(s.tpm.error, [](const dps::Error& e) { return dps::to_json(e); })}}},
      {"service",
       {{"version", service.version}, {"pid", service.pid}, {"uptimeSeconds", service.uptime.count()}}},
  };
}

StatusBoard::StatusBoard(StatusSnapshot initial)
    : current_(std::make_shared<const StatusSnapshot>(std::move(initial))) {}

std::shared_ptr<const StatusSnapshot> StatusBoard::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void StatusBoard::publish(StatusSnapshot next) {
  {
    std::lock_guard lock(mutex_);
    // Compared in the form `status` shows, so an observer (subscribe) hears of every visible change and of
    // nothing else.
    if (to_json(*current_, {}) == to_json(next, {})) return;
    current_ = std::make_shared<const StatusSnapshot>(std::move(next));
  }
  changed();
}

}  // namespace edgeprov::service
