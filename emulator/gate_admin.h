// emulator/gate_admin.h — the admin API of the device gate (docs/dps-emulator.md): /quotas, /outages, /stats and
// /clock, and the conditions of the long poll GET /stats/wait. Pure routing and JSON: method, path, query and
// body in, status and JSON out; the waiting itself is admin_api's.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator/device_gate.h"
#include "emulator/provisioning_service.h"

namespace edgeprov::emulator {

// The query string of a request target, names and values URL-decoded, in order; std::nullopt when it is not
// valid percent-encoding.
using Query = std::vector<std::pair<std::string, std::string>>;
std::optional<Query> parse_query(std::string_view target);

// The admin paths of the gate; std::nullopt when `segments` is not one of them.
std::optional<AdminResult> route_gate_request(DeviceGate& gate, std::string_view method,
                                              const std::vector<std::string>& segments, const Query& query,
                                              const nlohmann::json& body);

// GET /stats: {"requests", "register", "poll"} counters, with "registrationId" when scoped to one, and
// "connections" and "registrationIds" for the whole instance.
nlohmann::json stats_document(const DeviceGate& gate, const std::optional<std::string>& registration_id);

// GET /stats/wait?[registrationId=ID&]COUNTER=N[&COUNTER=N…][&timeoutMs=T]: answer once every COUNTER (a
// dotted path to a number of the /stats document, e.g. register.throttled or poll.mqtt.accepted, or to a
// group of counters for its total, e.g. register for register.total) is at least N.
struct StatsWait {
  std::optional<std::string> registration_id;
  std::vector<std::pair<std::string, std::uint64_t>> conditions;
  std::chrono::milliseconds timeout{10'000};
};
inline constexpr std::chrono::milliseconds max_stats_wait{600'000};
// The wait, or the 400 that names what is wrong with the query.
std::variant<StatsWait, AdminResult> parse_stats_wait(const Query& query);
bool stats_reached(const nlohmann::json& document, const StatsWait& wait);

}  // namespace edgeprov::emulator
