// ipc/server.h — the local JSON-RPC endpoint on Boost.Asio: a Unix socket on POSIX, a named pipe on
// Windows (platform leaves behind ipc/listener.h). Answers each connection's requests in order; a slow,
// idle or malicious client never blocks the others. Runs entirely on the io_context it is given.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "ipc/admission.h"
#include "ipc/dispatcher.h"
#include "ipc/jsonrpc.h"
#include "ipc/peer.h"

namespace edgeprov::ipc {

struct ServerOptions {
  std::string endpoint;                       // socket path, or \\.\pipe\name
  AdmissionLimits limits;                     // per caller and in all (ipc/admission.h); a refusal is -32003
  std::chrono::seconds idle_timeout{300};     // a connection with no complete request for this long closes
  // …and one that has not completed its first request within this closes sooner: a client sends its
  // request as soon as it connects, so only a stalled or hostile one waits.
  std::chrono::seconds first_request_timeout{10};
  std::size_t max_message = max_message_bytes;
  AdminPolicy admin_policy;                   // admin group, identity principals (resolved)
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, const Dispatcher& dispatcher);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts listening. Throws std::system_error whose what() names the endpoint and the fix
  // (in use by another instance, directory missing, permission denied).
  void start();
  // Stops accepting, closes every connection, removes the socket file. Idempotent.
  void stop();
  std::size_t connection_count() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgeprov::ipc
