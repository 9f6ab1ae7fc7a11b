#include "emulator/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "emulator/faults.h"

namespace edgeprov::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct HttpServer::State {
  State(asio::io_context& io, const tcp::endpoint& endpoint) : acceptor(io, endpoint) {}
  tcp::acceptor acceptor;
  std::shared_ptr<asio::ssl::context> tls;
  HttpHandler handler;
  FaultTable* faults = nullptr;
  HttpServerOptions options;
  bool stopped = false;
};

namespace {

Bytes der_of(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  i2d_X509(cert, &out);
  return der;
}

http::response<http::string_body> plain_error(unsigned status, const std::string& message) {
  http::response<http::string_body> response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "application/json; charset=utf-8");
  response.body() = R"({"errorCode":)" + std::to_string(status) + R"(000,"message":")" + message + R"("})";
  response.keep_alive(false);
  response.prepare_payload();
  return response;
}

template <class Stream>
asio::awaitable<void> serve(std::shared_ptr<HttpServer::State> state, Stream& stream, std::vector<Bytes> chain) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(state->options.body_limit);
    parser.header_limit(16 * 1024);
    beast::get_lowest_layer(stream).expires_after(state->options.idle_timeout);
    auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (read_error) {
      if (read_error == http::error::body_limit) {
        auto response = plain_error(413, "the request body is larger than " + std::to_string(state->options.body_limit) + " bytes");
        co_await http::async_write(stream, response, use_tuple);
      } else if (read_error.category() == beast::error_code(http::error::bad_target).category() && read_error != http::error::end_of_stream &&
                 read_error != http::error::partial_message) {
        auto response = plain_error(400, "the request is not valid HTTP/1.1");
        co_await http::async_write(stream, response, use_tuple);
      }
      co_return;
    }
    HttpRequest request{parser.release(), chain};
    bool keep_alive = request.message.keep_alive();
    HttpAction action = state->handler(request);
    while (action.kind == HttpAction::Kind::later) action = co_await action.later();  // bounded by its own deadline
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30) + action.stall);
    switch (action.kind) {
      case HttpAction::Kind::respond: {
        action.response.keep_alive(keep_alive);
        action.response.prepare_payload();
        auto [write_error, written] = co_await http::async_write(stream, action.response, use_tuple);
        if (write_error || !keep_alive) co_return;
        break;
      }
      case HttpAction::Kind::close_mid_body: {
        const std::string& body = action.response.body();
        std::string raw = "HTTP/1.1 " + std::to_string(action.response.result_int()) + " " +
                          std::string(action.response.reason()) +
                          "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, body.size() / 2);
        co_await asio::async_write(stream, asio::buffer(raw), use_tuple);
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both);
        beast::get_lowest_layer(stream).close();
        co_return;
      }
      case HttpAction::Kind::drop:
      case HttpAction::Kind::later:
        reset_connection(beast::get_lowest_layer(stream).socket());
        co_return;
      case HttpAction::Kind::stall: {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(action.stall);
        co_await timer.async_wait(use_tuple);
        beast::get_lowest_layer(stream).close();
        co_return;
      }
    }
  }
}

asio::awaitable<void> session(std::shared_ptr<HttpServer::State> state, tcp::socket socket) {
  if (state->options.drop_connection && state->options.drop_connection()) {
    reset_connection(socket);
    co_return;
  }
  if (!state->tls) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(state, stream, {});
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  if (state->faults && state->faults->take(FaultPoint::handshake, Transport::https, "")) {
    // A fatal TLS alert record: handshake_failure (40), as a server refusing the handshake sends it.
    static constexpr unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
    co_await asio::async_write(socket, asio::buffer(alert), use_tuple);
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    co_return;
  }
  TlsStream stream(std::move(socket), *state->tls);
  beast::get_lowest_layer(stream).expires_after(state->options.handshake_timeout);
  auto [handshake_error] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (handshake_error) co_return;
  co_await serve(state, stream, peer_chain(stream.native_handle()));
  if (beast::get_lowest_layer(stream).socket().is_open()) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(use_tuple);
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<HttpServer::State> state) {
  for (;;) {
    auto [error, socket] = co_await state->acceptor.async_accept(use_tuple);
    if (state->stopped || error == asio::error::operation_aborted) co_return;
    if (error) continue;
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(state->acceptor.get_executor(), session(state, std::move(socket)), asio::detached);
  }
}

}  // namespace

void reset_connection(tcp::socket& socket) {
  beast::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

std::vector<Bytes> peer_chain(void* native_ssl) {
  SSL* ssl = static_cast<SSL*>(native_ssl);
  std::vector<Bytes> chain;
  if (X509* peer = SSL_get1_peer_certificate(ssl)) {
    chain.push_back(der_of(peer));
    X509_free(peer);
    if (STACK_OF(X509)* rest = SSL_get_peer_cert_chain(ssl)) {  // server side: the leaf is not in it
      for (int i = 0; i < sk_X509_num(rest); ++i) chain.push_back(der_of(sk_X509_value(rest, i)));
    }
  }
  return chain;
}

std::shared_ptr<asio::ssl::context> make_server_tls_context(const std::string& certificate_chain_file, const std::string& key_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                   asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  ctx->use_certificate_chain_file(certificate_chain_file);
  ctx->use_private_key_file(key_file, asio::ssl::context::pem);
  // Ask for a client certificate (X.509 attestation) without requiring one, and accept any chain here:
  // attestation verifies it against the enrollment's certificate or the group's CA.
  ctx->set_verify_mode(asio::ssl::verify_peer);
  ctx->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
  static const unsigned char session_id_context[] = "dps-emulator";
  SSL_CTX_set_session_id_context(ctx->native_handle(), session_id_context, sizeof session_id_context - 1);
  return ctx;
}

HttpServer::HttpServer(asio::io_context& io, const tcp::endpoint& endpoint, std::shared_ptr<asio::ssl::context> tls,
                       HttpHandler handler, FaultTable* faults, HttpServerOptions options)
    : state_(std::make_shared<State>(io, endpoint)) {
  state_->tls = std::move(tls);
  state_->handler = std::move(handler);
  state_->faults = faults;
  state_->options = std::move(options);
  asio::co_spawn(io, accept_loop(state_), asio::detached);
}

HttpServer::~HttpServer() { stop(); }

tcp::endpoint HttpServer::local_endpoint() const { return state_->acceptor.local_endpoint(); }

void HttpServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  beast::error_code ignored;
  state_->acceptor.close(ignored);
}

}  // namespace edgeprov::emulator
