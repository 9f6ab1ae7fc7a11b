#include "dps/https_transport.h"

#include <atomic>
#include <deque>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>

namespace edgeprov::dps {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

std::string describe(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) return fmt::format("{} s", timeout.count() / 1000);
  return fmt::format("{} ms", timeout.count());
}

// Errors that mean "the server had already closed this idle keep-alive connection".
bool is_stale_connection(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == asio::error::not_connected || ec == ssl::error::stream_truncated;
}

}  // namespace

class HttpsTransport::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor executor, HttpsSettings settings, std::shared_ptr<ssl::context> context)
      : strand_(asio::make_strand(std::move(executor))),
        settings_(std::move(settings)),
        context_(std::move(context)),
        resolver_(strand_),
        resolve_timer_(strand_) {}

  void request(HttpRequest request, HttpHandler handler) {
    asio::post(strand_, [self = shared_from_this(), request = std::move(request),
                         handler = std::move(handler)]() mutable {
      self->queue_.push_back(Pending{std::move(request), std::move(handler)});
      if (!self->busy_) self->start_next();
    });
  }

  void close() {
    asio::post(strand_, [self = shared_from_this()] {
      auto queued = std::move(self->queue_);
      self->queue_.clear();
      for (auto& pending : queued) {
        self->post_result(std::move(pending.handler), self->closed_error("the transport was closed"));
      }
      if (self->busy_) self->aborted_ = true;
      self->resolver_.cancel();
      self->resolve_timer_.cancel();
      self->close_stream();
    });
  }

  std::size_t connections_opened() const { return connections_opened_.load(); }

 private:
  struct Pending {
    HttpRequest request;
    HttpHandler handler;
  };
  using Stream = beast::ssl_stream<beast::tcp_stream>;

  const Endpoint& hop() const { return settings_.proxy ? settings_.proxy->server : settings_.server; }

  std::string via() const { return settings_.proxy ? fmt::format(" through the proxy {}", settings_.proxy->display) : ""; }

  void start_next() {
    if (queue_.empty()) {
      busy_ = false;
      return;
    }
    busy_ = true;
    aborted_ = false;
    retried_ = false;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    build_request(current_.request);
    begin_exchange();
  }

  void begin_exchange() {
    if (stream_ && connected_) {
      reused_ = true;
      spdlog::debug("DPS HTTPS: reusing the connection to {}", to_string(settings_.server));
      write();
    } else {
      reused_ = false;
      connect();
    }
  }

  void build_request(const HttpRequest& in) {
    request_ = {};
    request_.version(11);
    request_.method(in.method == HttpMethod::put ? http::verb::put : http::verb::get);
    request_.target(in.target);
    // RFC 9110 §7.2: the port only when it is not the scheme's default; IPv6 literals in brackets.
    const auto& host = settings_.server.host;
    request_.set(http::field::host, settings_.server.port != 443       ? connect_authority(settings_.server)
                                    : host.find(':') != std::string::npos ? "[" + host + "]"
                                                                          : host);
    for (const auto& [name, value] : in.headers) request_.set(name, value);
    if (in.authorization) request_.set(http::field::authorization, in.authorization->reveal());
    request_.keep_alive(true);
    request_.body() = in.body;
    request_.prepare_payload();
  }

  // ---- connection: resolve → connect → [proxy CONNECT] → TLS handshake ----

  void connect() {
    close_stream();
    stream_.emplace(strand_, *context_);
    connected_ = false;
    resolve_timed_out_ = false;
    resolve_timer_.expires_after(settings_.timeout);
    resolve_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      self->resolve_timed_out_ = true;
      self->resolver_.cancel();
    });
    resolver_.async_resolve(hop().host, std::to_string(hop().port),
                            [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
                              self->on_resolve(ec, std::move(results));
                            });
  }

  void on_resolve(error_code ec, tcp::resolver::results_type results) {
    resolve_timer_.cancel();
    if (aborted_) return fail(closed_error("the transport was closed"));
    if (resolve_timed_out_) {
      return fail({TransportErrorKind::timeout,
                   fmt::format("resolving {} took longer than {}: check the DNS settings, or raise cloud_timeout_sec",
                               hop().host, describe(settings_.timeout)),
                   true});
    }
    if (ec) {
      const auto setting = settings_.proxy ? "the proxy host in [edgeprov.dps] proxy or HTTPS_PROXY"
                                           : "the host in [provisioning] global_endpoint";
      return fail({TransportErrorKind::resolve,
                   fmt::format("cannot resolve {} ({}): check {} and the DNS settings", hop().host, ec.message(),
                               setting),
                   true, ec});
    }
    beast::get_lowest_layer(*stream_).expires_after(settings_.timeout);
    beast::get_lowest_layer(*stream_).async_connect(
        results, [self = shared_from_this()](error_code ec, const tcp::endpoint&) { self->on_connect(ec); });
  }

  void on_connect(error_code ec) {
    if (aborted_) return fail(closed_error("the transport was closed"));
    if (ec == beast::error::timeout) {
      return fail({TransportErrorKind::timeout,
                   fmt::format("connecting to {} took longer than {}: check the network and firewall, or raise "
                               "cloud_timeout_sec",
                               what_hop(), describe(settings_.timeout)),
                   true});
    }
    if (ec) {
      return fail({TransportErrorKind::connect,
                   fmt::format("cannot connect to {} ({}): check that it is running and reachable from this device",
                               what_hop(), ec.message()),
                   true, ec});
    }
    if (settings_.proxy) return proxy_connect();
    handshake();
  }

  std::string what_hop() const {
    if (settings_.proxy) return fmt::format("the proxy {}", settings_.proxy->display);
    return fmt::format("DPS at {}", to_string(settings_.server));
  }

  void proxy_connect() {
    const auto authority = connect_authority(settings_.server);
    proxy_request_ = {};
    proxy_request_.version(11);
    proxy_request_.method(http::verb::connect);
    proxy_request_.target(authority);
    proxy_request_.set(http::field::host, authority);
    if (settings_.proxy->authorization) {
      proxy_request_.set(http::field::proxy_authorization, settings_.proxy->authorization->reveal());
    }
    beast::get_lowest_layer(*stream_).expires_after(settings_.timeout);
    http::async_write(stream_->next_layer(), proxy_request_,
                      [self = shared_from_this()](error_code ec, std::size_t) { self->on_proxy_write(ec); });
  }

  void on_proxy_write(error_code ec) {
    proxy_request_ = {};  // drop the credentials from memory as soon as they are sent
    if (aborted_) return fail(closed_error("the transport was closed"));
    if (ec) return fail(proxy_error(ec));
    proxy_parser_.emplace();
    proxy_parser_->skip(true);  // a 2xx answer to CONNECT has no body: the tunnel follows
    proxy_buffer_.clear();
    beast::get_lowest_layer(*stream_).expires_after(settings_.timeout);
    http::async_read(stream_->next_layer(), proxy_buffer_, *proxy_parser_,
                     [self = shared_from_this()](error_code ec, std::size_t) { self->on_proxy_read(ec); });
  }

  TransportError proxy_error(error_code ec) const {
    if (ec == beast::error::timeout) {
      return {TransportErrorKind::timeout,
              fmt::format("the proxy {} did not open the tunnel to {} within {}: check the proxy, or raise "
                          "cloud_timeout_sec",
                          settings_.proxy->display, to_string(settings_.server), describe(settings_.timeout)),
              true};
    }
    return {TransportErrorKind::proxy,
            fmt::format("the proxy {} broke the CONNECT tunnel to {} ({}): check the proxy and its logs",
                        settings_.proxy->display, to_string(settings_.server), ec.message()),
            true, ec};
  }

  void on_proxy_read(error_code ec) {
    if (aborted_) return fail(closed_error("the transport was closed"));
    if (ec) return fail(proxy_error(ec));
    const auto& response = proxy_parser_->get();
    const int status = static_cast<int>(response.result_int());
    if (status == 407) {
      return fail({TransportErrorKind::proxy,
                   fmt::format("the proxy {} asks for credentials (HTTP 407) for the tunnel to {}: put the right user "
                               "and password into the proxy URL ([edgeprov.dps] proxy or HTTPS_PROXY)",
                               settings_.proxy->display, to_string(settings_.server)),
                   false});
    }
    if (status / 100 != 2) {
      return fail({TransportErrorKind::proxy,
                   fmt::format("the proxy {} refused the tunnel to {} (HTTP {} {}): check that the proxy allows "
                               "CONNECT to this host and port",
                               settings_.proxy->display, to_string(settings_.server), status,
                               std::string(response.reason())),
                   true});
    }
    if (proxy_buffer_.size() != 0) {
      return fail({TransportErrorKind::proxy,
                   fmt::format("the proxy {} sent data before the TLS handshake with {}: it is not a plain "
                               "CONNECT proxy",
                               settings_.proxy->display, to_string(settings_.server)),
                   true});
    }
    handshake();
  }

  void handshake() {
    if (!verify_host(stream_->native_handle(), settings_.server.host)) {
      return fail({TransportErrorKind::configuration,
                   fmt::format("\"{}\" cannot be used as a TLS server name: fix the host in [provisioning] "
                               "global_endpoint",
                               settings_.server.host),
                   false});
    }
    beast::get_lowest_layer(*stream_).expires_after(settings_.timeout);
    stream_->async_handshake(ssl::stream_base::client,
                             [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(error_code ec) {
    if (aborted_) return fail(closed_error("the transport was closed"));
    if (ec == beast::error::timeout) {
      return fail({TransportErrorKind::timeout,
                   fmt::format("the TLS handshake with {}{} took longer than {}: check the network, or raise "
                               "cloud_timeout_sec",
                               to_string(settings_.server), via(), describe(settings_.timeout)),
                   true});
    }
    if (ec) {
      const long verify = SSL_get_verify_result(stream_->native_handle());
      if (verify != X509_V_OK) {
        const bool mismatch = verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
        return fail(certificate_error(settings_.server, X509_verify_cert_error_string(verify), mismatch, settings_.tls));
      }
      return fail(tls_error(ec, "during the TLS handshake"));
    }
    connected_ = true;
    ++connections_opened_;
    spdlog::debug("DPS HTTPS: connected to {}{}", to_string(settings_.server), via());
    write();
  }

  TransportError tls_error(error_code ec, std::string_view step) const {
    std::string advice = "check that the server speaks TLS 1.2 or newer on this port";
    if (ec.message().find("certificate") != std::string::npos && !settings_.tls.client_cert) {
      advice = "the server may require a client certificate: use X.509 attestation with identity_cert and identity_pk";
    } else if (ec.message().find("certificate") != std::string::npos) {
      advice = "the server did not accept the client certificate: check that DPS knows the certificate in identity_cert";
    }
    return {TransportErrorKind::tls_handshake,
            fmt::format("TLS with {}{} failed {} ({}): {}", to_string(settings_.server), via(), step, ec.message(),
                        advice),
            true, ec};
  }

  // ---- one exchange: write the request, read the response ----

  void write() {
    beast::get_lowest_layer(*stream_).expires_after(settings_.timeout);
    http::async_write(*stream_, request_,
                      [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(error_code ec) {
    if (aborted_) return fail(closed_error("the transport was closed"));
    if (ec) {
      if (reused_ && !retried_ && is_stale_connection(ec)) return retry_on_new_connection(ec);
      return fail(exchange_error(ec, "sending the request"));
    }
    parser_.emplace();
    parser_->body_limit(settings_.reply_limit);
    buffer_.clear();
    beast::get_lowest_layer(*stream_).expires_after(settings_.timeout);
    http::async_read(*stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (aborted_) return fail(closed_error("the transport was closed"));
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      return fail({TransportErrorKind::too_large,
                   fmt::format("the reply from {} is larger than {} bytes, which no DPS reply is: check that "
                               "[provisioning] global_endpoint names a DPS server",
                               to_string(settings_.server), settings_.reply_limit),
                   true});
    }
    if (ec) {
      if (reused_ && !retried_ && !parser_->got_some() && is_stale_connection(ec)) {
        return retry_on_new_connection(ec);
      }
      return fail(exchange_error(ec, "reading the reply"));
    }
    auto message = parser_->release();
    HttpResponse response;
    response.status = static_cast<int>(message.result_int());
    response.retry_after = std::string(message[http::field::retry_after]);
    response.content_type = std::string(message[http::field::content_type]);
    response.body = std::move(message.body());
    if (!message.keep_alive()) close_stream();
    request_ = {};
    post_result(std::move(current_.handler), std::move(response));
    start_next();
  }

  // The server closed the idle connection between two requests: reconnect once and send again. DPS
  // requests (PUT register, GET status) are idempotent, so a second send is safe.
  void retry_on_new_connection(error_code ec) {
    spdlog::debug("DPS HTTPS: {} closed the idle connection ({}); reconnecting", to_string(settings_.server),
                  ec.message());
    retried_ = true;
    reused_ = false;
    connected_ = false;
    connect();
  }

  TransportError exchange_error(error_code ec, std::string_view step) const {
    if (ec == beast::error::timeout) {
      return {TransportErrorKind::timeout,
              fmt::format("DPS at {} did not complete {} within {}: the server is slow or the network drops "
                          "packets; edgeprov retries later (cloud_timeout_sec sets the limit)",
                          to_string(settings_.server), step, describe(settings_.timeout)),
              true};
    }
    if (ec.category() == asio::error::get_ssl_category()) return tls_error(ec, step);
    if (is_stale_connection(ec)) {
      return closed_error(fmt::format("DPS at {} closed the connection while {} ({})", to_string(settings_.server),
                                      step, ec.message()));
    }
    return {TransportErrorKind::protocol,
            fmt::format("DPS at {} answered something that is not HTTP while {} ({}): check that [provisioning] "
                        "global_endpoint names a DPS server",
                        to_string(settings_.server), step, ec.message()),
            true, ec};
  }

  TransportError closed_error(std::string what) const {
    return {TransportErrorKind::closed, what + "; edgeprov reconnects on the next attempt", true};
  }

  void fail(TransportError error) {
    close_stream();
    request_ = {};
    post_result(std::move(current_.handler), std::move(error));
    start_next();
  }

  void post_result(HttpHandler handler, HttpResult result) {
    if (!handler) return;
    asio::post(strand_, [handler = std::move(handler), result = std::move(result)]() mutable {
      handler(std::move(result));
    });
  }

  // Closes the socket but keeps the stream object: an operation still pending on it completes with an
  // error instead of touching a destroyed stream. The next connect() replaces it.
  void close_stream() {
    connected_ = false;
    if (stream_) {
      error_code ignored;
      beast::get_lowest_layer(*stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(*stream_).socket().close(ignored);
    }
  }

  asio::strand<asio::any_io_executor> strand_;
  HttpsSettings settings_;
  std::shared_ptr<ssl::context> context_;
  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  std::optional<Stream> stream_;
  bool connected_ = false;
  bool busy_ = false;
  bool reused_ = false;
  bool retried_ = false;
  bool aborted_ = false;
  bool resolve_timed_out_ = false;
  std::deque<Pending> queue_;
  Pending current_;
  http::request<http::string_body> request_;
  http::request<http::empty_body> proxy_request_;
  std::optional<http::response_parser<http::empty_body>> proxy_parser_;
  beast::flat_buffer proxy_buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  beast::flat_buffer buffer_;
  std::atomic<std::size_t> connections_opened_{0};
};

std::variant<std::shared_ptr<HttpsTransport>, TransportError> HttpsTransport::create(
    boost::asio::any_io_executor executor, HttpsSettings settings) {
  auto context = make_client_context(settings.tls);
  if (auto* error = std::get_if<TransportError>(&context)) return *error;
  auto impl = std::make_shared<Impl>(std::move(executor), std::move(settings),
                                     std::get<std::shared_ptr<ssl::context>>(std::move(context)));
  return std::shared_ptr<HttpsTransport>(new HttpsTransport(std::move(impl)));
}

HttpsTransport::HttpsTransport(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsTransport::~HttpsTransport() { impl_->close(); }

void HttpsTransport::async_request(HttpRequest request, HttpHandler handler) {
  impl_->request(std::move(request), std::move(handler));
}

void HttpsTransport::close() { impl_->close(); }

std::size_t HttpsTransport::connections_opened() const { return impl_->connections_opened(); }

}  // namespace edgeprov::dps
