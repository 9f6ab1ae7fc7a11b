// ctl/connection.h — how edgeprovctl reaches edgeprovd: which endpoint to use, and what a failed call
// means for the exit code (ctl/exit_codes.h). Every failure is explained on stderr with what to do next.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "ctl/commands.h"

namespace edgeprov::ctl {

// The configuration file edgeprovctl reads: --config, else the platform default.
std::filesystem::path config_file(const GlobalOptions& global);

// --endpoint; else [edgeprov.ipc] endpoint of the configuration file when it exists and is readable;
// else the platform default. Throws config::ConfigError when that file exists but is invalid.
std::string resolve_endpoint(const GlobalOptions& global);

// Calls `method` on the service. On failure prints why (and how to fix it) to stderr and returns the
// exit code instead of a result: unreachable 4, unauthorized 5, config_error 6, anything else 1.
std::variant<nlohmann::json, int> call_service(const GlobalOptions& global, std::string_view method,
                                               const nlohmann::json& params = nullptr);

// How to start the service on this platform (connection_posix.cpp / connection_windows.cpp).
std::string start_service_hint(const std::filesystem::path& config_file);

}  // namespace edgeprov::ctl
