#include <chrono>
#include <cstdlib>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch_test_macros.hpp>

#include "common/encoding.h"
#include "dps/https_transport.h"
#include "tests/integration/dps_transport/test_pki.h"
#include "tests/integration/dps_transport/test_servers.h"
#include "tests/integration/dps_transport/transport_test_util.h"
#include "tests/support/process.h"

using namespace edgeprov;
using namespace edgeprov::dps;
using namespace edgeprov::test;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  TempDir dir;
  TestPki pki = make_test_pki(dir.path());
  boost::asio::io_context io;

  HttpsSettings settings(unsigned short port, std::string host = "127.0.0.1") const {
    HttpsSettings s;
    s.server = Endpoint{std::move(host), port};
    s.tls.trusted_ca = pki.ca;
    s.timeout = 10s;
    return s;
  }

  std::shared_ptr<HttpsTransport> transport(HttpsSettings s) {
    auto created = HttpsTransport::create(io.get_executor(), std::move(s));
    if (auto* error = std::get_if<TransportError>(&created)) FAIL(error->message);
    return std::get<std::shared_ptr<HttpsTransport>>(created);
  }

  HttpResult send(HttpsTransport& transport, HttpRequest request) {
    std::optional<HttpResult> result;
    transport.async_request(std::move(request), [&](HttpResult r) { result = std::move(r); });
    return run_until(io, result);
  }
};

HttpRequest register_put(std::string token = "SharedAccessSignature sr=x&sig=y&se=1&skn=registration") {
  HttpRequest request;
  request.method = HttpMethod::put;
  request.target = "/0ne00ABC123/registrations/device-001/register?api-version=2021-06-01";
  request.headers = {{"Content-Type", "application/json; charset=utf-8"}, {"Accept", "application/json"}};
  request.body = R"({"registrationId":"device-001"})";
  request.authorization = Secret(std::move(token));
  return request;
}

HttpRequest status_get(int n) {
  HttpRequest request;
  request.target = "/0ne00ABC123/registrations/device-001/operations/op-" + std::to_string(n) + "?api-version=2021-06-01";
  return request;
}

HttpResponse response(const HttpResult& result) {
  if (const auto* error = std::get_if<TransportError>(&result)) FAIL(error->message);
  return std::get<HttpResponse>(result);
}

TransportError error(const HttpResult& result) {
  REQUIRE(std::holds_alternative<TransportError>(result));
  return std::get<TransportError>(result);
}

ServerReply assigning(const SeenRequest&) {
  return ServerReply{202,
                     {{"Content-Type", "application/json; charset=utf-8"}, {"Retry-After", "3"}},
                     R"({"operationId":"op-1","status":"assigning"})"};
}

}  // namespace

TEST_CASE("a register PUT and two polls share one TLS connection") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .reply = assigning});
  auto transport = f.transport(f.settings(server.port()));

  const auto first = response(f.send(*transport, register_put()));
  CHECK(first.status == 202);
  CHECK(first.retry_after == "3");
  CHECK(first.content_type == "application/json; charset=utf-8");
  CHECK(first.body == R"({"operationId":"op-1","status":"assigning"})");
  CHECK(response(f.send(*transport, status_get(1))).status == 202);
  CHECK(response(f.send(*transport, status_get(2))).status == 202);

  CHECK(server.handshakes() == 1);
  CHECK(transport->connections_opened() == 1);
  const auto seen = server.requests();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].method == "PUT");
  CHECK(seen[0].target == "/0ne00ABC123/registrations/device-001/register?api-version=2021-06-01");
  CHECK(seen[0].body == R"({"registrationId":"device-001"})");
  CHECK(seen[0].headers.at("authorization") == "SharedAccessSignature sr=x&sig=y&se=1&skn=registration");
  CHECK(seen[0].headers.at("content-type") == "application/json; charset=utf-8");
  CHECK(seen[0].headers.at("content-length") == "31");
  CHECK(seen[0].headers.at("host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(seen[1].method == "GET");
  CHECK(seen[2].target == "/0ne00ABC123/registrations/device-001/operations/op-2?api-version=2021-06-01");
  CHECK_FALSE(seen[1].headers.contains("authorization"));
}

TEST_CASE("requests queued at once are sent one after the other on the same connection") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .reply = assigning});
  auto transport = f.transport(f.settings(server.port()));
  std::vector<int> statuses;
  std::optional<bool> done;
  for (int i = 0; i < 3; ++i) {
    transport->async_request(status_get(i), [&](HttpResult r) {
      statuses.push_back(response(r).status);
      if (statuses.size() == 3) done = true;
    });
  }
  run_until(f.io, done);
  CHECK(statuses == std::vector<int>{202, 202, 202});
  CHECK(server.handshakes() == 1);
}

