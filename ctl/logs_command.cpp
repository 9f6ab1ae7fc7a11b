// edgeprovctl logs: the service's most recent log lines (admin only), from its in-memory buffer.
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>

#include "ctl/commands.h"
#include "ctl/connection.h"
#include "ctl/output.h"

namespace edgeprov::ctl {

namespace {
struct LogsOptions {
  std::optional<int> lines;
  std::optional<std::string> level;
};
}  // namespace

void add_logs_command(CLI::App& app, const GlobalOptions& global, Runner& run) {
  auto options = std::make_shared<LogsOptions>();
  auto* command = app.add_subcommand("logs", "show the service's most recent log lines (administrators only)");
  command->add_option("-n,--lines", options->lines, "how many lines (1-2000, default 100)");
  command->add_option("--level", options->level, "the lowest level shown")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical"}));
  command->callback([&global, &run, options] {
    run = [&global, options] {
      nlohmann::json params = nlohmann::json::object();
      if (options->lines) params["lines"] = *options->lines;
      if (options->level) params["level"] = *options->level;
      auto answer = call_service(global, "logs", params);
      if (auto* code = std::get_if<int>(&answer)) return *code;
      const auto& logs = std::get<nlohmann::json>(answer);
      std::cout << (global.json ? json_text(logs) : format_logs(logs));
      return 0;
    };
  });
}

}  // namespace edgeprov::ctl
