#include "tests/integration/dps_transport/test_servers.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/encoding.h"

namespace edgeprov::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

// ---- HTTPS server ----

struct TestHttpsServer::State {
  HttpsServerOptions options;
  asio::io_context io;
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  std::atomic<int> handshakes{0};
  mutable std::mutex mutex;
  std::condition_variable closed_one;
  int closes = 0;  // connections this server closed itself
  std::vector<SeenRequest> requests;
};

namespace {

awaitable<void> https_session(TestHttpsServer::State* state, tcp::socket socket) {
  ssl::stream<tcp::socket> stream(std::move(socket), state->tls);
  try {
    co_await stream.async_handshake(ssl::stream_base::server, use_awaitable);
    ++state->handshakes;
    beast::flat_buffer buffer;
    for (int answered = 0;;) {
      http::request<http::string_body> request;
      co_await http::async_read(stream, buffer, request, use_awaitable);
      SeenRequest seen{std::string(request.method_string()), std::string(request.target()), request.body(), {}};
      for (const auto& field : request) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        seen.headers[name] = std::string(field.value());
      }
      {
        std::lock_guard lock(state->mutex);
        state->requests.push_back(seen);
      }
      if (state->options.stall) {
        asio::steady_timer forever(stream.get_executor(), std::chrono::hours(1));
        co_await forever.async_wait(use_awaitable);
        co_return;
      }
      const ServerReply reply = state->options.reply(seen);
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      for (const auto& [name, value] : reply.headers) response.set(name, value);
      response.body() = reply.body;
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      co_await http::async_write(stream, response, use_awaitable);
      if (++answered == state->options.close_after_responses || !request.keep_alive()) {
        // Close without TLS close_notify and without "Connection: close": what an idle timeout looks like.
        stream.next_layer().close();
        {
          std::lock_guard lock(state->mutex);
          ++state->closes;
        }
        state->closed_one.notify_all();
        co_return;
      }
    }
  } catch (const boost::system::system_error&) {
    // The client went away or the test ended: nothing to report from the server side.
  }
}

awaitable<void> https_accept(TestHttpsServer::State* state) {
  for (;;) {
    auto socket = co_await state->acceptor.async_accept(use_awaitable);
    asio::co_spawn(state->io, https_session(state, std::move(socket)), asio::detached);
  }
}

tcp::endpoint listen(tcp::acceptor& acceptor) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen();
  return acceptor.local_endpoint();
}

}  // namespace

TestHttpsServer::TestHttpsServer(HttpsServerOptions options) : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
  state_->tls.use_certificate_chain_file(state_->options.identity.cert.string());
  state_->tls.use_private_key_file(state_->options.identity.key.string(), ssl::context::pem);
  if (state_->options.client_ca) {
    state_->tls.load_verify_file(state_->options.client_ca->string());
    state_->tls.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  port_ = listen(state_->acceptor).port();
  asio::co_spawn(state_->io, https_accept(state_.get()), asio::detached);
  thread_ = std::thread([state = state_.get()] {
    try {
      state->io.run();
    } catch (const std::exception&) {
    }
  });
}

TestHttpsServer::~TestHttpsServer() {
  state_->io.stop();
  thread_.join();
}

int TestHttpsServer::handshakes() const { return state_->handshakes.load(); }

bool TestHttpsServer::wait_for_closes(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mutex);
  return state_->closed_one.wait_for(lock, timeout, [&] { return state_->closes >= n; });
}

std::vector<SeenRequest> TestHttpsServer::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

// ---- CONNECT proxy ----

struct TestConnectProxy::State {
  std::string expected_authorization;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<int> tunnels{0}, refusals{0};
  mutable std::mutex mutex;
  std::vector<std::string> targets;
};

namespace {

awaitable<void> pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
  std::array<char, 16384> data;
  try {
    for (;;) {
      const auto n = co_await from->async_read_some(asio::buffer(data), use_awaitable);
      co_await asio::async_write(*to, asio::buffer(data, n), use_awaitable);
    }
  } catch (const boost::system::system_error&) {
    boost::system::error_code ignored;
    from->close(ignored);
    to->close(ignored);
  }
}

awaitable<void> proxy_session(TestConnectProxy::State* state, tcp::socket socket) {
  auto client = std::make_shared<tcp::socket>(std::move(socket));
  try {
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    co_await http::async_read(*client, buffer, parser, use_awaitable);
    const auto& request = parser.get();
    if (request.method() != http::verb::connect ||
        request[http::field::proxy_authorization] != state->expected_authorization) {
      ++state->refusals;
      const std::string refusal =
          "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n"
          "Content-Length: 0\r\nConnection: close\r\n\r\n";
      co_await asio::async_write(*client, asio::buffer(refusal), use_awaitable);
      client->close();
      co_return;
    }
    const std::string target(request.target());
    {
      std::lock_guard lock(state->mutex);
      state->targets.push_back(target);
    }
    const auto colon = target.rfind(':');
    tcp::resolver resolver(state->io);
    auto upstream = std::make_shared<tcp::socket>(state->io);
    const auto results =
        co_await resolver.async_resolve(target.substr(0, colon), target.substr(colon + 1), use_awaitable);
    co_await asio::async_connect(*upstream, results, use_awaitable);
    ++state->tunnels;
    const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await asio::async_write(*client, asio::buffer(established), use_awaitable);
    asio::co_spawn(state->io, pump(client, upstream), asio::detached);
    asio::co_spawn(state->io, pump(upstream, client), asio::detached);
  } catch (const boost::system::system_error&) {
    boost::system::error_code ignored;
    client->close(ignored);
  }
}

awaitable<void> proxy_accept(TestConnectProxy::State* state) {
  for (;;) {
    auto socket = co_await state->acceptor.async_accept(use_awaitable);
    asio::co_spawn(state->io, proxy_session(state, std::move(socket)), asio::detached);
  }
}

}  // namespace

TestConnectProxy::TestConnectProxy(std::string user, std::string password) : state_(std::make_shared<State>()) {
  state_->expected_authorization = "Basic " + base64_encode(as_bytes(user + ":" + password));
  port_ = listen(state_->acceptor).port();
  asio::co_spawn(state_->io, proxy_accept(state_.get()), asio::detached);
  thread_ = std::thread([state = state_.get()] {
    try {
      state->io.run();
    } catch (const std::exception&) {
    }
  });
}

TestConnectProxy::~TestConnectProxy() {
  state_->io.stop();
  thread_.join();
}

int TestConnectProxy::tunnels() const { return state_->tunnels.load(); }
int TestConnectProxy::refusals() const { return state_->refusals.load(); }

std::vector<std::string> TestConnectProxy::targets() const {
  std::lock_guard lock(state_->mutex);
  return state_->targets;
}

}  // namespace edgeprov::test