TEST_CASE("the server closing an idle connection leads to a transparent reconnect") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .close_after_responses = 1, .reply = assigning});
  auto transport = f.transport(f.settings(server.port()));
  CHECK(response(f.send(*transport, register_put())).status == 202);
  REQUIRE(server.wait_for_closes(1, 10s));  // the server closed the idle connection, as between two polls
  CHECK(response(f.send(*transport, status_get(1))).status == 202);
  CHECK(response(f.send(*transport, status_get(2))).status == 202);
  CHECK(server.handshakes() == 3);
  CHECK(server.requests().size() == 3);  // each request reached the server exactly once
}

TEST_CASE("a host name in the endpoint is verified against the certificate's DNS names") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .reply = assigning});
  auto transport = f.transport(f.settings(server.port(), "localhost"));
  CHECK(response(f.send(*transport, status_get(1))).status == 202);
  CHECK(server.requests().at(0).headers.at("host") == "localhost:" + std::to_string(server.port()));
}

TEST_CASE("a server certificate from an untrusted CA fails verification permanently and the message says what to set") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.untrusted_server, .reply = assigning});
  auto transport = f.transport(f.settings(server.port()));
  const auto result = f.send(*transport, register_put());
  const auto& e = error(result);
  CHECK(e.kind == TransportErrorKind::certificate_verification);
  CHECK_FALSE(e.transient);
  CHECK(e.message.find("127.0.0.1:" + std::to_string(server.port())) != std::string::npos);
  CHECK(e.message.find("set [edgeprov.dps] trusted_ca") != std::string::npos);
  CHECK(e.message.find("unable to get local issuer certificate") != std::string::npos);
  CHECK(server.requests().empty());
}

TEST_CASE("without trusted_ca the system store is used and it does not trust the test CA") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .reply = assigning});
  auto settings = f.settings(server.port());
  settings.tls.trusted_ca.reset();
  auto transport = f.transport(settings);
  const auto& e = error(f.send(*transport, register_put()));
  CHECK(e.kind == TransportErrorKind::certificate_verification);
  CHECK(e.message.find("system trust store") != std::string::npos);
}

TEST_CASE("a certificate issued for another host name fails verification") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.wrong_name, .reply = assigning});
  for (const auto* host : {"127.0.0.1", "localhost"}) {
    auto transport = f.transport(f.settings(server.port(), host));
    const auto& e = error(f.send(*transport, register_put()));
    CHECK(e.kind == TransportErrorKind::certificate_verification);
    CHECK_FALSE(e.transient);
    CHECK(e.message.find("not issued for \"" + std::string(host) + "\"") != std::string::npos);
  }
  CHECK(server.requests().empty());
}

TEST_CASE("a server that requires a client certificate accepts the configured one and refuses none") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .client_ca = f.pki.ca, .reply = assigning});

  auto with_cert = f.settings(server.port());
  with_cert.tls.client_cert = f.pki.client.cert;
  with_cert.tls.client_key = f.pki.client.key;
  auto authenticated = f.transport(with_cert);
  CHECK(response(f.send(*authenticated, register_put())).status == 202);

  auto anonymous = f.transport(f.settings(server.port()));
  const auto& e = error(f.send(*anonymous, register_put()));
  CHECK(e.kind == TransportErrorKind::tls_handshake);
  CHECK(e.message.find("client certificate") != std::string::npos);
  CHECK(server.requests().size() == 1);
}

