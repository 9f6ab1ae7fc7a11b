#include "service/logging.h"

#include <array>
#include <utility>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>

#include "ipc/jsonrpc.h"

namespace edgeprov::service {

namespace {

constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> level_names{{
    {"trace", spdlog::level::trace},
    {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},
    {"warn", spdlog::level::warn},
    {"error", spdlog::level::err},
    {"critical", spdlog::level::critical},
    {"off", spdlog::level::off},
}};

constexpr std::size_t log_file_bytes = 10 * 1024 * 1024;
constexpr std::size_t log_file_count = 5;

[[noreturn]] void invalid_params(std::string message) {
  throw ipc::RpcError{ipc::errc::invalid_params, std::move(message), nullptr};
}

}  // namespace

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  for (const auto& [text, level] : level_names)
    if (text == name) return level;
  return std::nullopt;
}

std::string_view level_name(spdlog::level::level_enum level) {
  for (const auto& [text, value] : level_names)
    if (value == level) return text;
  return "info";
}

Logging::Logging(const config::Log& settings, std::vector<spdlog::sink_ptr> platform_sinks)
    : ring_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(log_ring_capacity)) {
  auto sinks = std::move(platform_sinks);
  if (settings.file) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          settings.file->string(), log_file_bytes, log_file_count));
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error("cannot open the log file " + settings.file->string() + ": " + e.what() +
                               "; create its directory with write access for edgeprovd, or change "
                               "[edgeprov.log] file");
    }
  }
  sinks.push_back(ring_);
  auto logger = std::make_shared<spdlog::logger>("edgeprovd", sinks.begin(), sinks.end());
  logger->set_level(parse_level(settings.level).value_or(spdlog::level::info));
  // Lines reach the file as they happen: an operator tailing it, or a crash, must not lose them.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

Logging::~Logging() {
  if (auto logger = spdlog::default_logger()) logger->flush();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("edgeprovd"));
}

std::vector<LogEntry> Logging::recent() const {
  std::vector<LogEntry> entries;
  for (const auto& msg : ring_->last_raw()) {
    entries.push_back({.time = std::chrono::time_point_cast<SystemTime::duration>(msg.time),
                       .level = msg.level,
                       .message = std::string(msg.payload.data(), msg.payload.size())});
  }
  return entries;
}

LogsQuery parse_logs_params(const nlohmann::json& params) {
  LogsQuery query;
  if (params.is_null()) return query;
  if (!params.is_object()) invalid_params("logs: params must be an object such as {\"lines\":100,\"level\":\"info\"}");
  for (const auto& [key, value] : params.items()) {
    if (key == "lines") {
      const bool in_range = value.is_number_integer() && value.get<std::int64_t>() >= 1 &&
                            value.get<std::int64_t>() <= static_cast<std::int64_t>(log_ring_capacity);
      if (!in_range)
        invalid_params("logs: \"lines\" must be an integer from 1 to " + std::to_string(log_ring_capacity));
      query.lines = value.get<std::size_t>();
    } else if (key == "level") {
      const auto level = value.is_string() ? parse_level(value.get<std::string>()) : std::nullopt;
      if (!level || *level == spdlog::level::off)
        invalid_params("logs: \"level\" must be one of trace, debug, info, warn, error, critical");
      query.level = *level;
    } else {
      invalid_params("logs: unknown parameter \"" + key + "\"; accepted: lines, level");
    }
  }
  return query;
}

nlohmann::json logs_result(const std::vector<LogEntry>& entries, const LogsQuery& query) {
  std::vector<const LogEntry*> selected;
  for (auto it = entries.rbegin(); it != entries.rend() && selected.size() < query.lines; ++it)
    if (it->level >= query.level) selected.push_back(&*it);
  auto lines = nlohmann::json::array();
  for (auto it = selected.rbegin(); it != selected.rend(); ++it)
    lines.push_back({{"time", to_rfc3339((*it)->time, true)},
                     {"level", level_name((*it)->level)},
                     {"message", (*it)->message}});
  return {{"entries", std::move(lines)}};
}

}  // namespace edgeprov::service
