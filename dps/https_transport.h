// dps/https_transport.h — moves DPS HTTP requests over one reused TLS connection (Boost.Beast), on the
// caller's io_context, optionally through an HTTP CONNECT proxy. Every step has a timeout; the server
// certificate and host name are always verified. It never interprets a DPS reply and never logs the
// Authorization value or proxy credentials.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/secret.h"
#include "dps/proxy.h"
#include "dps/tls.h"
#include "dps/transport.h"

namespace edgeprov::dps {

struct HttpsSettings {
  Endpoint server;                      // dps_server(global_endpoint, Transport::https, …)
  TlsSettings tls;
  std::optional<ProxyUrl> proxy;        // select_proxy(...); std::nullopt = direct
  std::chrono::milliseconds timeout{std::chrono::seconds(70)};  // cloud_timeout_sec, for each step
  std::size_t reply_limit = default_reply_limit;                // largest accepted reply body
};

enum class HttpMethod { get, put };

struct HttpRequest {
  HttpMethod method = HttpMethod::get;
  std::string target;                                        // "/{scope}/registrations/…?api-version=…"
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host, Content-Length, Authorization
  std::string body;
  std::optional<Secret> authorization;                       // the SAS token; never logged
};

struct HttpResponse {
  int status = 0;
  std::string retry_after;   // the Retry-After header as sent ("" when absent)
  std::string content_type;
  std::string body;
};

using HttpResult = std::variant<HttpResponse, TransportError>;
using HttpHandler = std::function<void(HttpResult)>;

class HttpsTransport {
 public:
  // Builds the TLS context (reads the CA, certificate and key files); reports unusable files as a
  // `configuration` error. Completion handlers run on `executor`, never inside async_request.
  static std::variant<std::shared_ptr<HttpsTransport>, TransportError> create(boost::asio::any_io_executor executor,
                                                                               HttpsSettings settings);
  ~HttpsTransport();
  HttpsTransport(const HttpsTransport&) = delete;
  HttpsTransport& operator=(const HttpsTransport&) = delete;

  // Sends one request and reads its response. Requests are served one after the other on one
  // connection, opened on first use and reopened transparently if the server closed it while idle.
  void async_request(HttpRequest request, HttpHandler handler);

  // Closes the connection; requests in flight complete with a `closed` error. Later requests reconnect.
  void close();

  // Connections opened so far (for tests and diagnostics: reuse keeps this at 1).
  std::size_t connections_opened() const;

  class Impl;

 private:
  explicit HttpsTransport(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgeprov::dps
