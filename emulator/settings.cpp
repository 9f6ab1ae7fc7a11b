#include "emulator/settings.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include <toml++/toml.h>

namespace edgeprov::emulator {

using nlohmann::json;

std::string Endpoint::text() const {
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  int value = std::stoi(std::string(port));
  if (value > 65535) return std::nullopt;
  return Endpoint{host.empty() ? "127.0.0.1" : std::string(host), static_cast<unsigned short>(value)};
}

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& key, const std::string& fix) {
  throw std::runtime_error(file + ": " + key + ": " + fix);
}

toml::table parse(const std::string& text, const std::string& file) {
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error(file + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) +
                             ": " + std::string(e.description()) + " (fix the TOML syntax)");
  }
}

json to_json(const toml::node& node) {
  std::ostringstream out;
  if (auto table = node.as_table()) out << toml::json_formatter{*table};
  else if (auto array = node.as_array()) out << toml::json_formatter{*array};
  return json::parse(out.str());
}

json array_of_tables(const toml::table& root, const char* key, const std::string& file) {
  const toml::node* node = root.get(key);
  if (!node) return json::array();
  if (!node->is_array_of_tables()) fail(file, key, std::string("write each entry as a [[") + key + "]] table");
  return to_json(*node);
}

}  // namespace

EnrollmentFile parse_enrollment_file(const std::string& text, const std::string& file) {
  toml::table root = parse(text, file);
  for (const auto& [key, value] : root) {
    std::string name(key.str());
    if (name != "enrollments" && name != "enrollmentGroups")
      fail(file, name, "unknown key; an enrollment file has [[enrollments]] and [[enrollmentGroups]] tables");
  }
  return {array_of_tables(root, "enrollments", file), array_of_tables(root, "enrollmentGroups", file)};
}

void apply_config_file(Settings& s, const std::string& text, const std::string& file) {
  toml::table root = parse(text, file);
  auto endpoint = [&](const char* key, Endpoint& out) {
    if (auto value = root[key].value<std::string>()) {
      auto parsed = parse_endpoint(*value);
      if (!parsed) fail(file, key, "expected \"ADDRESS:PORT\", e.g. \"127.0.0.1:8443\"");
      out = *parsed;
    }
  };
  for (const auto& [key, value] : root) {
    static const char* known[] = {"https", "mqtt", "admin", "id_scope", "enrollments_file", "cert_dir", "state_file",
                                  "iot_hubs", "allocation_policy", "assigning_polls", "assigning_seconds",
                                  "retry_after_seconds", "log_level", "registrations_per_minute", "polls_per_device",
                                  "stats_interval_seconds", "enrollments", "enrollmentGroups"};
    bool ok = false;
    for (const char* k : known) ok = ok || key.str() == k;
    if (!ok) fail(file, std::string(key.str()), "unknown key; see docs/dps-emulator.md for the configuration keys");
  }
  endpoint("https", s.https);
  endpoint("mqtt", s.mqtt);
  endpoint("admin", s.admin);
  if (auto v = root["id_scope"].value<std::string>()) s.service.id_scope = *v;
  if (auto v = root["enrollments_file"].value<std::string>()) s.enrollments_file = *v;
  if (auto v = root["cert_dir"].value<std::string>()) s.cert_dir = *v;
  if (auto v = root["state_file"].value<std::string>()) s.state_file = *v;
  if (auto v = root["log_level"].value<std::string>()) s.log_level = *v;
  if (const toml::array* hubs = root["iot_hubs"].as_array()) {
    s.service.iot_hubs.clear();
    for (const auto& hub : *hubs) {
      auto name = hub.value<std::string>();
      if (!name) fail(file, "iot_hubs", "expected an array of hub host names");
      s.service.iot_hubs.push_back(*name);
    }
  }
  if (auto v = root["allocation_policy"].value<std::string>()) {
    auto policy = parse_allocation_policy(*v);
    if (!policy) fail(file, "allocation_policy", "use \"hashed\", \"static\", \"custom\" or \"geoLatency\"");
    s.service.default_policy = *policy;
  }
  if (auto v = root["assigning_polls"].value<int64_t>()) s.service.assigning_polls = static_cast<int>(*v);
  if (auto v = root["assigning_seconds"].value<int64_t>()) s.service.assigning_time = std::chrono::seconds(*v);
  if (auto v = root["retry_after_seconds"].value<int64_t>()) s.service.retry_after_seconds = static_cast<int>(*v);
  if (const toml::node* v = root.get("registrations_per_minute")) {
    auto limit = v->value<int64_t>();
    if (!v->is_integer() || *limit < 1 || *limit > max_rate_limit)
      fail(file, "registrations_per_minute", "expected an integer from 1 to " + std::to_string(max_rate_limit) + " (DPS's default: 1000)");
    s.quotas.registrations = RateLimit{static_cast<std::uint32_t>(*limit), std::chrono::seconds(60)};
  }
  if (const toml::node* v = root.get("polls_per_device")) {
    auto limit = v->is_string() ? parse_rate_limit(*v->value<std::string>()) : std::nullopt;
    if (!limit) fail(file, "polls_per_device", "expected \"N/SECONDS\", e.g. \"5/10\" (DPS's limit)");
    s.quotas.polls_per_device = limit;
  }
  if (const toml::node* v = root.get("stats_interval_seconds")) {
    if (!v->is_integer() || *v->value<int64_t>() < 0) fail(file, "stats_interval_seconds", "expected a whole number of seconds (0: never)");
    s.stats_interval = std::chrono::seconds(*v->value<int64_t>());
  }
  s.enrollments = array_of_tables(root, "enrollments", file);
  s.groups = array_of_tables(root, "enrollmentGroups", file);
}

std::filesystem::path default_cert_dir() {
  if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data) return std::filesystem::path(data) / "dps-emulator";
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".local/share/dps-emulator";
  return std::filesystem::current_path() / "dps-emulator-certs";
}

}  // namespace edgeprov::emulator
