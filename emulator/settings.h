// emulator/settings.h — dps-emulator's configuration: a TOML file (--config) and command-line flags that
// override it, plus the enrollment file (TOML in the service-API shape). Pure parsing; errors name the file,
// the key and the fix.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator/provisioning_service.h"
#include "emulator/quota.h"

namespace edgeprov::emulator {

struct Endpoint {
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  std::string text() const;
};

// "ADDR:PORT", "[v6]:PORT" or ":PORT" (loopback). std::nullopt when malformed.
std::optional<Endpoint> parse_endpoint(std::string_view text);

struct Settings {
  Endpoint https{"127.0.0.1", 8443};
  Endpoint mqtt{"127.0.0.1", 8883};
  Endpoint admin{"127.0.0.1", 8080};
  std::filesystem::path cert_dir;
  std::optional<std::filesystem::path> enrollments_file;
  std::optional<std::filesystem::path> state_file;
  std::string log_level = "info";
  ServiceOptions service;
  QuotaSettings quotas;                   // off unless asked for
  std::chrono::seconds stats_interval{10};  // a counters line in the log this often when they changed; 0 = never
  nlohmann::json enrollments = nlohmann::json::array();   // from the config file itself
  nlohmann::json groups = nlohmann::json::array();
};

// Applies a --config TOML document onto `settings`; throws std::runtime_error with file/key/fix.
void apply_config_file(Settings& settings, const std::string& toml_text, const std::string& file_name);

struct EnrollmentFile {
  nlohmann::json enrollments = nlohmann::json::array();  // [[enrollments]] tables as service-API JSON
  nlohmann::json groups = nlohmann::json::array();       // [[enrollmentGroups]]
};
// Reads [[enrollments]] and [[enrollmentGroups]] (camelCase keys as the admin API takes them).
EnrollmentFile parse_enrollment_file(const std::string& toml_text, const std::string& file_name);

std::filesystem::path default_cert_dir();

}  // namespace edgeprov::emulator
