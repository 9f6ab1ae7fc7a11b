#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <spdlog/spdlog.h>

#include "common/secret.h"
#include "ipc/jsonrpc.h"
#include "service/logging.h"

using namespace edgeprov;
using namespace edgeprov::service;
using nlohmann::json;
using Catch::Matchers::ContainsSubstring;

namespace {

ipc::RpcError rejection_of(const json& params) {
  try {
    parse_logs_params(params);
  } catch (const ipc::RpcError& e) {
    return e;
  }
  FAIL("parse_logs_params accepted " << params.dump());
  return {};
}

LogEntry entry(const char* time, spdlog::level::level_enum level, std::string message) {
  return {.time = *parse_rfc3339(time), .level = level, .message = std::move(message)};
}

}  // namespace

TEST_CASE("logs without params returns the last 100 lines of every level") {
  for (const json& params : {json(nullptr), json::object()}) {
    const auto query = parse_logs_params(params);
    CHECK(query.lines == 100);
    CHECK(query.level == spdlog::level::trace);
  }
}

TEST_CASE("logs accepts a line count and a lowest level") {
  const auto query = parse_logs_params({{"lines", 5}, {"level", "warn"}});
  CHECK(query.lines == 5);
  CHECK(query.level == spdlog::level::warn);
  CHECK(parse_logs_params({{"lines", 2000}}).lines == 2000);
  CHECK(parse_logs_params({{"level", "critical"}}).level == spdlog::level::critical);
}

TEST_CASE("logs refuses line counts that are not an integer from 1 to 2000") {
  for (const json& lines : {json(0), json(-1), json(2001), json("10"), json(1.5), json(nullptr), json(true)}) {
    const auto error = rejection_of({{"lines", lines}});
    CHECK(error.code == ipc::errc::invalid_params);
    CHECK_THAT(error.message, ContainsSubstring("\"lines\" must be an integer from 1 to 2000"));
  }
}

TEST_CASE("logs refuses an unknown level, off, and a level that is not a string") {
  for (const json& level : {json("verbose"), json("off"), json("INFO"), json(3)}) {
    const auto error = rejection_of({{"level", level}});
    CHECK(error.code == ipc::errc::invalid_params);
    CHECK_THAT(error.message, ContainsSubstring("trace, debug, info, warn, error, critical"));
  }
}

TEST_CASE("logs refuses unknown parameters and params that are not an object") {
  const auto unknown = rejection_of({{"lines", 3}, {"since", "1h"}});
  CHECK(unknown.code == ipc::errc::invalid_params);
  CHECK_THAT(unknown.message, ContainsSubstring("unknown parameter \"since\""));

  const auto array = rejection_of(json::array({10}));
  CHECK(array.code == ipc::errc::invalid_params);
  CHECK_THAT(array.message, ContainsSubstring("must be an object"));
}

TEST_CASE("logs returns the most recent lines at or above the level, oldest first") {
  const std::vector<LogEntry> entries{
      entry("2026-11-29T04:00:00.001Z", spdlog::level::info, "one"),
      entry("2026-11-29T04:00:00.002Z", spdlog::level::warn, "two"),
      entry("2026-11-29T04:00:00.003Z", spdlog::level::debug, "three"),
      entry("2026-11-29T04:00:00.004Z", spdlog::level::err, "four"),
      entry("2026-11-29T04:00:00.005Z", spdlog::level::info, "five"),
  };

  const json all = logs_result(entries, {.lines = 3, .level = spdlog::level::trace});
  CHECK(all == json{{"entries",
                     {{{"time", "2026-11-29T04:00:00.003Z"}, {"level", "debug"}, {"message", "three"}},
                      {{"time", "2026-11-29T04:00:00.004Z"}, {"level", "error"}, {"message", "four"}},
                      {{"time", "2026-11-29T04:00:00.005Z"}, {"level", "info"}, {"message", "five"}}}}});

  const json warnings = logs_result(entries, {.lines = 100, .level = spdlog::level::warn});
  REQUIRE(warnings["entries"].size() == 2);
  CHECK(warnings["entries"][0]["message"] == "two");
  CHECK(warnings["entries"][1]["message"] == "four");

  CHECK(logs_result({}, {})["entries"] == json::array());
}

TEST_CASE("the log keeps lines at or above the configured level, and a secret only masked") {
  config::Log settings;
  settings.level = "info";
  Logging logging(settings, {});
  const Secret key("c2VjcmV0LWtleS1ieXRlcw==");
  spdlog::debug("not kept");
  spdlog::info("kept: key {}", key);
  spdlog::warn("kept too");

  const auto entries = logging.recent();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].level == spdlog::level::info);
  CHECK(entries[0].message == "kept: key <redacted>");
  CHECK(entries[1].level == spdlog::level::warn);
  CHECK(entries[1].message == "kept too");
}

TEST_CASE("level names are those of [edgeprov.log] level") {
  CHECK(parse_level("warn") == spdlog::level::warn);
  CHECK(parse_level("error") == spdlog::level::err);
  CHECK(parse_level("off") == spdlog::level::off);
  CHECK_FALSE(parse_level("warning").has_value());
  CHECK(level_name(spdlog::level::err) == "error");
}
