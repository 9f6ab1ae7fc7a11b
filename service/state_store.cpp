#include "service/state_store.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/time.h"
#include "edge-config/atomic_file.h"

namespace edgeprov::service {

using nlohmann::json;

namespace {

constexpr const char* file_name = "provisioning.json";

json to_json(const PersistedSettings& s) {
  return {{"globalEndpoint", s.global_endpoint},
          {"idScope", s.id_scope},
          {"registrationId", s.registration_id},
          {"attestation", s.attestation}};
}

bool string_field(const json& object, const char* key, std::string& out) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

std::optional<PersistedSettings> settings_from_json(const json& j) {
  if (!j.is_object() || j.size() != 4) return std::nullopt;
  PersistedSettings s;
  if (!string_field(j, "globalEndpoint", s.global_endpoint) || !string_field(j, "idScope", s.id_scope) ||
      !string_field(j, "registrationId", s.registration_id) || !string_field(j, "attestation", s.attestation))
    return std::nullopt;
  return s;
}

std::optional<Assignment> assignment_from_json(const json& j) {
  if (!j.is_object() || j.size() != 5 || !j.contains("payload")) return std::nullopt;
  Assignment a;
  std::string assigned_at;
  if (!string_field(j, "hub", a.hub) || !string_field(j, "deviceId", a.device_id) ||
      !string_field(j, "substatus", a.substatus) || !string_field(j, "assignedAt", assigned_at))
    return std::nullopt;
  if (a.hub.empty() || a.device_id.empty()) return std::nullopt;
  auto at = parse_rfc3339(assigned_at);
  if (!at) return std::nullopt;
  a.assigned_at = *at;
  a.payload = j.at("payload");
  return a;
}

std::string utc_stamp(SystemTime t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
#ifdef _WIN32
  gmtime_s(&tm, &seconds);
#else
  gmtime_r(&seconds, &tm);
#endif
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

}  // namespace

json to_json(const PersistedState& state) {
  return {{"version", state_file_version},
          {"settings", to_json(state.settings)},
          {"assignment", state.assignment ? to_json(*state.assignment) : json(nullptr)},
          {"retry", dps::to_json(state.retry)}};
}

std::optional<PersistedState> persisted_state_from_json(const json& j, std::string& why) {
  if (!j.is_object()) {
    why = "it is not a JSON object";
    return std::nullopt;
  }
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer()) {
    why = "it has no version";
    return std::nullopt;
  }
  if (version->get<long long>() != state_file_version) {
    why = fmt::format("it has version {}, this edgeprovd reads version {}", version->dump(), state_file_version);
    return std::nullopt;
  }
  if (j.size() != 4 || !j.contains("settings") || !j.contains("assignment") || !j.contains("retry")) {
    why = "its fields are not version 1's (settings, assignment, retry)";
    return std::nullopt;
  }
  PersistedState state;
  auto settings = settings_from_json(j.at("settings"));
  if (!settings) {
    why = "its settings are malformed";
    return std::nullopt;
  }
  state.settings = *settings;
  if (!j.at("assignment").is_null()) {
    state.assignment = assignment_from_json(j.at("assignment"));
    if (!state.assignment) {
      why = "its assignment is malformed";
      return std::nullopt;
    }
  }
  auto retry = dps::retry_schedule_from_json(j.at("retry"));
  if (!retry) {
    why = "its retry schedule is malformed";
    return std::nullopt;
  }
  state.retry = *retry;
  return state;
}

StateStore::StateStore(std::filesystem::path dir) : dir_(std::move(dir)), file_(dir_ / file_name) {}

std::optional<PersistedState> StateStore::read(ReadProblem& problem, std::string& why) const {
  problem = ReadProblem::none;
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) {
    problem = ReadProblem::absent;
    return std::nullopt;
  }
  std::ifstream in(file_, std::ios::binary);
  if (!in) {
    problem = ReadProblem::unreadable;
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  json parsed = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    problem = ReadProblem::invalid;
    why = "it is not valid JSON";
    return std::nullopt;
  }
  auto state = persisted_state_from_json(parsed, why);
  if (!state) problem = ReadProblem::invalid;
  return state;
}

std::optional<PersistedState> StateStore::peek() const {
  ReadProblem problem;
  std::string why;
  return read(problem, why);
}

std::optional<PersistedState> StateStore::load(const PersistedSettings& expected) {
  ReadProblem problem;
  std::string why;
  auto state = read(problem, why);
  if (problem == ReadProblem::absent) return std::nullopt;
  if (problem == ReadProblem::unreadable) {
    spdlog::warn("state: cannot read {}; registering with DPS as if there were no assignment", file_.string());
    return std::nullopt;
  }
  if (problem == ReadProblem::invalid) {
    set_aside(why);
    return std::nullopt;
  }
  if (!(state->settings == expected)) {
    set_aside(fmt::format("it was written for id scope {}, registration id {}, attestation {} at {}; the "
                          "configuration now says id scope {}, registration id {}, attestation {} at {}",
                          state->settings.id_scope, state->settings.registration_id, state->settings.attestation,
                          state->settings.global_endpoint, expected.id_scope, expected.registration_id,
                          expected.attestation, expected.global_endpoint));
    return std::nullopt;
  }
  return state;
}

void StateStore::save(const PersistedState& state) {
  config::write_file_atomically(file_, to_json(state).dump(2) + "\n", config::FileAccess::owner_only,
                                /*replace=*/true);
}

void StateStore::set_aside(const std::string& why) {
  auto target = file_;
  target += ".rejected-" + utc_stamp(std::chrono::system_clock::now());
  std::error_code ec;
  std::filesystem::rename(file_, target, ec);
  if (ec) {
    spdlog::warn("state: {} is not used because {}; it could not be moved aside ({}); registering with DPS",
                 file_.string(), why, ec.message());
    return;
  }
  spdlog::warn("state: {} is not used because {}; moved it to {} and registering with DPS", file_.string(), why,
               target.string());
}

}  // namespace edgeprov::service
