// ctl/connection.h — how edgeprovctl reaches edgeprovd: which endpoint to use, and what a failed call
// means for the exit code (ctl/exit_codes.h). Every failure is explained on stderr with what to do next.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "ctl/commands.h"
#include "ctl/exit_codes.h"
#include "ipc/jsonrpc.h"

namespace edgeprov::ctl {

// The configuration file edgeprovctl reads: --config, else the platform default.
std::filesystem::path config_file(const GlobalOptions& global);

// --endpoint; else [edgeprov.ipc] endpoint of the configuration file when it exists and is readable;
// else the platform default. Throws config::ConfigError when that file exists but is invalid.
std::string resolve_endpoint(const GlobalOptions& global);
// resolve_endpoint, or the exit code (config_error) after saying on stderr why the configuration could
// not name the endpoint.
std::variant<std::string, int> endpoint_or_exit(const GlobalOptions& global);

// How one call is made and what its failures mean, for commands that need more than the defaults.
struct CallOptions {
  std::chrono::milliseconds timeout = std::chrono::seconds(10);  // for the connect and for the answer
  // The exit code when no answer came within `timeout`, and what to add to the message then.
  int timeout_exit = exit_code::failure;
  std::string timeout_hint;
  // Explains an error answer on stderr and returns the exit code; unset: the message, and the code
  // from rpc_error_exit_code (ctl/outcome.h).
  std::function<int(const ipc::RpcError&)> on_rpc_error;
};

// Calls `method` on the service. On failure prints why (and how to fix it) to stderr and returns the
// exit code instead of a result: unreachable 4, unauthorized 5, config_error 6, tpm_error 7, anything
// else 1 (ctl/outcome.h maps the error answers).
std::variant<nlohmann::json, int> call_service(const GlobalOptions& global, std::string_view method,
                                               const nlohmann::json& params = nullptr,
                                               const CallOptions& options = {});

// How to start the service on this platform (connection_posix.cpp / connection_windows.cpp).
std::string start_service_hint(const std::filesystem::path& config_file);

}  // namespace edgeprov::ctl