TEST_CASE("a client key that does not match the certificate is a configuration error at creation") {
  Fixture f;
  auto settings = f.settings(1);
  settings.tls.client_cert = f.pki.client.cert;
  settings.tls.client_key = f.pki.server.key;
  auto created = HttpsTransport::create(f.io.get_executor(), settings);
  REQUIRE(std::holds_alternative<TransportError>(created));
  CHECK(std::get<TransportError>(created).kind == TransportErrorKind::configuration);
  CHECK(std::get<TransportError>(created).message.find("does not belong") != std::string::npos);
}

TEST_CASE("a server that stalls after the request is abandoned after the configured timeout") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .stall = true});
  auto settings = f.settings(server.port());
  settings.timeout = 500ms;
  auto transport = f.transport(settings);
  const auto start = std::chrono::steady_clock::now();
  const auto& e = error(f.send(*transport, register_put()));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(e.kind == TransportErrorKind::timeout);
  CHECK(e.transient);
  CHECK(e.message.find("500 ms") != std::string::npos);
  CHECK(elapsed >= 450ms);
  CHECK(elapsed < 10s);
}

TEST_CASE("a listener that accepts TCP but never speaks TLS times out in the handshake") {
  Fixture f;
  boost::asio::io_context silent_io;
  boost::asio::ip::tcp::acceptor silent(silent_io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto settings = f.settings(silent.local_endpoint().port());
  settings.timeout = 300ms;
  auto transport = f.transport(settings);
  const auto& e = error(f.send(*transport, register_put()));
  CHECK(e.kind == TransportErrorKind::timeout);
  CHECK(e.message.find("TLS handshake") != std::string::npos);
}

TEST_CASE("a reply larger than the limit is rejected as too large") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server,
                          .reply = [](const SeenRequest&) { return ServerReply{200, {}, std::string(4096, 'x')}; }});
  auto settings = f.settings(server.port());
  settings.reply_limit = 1024;
  auto transport = f.transport(settings);
  const auto& e = error(f.send(*transport, register_put()));
  CHECK(e.kind == TransportErrorKind::too_large);
  CHECK(e.message.find("1024") != std::string::npos);
}

TEST_CASE("a refused connection is a transient connect error naming host and port") {
  Fixture f;
  const auto port = free_loopback_port();
  auto transport = f.transport(f.settings(port));
  const auto& e = error(f.send(*transport, register_put()));
  CHECK(e.kind == TransportErrorKind::connect);
  CHECK(e.transient);
  CHECK(e.message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("an unresolvable host is a resolve error") {
  Fixture f;
  auto transport = f.transport(f.settings(443, "no-such-host.invalid"));
  const auto& e = error(f.send(*transport, register_put()));
  CHECK(e.kind == TransportErrorKind::resolve);
  CHECK(e.message.find("no-such-host.invalid") != std::string::npos);
}

TEST_CASE("a CONNECT proxy with Basic credentials carries the connection and the credentials stay secret") {
  Fixture f;
  LogCapture logs;
  TestHttpsServer server({.identity = f.pki.server, .reply = assigning});
  TestConnectProxy proxy("alice", "pr0xy-s3cret");
  auto selected = select_proxy("http://alice:pr0xy-s3cret@127.0.0.1:" + std::to_string(proxy.port()), "127.0.0.1",
                               process_environment());
  REQUIRE(std::holds_alternative<std::optional<ProxyUrl>>(selected));
  auto settings = f.settings(server.port());
  settings.proxy = std::get<std::optional<ProxyUrl>>(selected);
  auto transport = f.transport(settings);

  CHECK(response(f.send(*transport, register_put())).status == 202);
  CHECK(response(f.send(*transport, status_get(1))).status == 202);
  CHECK(proxy.tunnels() == 1);
  CHECK(proxy.targets() == std::vector<std::string>{"127.0.0.1:" + std::to_string(server.port())});
  CHECK(server.handshakes() == 1);
  // The proxy sees only the tunnel: the server still sees the DPS Host header.
  CHECK(server.requests().at(0).headers.at("host") == "127.0.0.1:" + std::to_string(server.port()));

  const auto text = logs.text();
  CHECK(text.find("pr0xy-s3cret") == std::string::npos);
  CHECK(text.find(base64_encode(as_bytes("alice:pr0xy-s3cret"))) == std::string::npos);
  CHECK(text.find("SharedAccessSignature") == std::string::npos);
}

TEST_CASE("a proxy refusing the credentials is a permanent proxy error without the password") {
  Fixture f;
  LogCapture logs;
  TestHttpsServer server({.identity = f.pki.server, .reply = assigning});
  TestConnectProxy proxy("alice", "right-password");
  auto parsed = parse_proxy_url("http://alice:wr0ng-password@127.0.0.1:" + std::to_string(proxy.port()));
  REQUIRE(std::holds_alternative<ProxyUrl>(parsed));
  auto settings = f.settings(server.port());
  settings.proxy = std::get<ProxyUrl>(parsed);
  auto transport = f.transport(settings);
  const auto& e = error(f.send(*transport, register_put()));
  CHECK(e.kind == TransportErrorKind::proxy);
  CHECK_FALSE(e.transient);
  CHECK(e.message.find("407") != std::string::npos);
  CHECK(e.message.find("http://127.0.0.1:" + std::to_string(proxy.port())) != std::string::npos);
  CHECK(e.message.find("wr0ng-password") == std::string::npos);
  CHECK(e.message.find("alice") == std::string::npos);
  CHECK(logs.text().find("wr0ng-password") == std::string::npos);
  CHECK(proxy.refusals() == 1);
  CHECK(server.handshakes() == 0);
}

TEST_CASE("close() ends the connection and the next request opens a new one") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .reply = assigning});
  auto transport = f.transport(f.settings(server.port()));
  CHECK(response(f.send(*transport, register_put())).status == 202);
  transport->close();
  CHECK(response(f.send(*transport, status_get(1))).status == 202);
  CHECK(server.handshakes() == 2);
}

