// ipc/listener.h — the platform side of the local endpoint: accepts connections and says who the peer
// is, as the OS reports it. Leaves: unix_socket_posix.cpp (SO_PEERCRED), named_pipe_windows.cpp
// (ImpersonateNamedPipeClient). Never parses a byte of the protocol: that is the connection's job.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

#include "ipc/peer.h"
#include "ipc/server.h"

namespace edgeprov::ipc {

// One accepted connection's byte stream. Its completion handlers run on executor(), a strand of its
// own, so a connection's state needs no lock even when the io_context has several threads.
class Stream {
 public:
  using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;
  virtual ~Stream() = default;
  virtual boost::asio::any_io_executor executor() = 0;
  virtual void async_read_some(boost::asio::mutable_buffer buffer, Handler handler) = 0;
  virtual void async_write(boost::asio::const_buffer buffer, Handler handler) = 0;  // writes it all
  virtual void close() = 0;  // cancels pending operations; idempotent
  // Who is on the other end, with Peer::admin decided by the platform's policy. Read it for every
  // request: a leaf may only learn it once the first bytes arrived (Windows impersonation).
  virtual const Peer& peer() const = 0;
};

struct Accepted {
  std::unique_ptr<Stream> stream;
};

class Listener {
 public:
  using AcceptHandler = std::function<void(const boost::system::error_code&, Accepted)>;
  virtual ~Listener() = default;
  // Creates the endpoint. Throws std::system_error whose what() names the endpoint and the fix.
  virtual void start() = 0;
  virtual void async_accept(AcceptHandler handler) = 0;  // the handler runs on the io_context
  // Stops accepting and removes what start() created. Idempotent.
  virtual void stop() = 0;
};

std::unique_ptr<Listener> make_listener(boost::asio::io_context& io, const ServerOptions& options);

}  // namespace edgeprov::ipc
