#include "emulator/faults.h"

#include <algorithm>
#include <cctype>

namespace edgeprov::emulator {

using nlohmann::json;

namespace {

constexpr std::pair<FaultKind, const char*> names[] = {
    {FaultKind::throttle, "throttle"},
    {FaultKind::server_error, "serverError"},
    {FaultKind::service_unavailable, "serviceUnavailable"},
    {FaultKind::close_mid_body, "closeMidBody"},
    {FaultKind::stall, "stall"},
    {FaultKind::malformed_json, "malformedJson"},
    {FaultKind::missing_fields, "missingFields"},
    {FaultKind::tls_handshake_failure, "tlsHandshakeFailure"},
    {FaultKind::mqtt_drop_after_connack, "mqttDropAfterConnack"},
    {FaultKind::mqtt_never_puback, "mqttNeverPuback"},
};

FaultPoint point_of(FaultKind kind) {
  switch (kind) {
    case FaultKind::tls_handshake_failure: return FaultPoint::handshake;
    case FaultKind::mqtt_drop_after_connack: return FaultPoint::mqtt_connect;
    case FaultKind::mqtt_never_puback: return FaultPoint::mqtt_publish;
    default: return FaultPoint::request;
  }
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string to_string(FaultKind kind) {
  for (const auto& [k, name] : names) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<FaultKind> parse_fault_kind(std::string_view text) {
  for (const auto& [k, name] : names) {
    if (text == name) return k;
  }
  return std::nullopt;
}

json to_json(const Fault& f) {
  json out = {{"id", f.id}, {"type", to_string(f.kind)}, {"probability", f.probability}, {"fired", f.fired}};
  out["count"] = f.remaining ? json(*f.remaining) : json(nullptr);
  out["registrationId"] = f.registration_id ? json(*f.registration_id) : json(nullptr);
  out["transport"] = f.transport ? json(to_string(*f.transport)) : json(nullptr);
  out["skip"] = f.skip;
  if (f.kind == FaultKind::throttle || f.kind == FaultKind::service_unavailable) out["retryAfter"] = f.retry_after;
  if (f.kind == FaultKind::stall) out["stallSeconds"] = f.stall_seconds;
  return out;
}

std::optional<Fault> FaultTable::add(const json& body, std::string& error) {
  std::string all;
  for (const auto& [k, name] : names) all += std::string(all.empty() ? "" : ", ") + name;
  if (!body.is_object() || !body.contains("type") || !body["type"].is_string()) {
    error = "a fault needs \"type\": one of " + all;
    return std::nullopt;
  }
  auto kind = parse_fault_kind(body["type"].get<std::string>());
  if (!kind) {
    error = "unknown fault type \"" + body["type"].get<std::string>() + "\"; use one of " + all;
    return std::nullopt;
  }
  Fault f;
  f.kind = *kind;
  try {
    if (body.contains("registrationId") && !body["registrationId"].is_null())
      f.registration_id = lower(body["registrationId"].get<std::string>());
    if (body.contains("transport") && !body["transport"].is_null()) {
      std::string t = body["transport"].get<std::string>();
      if (t != "https" && t != "mqtt") {
        error = "transport must be \"https\" or \"mqtt\"";
        return std::nullopt;
      }
      f.transport = t == "https" ? Transport::https : Transport::mqtt;
    }
    if (body.contains("probability")) f.probability = body["probability"].get<double>();
    if (body.contains("count") && !body["count"].is_null()) f.remaining = body["count"].get<int>();
    else if (!body.contains("probability")) f.remaining = 1;
    f.retry_after = body.value("retryAfter", 5);
    f.stall_seconds = body.value("stallSeconds", 30);
    f.skip = body.value("skip", 0);
  } catch (const json::exception&) {
    error = "registrationId and transport must be strings, count/skip/retryAfter/stallSeconds integers, probability a "
            "number";
    return std::nullopt;
  }
  if (f.probability <= 0 || f.probability > 1 || (f.remaining && *f.remaining <= 0) || f.retry_after < 0 ||
      f.stall_seconds < 0 || f.stall_seconds > 3600 || f.skip < 0) {
    error = "probability must be in (0, 1], count positive, skip ≥ 0, retryAfter ≥ 0, stallSeconds in [0, 3600]";
    return std::nullopt;
  }
  if (f.kind == FaultKind::tls_handshake_failure && f.registration_id) {
    error = "tlsHandshakeFailure strikes before the registration id is known; leave registrationId out";
    return std::nullopt;
  }
  if ((f.kind == FaultKind::mqtt_drop_after_connack || f.kind == FaultKind::mqtt_never_puback)) f.transport = Transport::mqtt;
  std::lock_guard lock(mutex_);
  f.id = std::to_string(next_id_++);
  faults_.push_back(f);
  return f;
}

json FaultTable::list() const {
  std::lock_guard lock(mutex_);
  json out = json::array();
  for (const auto& f : faults_) out.push_back(to_json(f));
  return out;
}

bool FaultTable::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(faults_.begin(), faults_.end(), [&](const Fault& f) { return f.id == id; });
  if (it == faults_.end()) return false;
  faults_.erase(it);
  return true;
}

void FaultTable::clear() {
  std::lock_guard lock(mutex_);
  faults_.clear();
}

std::optional<Fault> FaultTable::take(FaultPoint point, Transport transport, std::string_view registration_id) {
  std::lock_guard lock(mutex_);
  if (faults_.empty()) return std::nullopt;
  std::string id = lower(registration_id);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    Fault& f = *it;
    if (point_of(f.kind) != point) continue;
    if (f.transport && *f.transport != transport) continue;
    if (f.registration_id && *f.registration_id != id) continue;
    // Skipped requests are counted before the probability is drawn: `skip` is an exact position (a TPM
    // device's signed PUT is its second register request), not a share.
    if (f.skip > 0) {
      --f.skip;
      continue;
    }
    if (f.probability < 1.0 && std::uniform_real_distribution<double>(0, 1)(random_) >= f.probability) continue;
    ++f.fired;
    Fault fired = f;
    if (f.remaining && --*f.remaining == 0) faults_.erase(it);
    return fired;
  }
  return std::nullopt;
}

DeviceReply fault_reply(const Fault& fault, bool poll, SystemTime now) {
  switch (fault.kind) {
    case FaultKind::throttle: {
      auto reply = error_reply(429, error_code::throttled, "Operations are being throttled (injected fault)", now, fault.retry_after);
      reply.outcome = "429 injected";
      return reply;
    }
    case FaultKind::server_error: {
      auto reply = error_reply(500, error_code::internal, "An internal error occurred (injected fault)", now);
      reply.outcome = "500 injected";
      return reply;
    }
    case FaultKind::service_unavailable: {
      auto reply = error_reply(503, error_code::unavailable, "The service is unavailable (injected fault)", now, fault.retry_after);
      reply.outcome = "503 injected";
      return reply;
    }
    case FaultKind::malformed_json:
      return {poll ? 200 : 202, R"({"operationId":"4.0000000000000000.broken","status":"assig)", 1, "malformed json injected"};
    case FaultKind::missing_fields:
      return poll ? DeviceReply{200, R"({"status":"assigned","registrationState":{"status":"assigned"}})", std::nullopt,
                                "missing fields injected"}
                  : DeviceReply{202, R"({"status":"assigning"})", 1, "missing fields injected"};
    default:
      return {500, "", std::nullopt, "unexpected fault"};
  }
}

}  // namespace edgeprov::emulator