TEST_CASE("HTTPS_PROXY from the environment carries the connection unless NO_PROXY names the DPS host") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .reply = assigning});
  TestConnectProxy proxy("bob", "env-s3cret");
  setenv("HTTPS_PROXY", ("http://bob:env-s3cret@127.0.0.1:" + std::to_string(proxy.port())).c_str(), 1);
  unsetenv("https_proxy");
  unsetenv("NO_PROXY");
  unsetenv("no_proxy");

  auto through = select_proxy(std::nullopt, "127.0.0.1", process_environment());
  REQUIRE(std::holds_alternative<std::optional<ProxyUrl>>(through));
  auto settings = f.settings(server.port());
  settings.proxy = std::get<std::optional<ProxyUrl>>(through);
  REQUIRE(settings.proxy.has_value());
  auto proxied = f.transport(settings);
  CHECK(response(f.send(*proxied, register_put())).status == 202);
  CHECK(proxy.tunnels() == 1);

  setenv("NO_PROXY", "localhost,127.0.0.1", 1);
  auto bypass = select_proxy(std::nullopt, "127.0.0.1", process_environment());
  unsetenv("HTTPS_PROXY");
  unsetenv("NO_PROXY");
  REQUIRE(std::holds_alternative<std::optional<ProxyUrl>>(bypass));
  CHECK_FALSE(std::get<std::optional<ProxyUrl>>(bypass).has_value());
  auto direct = f.transport(f.settings(server.port()));
  CHECK(response(f.send(*direct, register_put())).status == 202);
  CHECK(proxy.tunnels() == 1);
  CHECK(server.handshakes() == 2);
}

TEST_CASE("close() during a request completes it as closed instead of waiting for the timeout") {
  Fixture f;
  TestHttpsServer server({.identity = f.pki.server, .stall = true});
  auto transport = f.transport(f.settings(server.port()));  // 10 s step timeout
  std::optional<HttpResult> result;
  transport->async_request(register_put(), [&](HttpResult r) { result = std::move(r); });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server.requests().empty() && std::chrono::steady_clock::now() < deadline) f.io.run_one_for(20ms);
  REQUIRE(server.requests().size() == 1);
  const auto start = std::chrono::steady_clock::now();
  transport->close();
  const auto e = error(run_until(f.io, result));
  CHECK(e.kind == TransportErrorKind::closed);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}
