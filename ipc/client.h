// ipc/client.h — the synchronous client of the local API, used by edgeprovctl and the tests.
// One connection, requests answered in order; notifications (after `subscribe`) read on demand.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ipc/jsonrpc.h"

namespace edgeprov::ipc {

class ClientError : public std::runtime_error {
 public:
  enum class Kind {
    unreachable,  // no server at the endpoint (not running, wrong path, no permission to connect)
    timeout,      // no answer in time
    protocol,     // the server sent something that is not JSON-RPC, or closed mid-answer
    rpc,          // the server answered with a JSON-RPC error: see rpc_error()
  };
  ClientError(Kind kind, std::string message, std::optional<RpcError> rpc = std::nullopt)
      : std::runtime_error(std::move(message)), kind_(kind), rpc_(std::move(rpc)) {}
  Kind kind() const { return kind_; }
  const std::optional<RpcError>& rpc_error() const { return rpc_; }

 private:
  Kind kind_;
  std::optional<RpcError> rpc_;
};

class Client {
 public:
  // Connects at once; throws ClientError(unreachable) with a hint naming the endpoint.
  explicit Client(std::string endpoint, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // Sends a request and waits for its response (notifications arriving meanwhile are queued).
  // Throws ClientError (kind rpc for an error response).
  nlohmann::json call(std::string_view method, const nlohmann::json& params = nullptr);
  // The next queued or arriving notification, or nullopt after `timeout`.
  std::optional<Notification> next_notification(std::chrono::milliseconds timeout);
  void set_timeout(std::chrono::milliseconds timeout);

 private:
  class Impl;  // platform leaf: client_posix.cpp / client_windows.cpp
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgeprov::ipc
