#include "emulator/gate_admin.h"

#include <charconv>

#include "common/encoding.h"
#include "common/time.h"

namespace edgeprov::emulator {

using nlohmann::json;

namespace {

constexpr std::int64_t max_outage_seconds = 7 * 24 * 3600;
constexpr std::int64_t max_retry_after_seconds = 3600;
constexpr std::int64_t max_clock_step_seconds = 365 * 24 * 3600;

AdminResult error(int status, int code, const std::string& message) {
  return {status, error_body(code, message, std::chrono::system_clock::now())};
}
AdminResult bad_request(const std::string& message) { return error(400, error_code::bad_request, message); }
AdminResult not_allowed(std::string_view method) {
  return error(405, error_code::method_not_allowed, "method " + std::string(method) + " is not allowed here");
}

std::optional<std::uint64_t> whole_number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || failure != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A JSON integer in [low, high], or std::nullopt (absent, another type, out of range).
std::optional<std::int64_t> integer_in(const json& value, std::int64_t low, std::int64_t high) {
  if (!value.is_number_integer()) return std::nullopt;
  auto number = value.get<std::int64_t>();
  if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(high)) return std::nullopt;
  if (number < low || number > high) return std::nullopt;
  return number;
}

// The keys of `body` outside `known`, for the 400 that names them.
std::optional<std::string> unknown_key(const json& body, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : body.items()) {
    bool ok = false;
    for (auto k : known) ok = ok || key == k;
    if (!ok) return key;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- /quotas

json quotas_json(const DeviceGate& gate) {
  QuotaSettings q = gate.quotas();
  return {{"registrationsPerMinute", q.registrations ? json(q.registrations->limit) : json(nullptr)},
          {"pollsPerDevice", q.polls_per_device ? json(to_string(*q.polls_per_device)) : json(nullptr)},
          {"registrationsInWindow", gate.registrations_in_window()}};
}

AdminResult put_quotas(DeviceGate& gate, const json& body) {
  const char* shape = R"(send {"registrationsPerMinute": N or null, "pollsPerDevice": "N/SECONDS" or null}; )"
                      "a quota left out is turned off";
  if (!body.is_object()) return bad_request(shape);
  if (auto key = unknown_key(body, {"registrationsPerMinute", "pollsPerDevice"}))
    return bad_request("unknown key \"" + *key + "\": " + shape);
  QuotaSettings settings;
  if (auto it = body.find("registrationsPerMinute"); it != body.end() && !it->is_null()) {
    auto limit = integer_in(*it, 1, max_rate_limit);
    if (!limit) return bad_request("registrationsPerMinute must be an integer from 1 to " + std::to_string(max_rate_limit) + ", or null");
    settings.registrations = RateLimit{static_cast<std::uint32_t>(*limit), std::chrono::seconds(60)};
  }
  if (auto it = body.find("pollsPerDevice"); it != body.end() && !it->is_null()) {
    auto limit = it->is_string() ? parse_rate_limit(it->get<std::string>()) : std::nullopt;
    if (!limit) return bad_request("pollsPerDevice must be \"N/SECONDS\" (DPS: \"5/10\"), or null");
    settings.polls_per_device = limit;
  }
  gate.set_quotas(settings);
  return {200, quotas_json(gate)};
}

// ---------------------------------------------------------------- /outages

json outage_json(const OutageView& v) {
  json out = {{"id", v.outage.id},
              {"mode", to_string(v.outage.mode)},
              {"start", to_rfc3339(v.start, true)},
              {"end", to_rfc3339(v.end, true)},
              {"inForce", v.in_force}};
  out["retryAfter"] = v.outage.retry_after ? json(v.outage.retry_after->count()) : json(nullptr);
  return out;
}

AdminResult post_outage(DeviceGate& gate, const json& body) {
  const char* shape = R"(send {"durationSeconds": N, "mode"?: "refuse" or "drop", "start"?: RFC 3339 time, )"
                      R"("startInSeconds"?: N, "retryAfter"?: N})";
  if (!body.is_object()) return bad_request(shape);
  if (auto key = unknown_key(body, {"mode", "durationSeconds", "start", "startInSeconds", "retryAfter"}))
    return bad_request("unknown key \"" + *key + "\": " + shape);
  OutageMode mode = OutageMode::refuse;
  if (auto it = body.find("mode"); it != body.end()) {
    auto parsed = it->is_string() ? parse_outage_mode(it->get<std::string>()) : std::nullopt;
    if (!parsed) return bad_request(R"(mode must be "refuse" (503 to every request) or "drop" (connections reset))");
    mode = *parsed;
  }
  auto duration = body.contains("durationSeconds") ? integer_in(body["durationSeconds"], 1, max_outage_seconds) : std::nullopt;
  if (!duration) return bad_request("durationSeconds must be an integer from 1 to " + std::to_string(max_outage_seconds));
  if (body.contains("start") && body.contains("startInSeconds")) return bad_request("give start or startInSeconds, not both");
  std::optional<SystemTime> start;
  if (auto it = body.find("start"); it != body.end()) {
    start = it->is_string() ? parse_rfc3339(it->get<std::string>()) : std::nullopt;
    if (!start) return bad_request("start must be an RFC 3339 time, e.g. \"2026-11-29T04:31:10Z\"");
  }
  if (auto it = body.find("startInSeconds"); it != body.end()) {
    auto in = integer_in(*it, 0, max_outage_seconds);
    if (!in) return bad_request("startInSeconds must be an integer from 0 to " + std::to_string(max_outage_seconds));
    start = std::chrono::system_clock::now() + std::chrono::seconds(*in);
  }
  std::optional<std::chrono::seconds> retry_after;
  if (auto it = body.find("retryAfter"); it != body.end() && !it->is_null()) {
    if (mode == OutageMode::drop) return bad_request("retryAfter goes with mode \"refuse\": a dropped connection carries no answer");
    auto seconds = integer_in(*it, 1, max_retry_after_seconds);
    if (!seconds) return bad_request("retryAfter must be an integer from 1 to " + std::to_string(max_retry_after_seconds));
    retry_after = std::chrono::seconds(*seconds);
  }
  return {201, outage_json(gate.add_outage(mode, start, std::chrono::seconds(*duration), retry_after))};
}

AdminResult route_outages(DeviceGate& gate, std::string_view method, const std::vector<std::string>& segments,
                          const json& body) {
  if (segments.size() == 1) {
    if (method == "GET") {
      json out = json::array();
      for (const auto& v : gate.outages()) out.push_back(outage_json(v));
      return {200, out};
    }
    if (method == "POST") return post_outage(gate, body);
    if (method == "DELETE") {
      gate.clear_outages();
      return {204, nullptr};
    }
    return not_allowed(method);
  }
  if (segments.size() != 2) return error(404, error_code::not_found, "unknown path");
  if (method != "DELETE") return not_allowed(method);
  auto id = whole_number(segments[1]);
  if (!id || !gate.cancel_outage(*id)) return error(404, error_code::not_found, "no outage '" + segments[1] + "'");
  return {204, nullptr};
}

// ---------------------------------------------------------------- /stats

json outcome_json(const OutcomeCounts& c) {
  return {{"accepted", c.accepted}, {"throttled", c.throttled}, {"refused", c.refused}, {"total", c.total()}};
}

json kind_json(const TrafficCounts& counts, RequestKind kind) {
  json out = outcome_json(counts.of(kind));
  out["https"] = outcome_json(counts.of(kind, Transport::https));
  out["mqtt"] = outcome_json(counts.of(kind, Transport::mqtt));
  return out;
}

json stats_json(const TrafficCounts& counts, const std::optional<std::string>& registration_id,
                const ConnectionCounts& connections) {
  json out;
  if (registration_id) out["registrationId"] = *registration_id;
  out["requests"] = outcome_json(counts.all());
  out["register"] = kind_json(counts, RequestKind::register_device);
  out["poll"] = kind_json(counts, RequestKind::operation_status);
  if (!registration_id) {
    out["connections"] = {{"https", {{"dropped", connections.https_dropped}}},
                          {"mqtt",
                           {{"dropped", connections.mqtt_dropped},
                            {"refused", connections.mqtt_refused},
                            {"subscribed", connections.mqtt_subscribed}}}};
  }
  return out;
}

std::optional<std::uint64_t> counter_at(const json& document, std::string_view path) {
  const json* node = &document;
  while (true) {
    auto dot = path.find('.');
    std::string_view name = path.substr(0, dot);
    if (!node->is_object()) return std::nullopt;
    auto it = node->find(name);
    if (it == node->end()) return std::nullopt;
    node = &*it;
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  // A group of counters stands for its total: "register" is "register.total".
  if (node->is_object() && node->contains("total")) node = &(*node)["total"];
  if (!node->is_number_integer() || node->get<std::int64_t>() < 0) return std::nullopt;
  return node->get<std::uint64_t>();
}

std::optional<std::string> registration_id_of(const Query& query) {
  for (const auto& [name, value] : query) {
    if (name == "registrationId") return value;
  }
  return std::nullopt;
}

AdminResult route_stats(DeviceGate& gate, std::string_view method, const std::vector<std::string>& segments,
                        const Query& query) {
  if (segments.size() == 1) {
    if (method == "GET") return {200, stats_document(gate, registration_id_of(query))};
    if (method == "DELETE") {
      gate.reset_counts();
      return {204, nullptr};
    }
    return not_allowed(method);
  }
  if (segments.size() != 2 || segments[1] != "wait") return error(404, error_code::not_found, "unknown path");
  if (method != "GET") return not_allowed(method);
  // Judged once, at once: the waiting form is served by the admin handler (make_admin_handler).
  auto parsed = parse_stats_wait(query);
  if (auto* failure = std::get_if<AdminResult>(&parsed)) return *failure;
  const auto& wait = std::get<StatsWait>(parsed);
  json document = stats_document(gate, wait.registration_id);
  if (stats_reached(document, wait)) return {200, document};
  return {408, document};
}

}  // namespace

std::optional<Query> parse_query(std::string_view target) {
  Query query;
  auto question = target.find('?');
  if (question == std::string_view::npos) return query;
  std::string_view rest = target.substr(question + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view parameter = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (parameter.empty()) continue;
    auto equals = parameter.find('=');
    auto name = url_decode(parameter.substr(0, equals));
    auto value = url_decode(equals == std::string_view::npos ? std::string_view{} : parameter.substr(equals + 1));
    if (!name || !value) return std::nullopt;
    query.emplace_back(std::move(*name), std::move(*value));
  }
  return query;
}

json stats_document(const DeviceGate& gate, const std::optional<std::string>& registration_id) {
  if (registration_id) return stats_json(gate.counts(*registration_id), registration_id, {});
  return stats_json(gate.counts(), std::nullopt, gate.connections());
}

std::variant<StatsWait, AdminResult> parse_stats_wait(const Query& query) {
  StatsWait wait;
  wait.registration_id = registration_id_of(query);
  if (wait.registration_id && wait.registration_id->empty()) return bad_request("registrationId is empty");
  // Conditions are checked against the shape of the document they will be judged on.
  const json shape = stats_json({}, wait.registration_id, {});
  for (const auto& [name, value] : query) {
    if (name == "registrationId" || name == "api-version") continue;
    auto number = whole_number(value);
    if (name == "timeoutMs") {
      if (!number || *number < 1 || *number > static_cast<std::uint64_t>(max_stats_wait.count()))
        return bad_request("timeoutMs must be an integer from 1 to " + std::to_string(max_stats_wait.count()));
      wait.timeout = std::chrono::milliseconds(*number);
      continue;
    }
    if (!counter_at(shape, name))
      return bad_request("'" + name + "' is not a counter of GET /stats" +
                         (wait.registration_id ? "?registrationId=…" : std::string()) +
                         "; use a dotted path to one of its numbers, e.g. register.total, poll.throttled, "
                         "register.mqtt.accepted, requests.refused");
    if (!number) return bad_request(name + " must be a whole number (the count to wait for)");
    wait.conditions.emplace_back(name, *number);
  }
  if (wait.conditions.empty())
    return bad_request("name at least one counter to wait for, e.g. /stats/wait?registrationId=dev-1&register.total=2");
  return wait;
}

bool stats_reached(const json& document, const StatsWait& wait) {
  for (const auto& [path, target] : wait.conditions) {
    auto value = counter_at(document, path);
    if (!value || *value < target) return false;
  }
  return true;
}

std::optional<AdminResult> route_gate_request(DeviceGate& gate, std::string_view method,
                                              const std::vector<std::string>& segments, const Query& query,
                                              const json& body) {
  if (segments.empty()) return std::nullopt;
  const std::string& collection = segments[0];
  if (collection == "quotas") {
    if (segments.size() != 1) return error(404, error_code::not_found, "unknown path");
    if (method == "GET") return AdminResult{200, quotas_json(gate)};
    if (method == "PUT") return put_quotas(gate, body);
    return not_allowed(method);
  }
  if (collection == "outages") return route_outages(gate, method, segments, body);
  if (collection == "stats") return route_stats(gate, method, segments, query);
  if (collection == "clock") {
    if (segments.size() == 1) {
      if (method != "GET") return not_allowed(method);
      return AdminResult{200, {{"offsetSeconds", gate.clock_offset().count()}}};
    }
    if (segments.size() != 2 || segments[1] != "advance") return error(404, error_code::not_found, "unknown path");
    if (method != "POST") return not_allowed(method);
    auto seconds = body.is_object() && body.contains("seconds") ? integer_in(body["seconds"], 1, max_clock_step_seconds)
                                                                : std::nullopt;
    if (!seconds)
      return bad_request(R"(send {"seconds": N}, N from 1 to )" + std::to_string(max_clock_step_seconds) +
                         ": the quota and outage clock moves forward by N seconds");
    gate.advance_clock(std::chrono::seconds(*seconds));
    return AdminResult{200, {{"offsetSeconds", gate.clock_offset().count()}}};
  }
  return std::nullopt;
}

}  // namespace edgeprov::emulator
