// service/logging.h — edgeprovd's log: one spdlog logger writing to the platform's sink (console,
// journald or the Windows Event Log, chosen by the lifecycle leaf), a rotating file when configured, and an
// in-memory ring buffer that serves the admin-only `logs` method. Nothing here ever formats a secret:
// configuration secrets are edgeprov::Secret and print as "<redacted>".
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/common.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "common/time.h"
#include "edge-config/config.h"

namespace edgeprov::service {

// How many of the most recent lines `logs` can return.
inline constexpr std::size_t log_ring_capacity = 2000;
inline constexpr std::size_t logs_default_lines = 100;

// "trace", "debug", "info", "warn", "error", "critical", "off" (the [edgeprov.log] level values).
std::optional<spdlog::level::level_enum> parse_level(std::string_view name);
std::string_view level_name(spdlog::level::level_enum level);

struct LogEntry {
  SystemTime time;
  spdlog::level::level_enum level = spdlog::level::info;
  std::string message;
};

class Logging {
 public:
  // Installs the default logger "edgeprovd" with `platform_sinks`, the rotating file of
  // [edgeprov.log] file when set, and the ring buffer. Throws std::runtime_error naming the file and the
  // fix when the log file cannot be opened.
  Logging(const config::Log& settings, std::vector<spdlog::sink_ptr> platform_sinks);
  ~Logging();  // flushes and removes the default logger
  Logging(const Logging&) = delete;
  Logging& operator=(const Logging&) = delete;

  // The most recent lines, oldest first.
  std::vector<LogEntry> recent() const;

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
};

// `logs` params: {"lines": 1…log_ring_capacity (default logs_default_lines), "level": minimum level
// (default "trace")}. Throws ipc::RpcError(invalid_params) with a message saying what is accepted.
struct LogsQuery {
  std::size_t lines = logs_default_lines;
  spdlog::level::level_enum level = spdlog::level::trace;
};
LogsQuery parse_logs_params(const nlohmann::json& params);

// `logs` result: {"entries":[{"time","level","message"}…]}, the last `query.lines` entries at or above
// `query.level`, oldest first.
nlohmann::json logs_result(const std::vector<LogEntry>& entries, const LogsQuery& query);

}  // namespace edgeprov::service
