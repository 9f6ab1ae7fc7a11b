#include "ctl/connection.h"

#include <fstream>
#include <iostream>

#include "ctl/exit_codes.h"
#include "ctl/outcome.h"
#include "edge-config/config.h"
#include "ipc/client.h"

namespace edgeprov::ctl {

std::filesystem::path config_file(const GlobalOptions& global) {
  return global.config_file.empty() ? config::defaults().config_file
                                    : std::filesystem::path(global.config_file);
}

std::string resolve_endpoint(const GlobalOptions& global) {
  if (!global.endpoint.empty()) return global.endpoint;
  const auto file = config_file(global);
  // The configuration may be readable by the service's account only (it can hold a symmetric key):
  // then the platform default is the best guess, and --endpoint the way to say otherwise.
  if (std::ifstream probe(file); !probe) return config::defaults().ipc_endpoint;
  return config::load(file).ipc.endpoint;
}

std::variant<std::string, int> endpoint_or_exit(const GlobalOptions& global) {
  try {
    return resolve_endpoint(global);
  } catch (const config::ConfigError& e) {
    std::cerr << "edgeprovctl: cannot take the endpoint from the configuration: " << e.what()
              << "\n  (or pass --endpoint)\n";
    return exit_code::config_error;
  }
}

std::variant<nlohmann::json, int> call_service(const GlobalOptions& global, std::string_view method,
                                               const nlohmann::json& params, const CallOptions& options) {
  auto resolved = endpoint_or_exit(global);
  if (const int* code = std::get_if<int>(&resolved)) return *code;
  const std::string& endpoint = std::get<std::string>(resolved);
  try {
    ipc::Client client(endpoint, options.timeout);
    return client.call(method, params);
  } catch (const ipc::ClientError& e) {
    switch (e.kind()) {
      case ipc::ClientError::Kind::unreachable:
        std::cerr << "edgeprovctl: " << e.what() << "\n  " << start_service_hint(config_file(global)) << "\n";
        return exit_code::unreachable;
      case ipc::ClientError::Kind::rpc:
        if (e.rpc_error()) {
          if (options.on_rpc_error) return options.on_rpc_error(*e.rpc_error());
          // The service's message names the cause and the fix (for unauthorized: the identity needed).
          std::cerr << "edgeprovctl: " << method << ": " << e.rpc_error()->message << "\n";
          return rpc_error_exit_code(*e.rpc_error());
        }
        break;
      case ipc::ClientError::Kind::timeout:
        std::cerr << "edgeprovctl: " << method << " at " << endpoint << ": " << e.what() << "\n";
        if (!options.timeout_hint.empty()) std::cerr << "  " << options.timeout_hint << "\n";
        return options.timeout_exit;
      case ipc::ClientError::Kind::protocol:
        break;
    }
    std::cerr << "edgeprovctl: " << method << " at " << endpoint << ": " << e.what() << "\n";
    return exit_code::failure;
  }
}

}  // namespace edgeprov::ctl
