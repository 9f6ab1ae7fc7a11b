// emulator/http_server.h — a small HTTP/1.1 server on Boost.Beast for the device API (TLS, optional client
// certificates) and the admin API (plain, loopback): keep-alive, body and header limits, timeouts on every
// step, the two connection-level faults (close mid-body, stall), dropped connections (outages) and answers
// that come later (long polls). One coroutine per connection on the caller's io_context; no threads of its
// own. Never logs request bodies or headers.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/bytes.h"

namespace edgeprov::emulator {

class FaultTable;

struct HttpRequest {
  boost::beast::http::request<boost::beast::http::string_body> message;
  std::vector<Bytes> client_chain;  // TLS client certificate chain, DER, leaf first (device API only)
};

struct HttpAction {
  enum class Kind {
    respond,
    close_mid_body,
    stall,
    drop,   // reset the connection without an answer
    later,  // the answer comes from `later` (a long poll): the connection waits for it
  };
  Kind kind = Kind::respond;
  boost::beast::http::response<boost::beast::http::string_body> response;
  std::chrono::seconds stall{0};
  std::function<boost::asio::awaitable<HttpAction>()> later;
};

using HttpHandler = std::function<HttpAction(HttpRequest&)>;

struct HttpServerOptions {
  std::string name = "https";                 // for error lines
  std::size_t body_limit = 64 * 1024;         // larger bodies get 413 and a closed connection
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds handshake_timeout{10};
  // Consulted for every accepted connection; true resets it at once, before TLS (an outage that drops).
  std::function<bool()> drop_connection;
};

class HttpServer {
 public:
  // `tls` null = plain HTTP. `faults` (may be null) is consulted for TLS handshake failures.
  HttpServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
             std::shared_ptr<boost::asio::ssl::context> tls, HttpHandler handler, FaultTable* faults,
             HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// A TLS server context with the emulator's certificate that asks clients for a certificate but leaves the
// verdict to attestation (the chain is checked against enrollments, not against a fixed trust store).
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const std::string& certificate_chain_file,
                                                                  const std::string& key_file);

// Closes with a TCP reset, as a service that is down (or a load balancer in front of it) drops a connection.
void reset_connection(boost::asio::ip::tcp::socket& socket);

// The client certificate chain of a TLS connection (leaf first, DER).
std::vector<Bytes> peer_chain(void* native_ssl);

}  // namespace edgeprov::emulator
