#include <catch2/catch_test_macros.hpp>

#include "dps/tls.h"
#include "dps/transport.h"

using namespace edgeprov::dps;

namespace {
Endpoint endpoint(std::string_view url, unsigned short default_port) {
  auto parsed = parse_endpoint(url, default_port);
  REQUIRE(std::holds_alternative<Endpoint>(parsed));
  return std::get<Endpoint>(parsed);
}
}  // namespace

TEST_CASE("the global endpoint URL gives the host and the default port") {
  const auto e = endpoint("https://global.azure-devices-provisioning.net/", 443);
  CHECK(e.host == "global.azure-devices-provisioning.net");
  CHECK(e.port == 443);
  CHECK(endpoint("https://global.azure-devices-provisioning.net", 8883).port == 8883);
}

TEST_CASE("a port in the endpoint URL wins over the default, for IPv4, names and IPv6") {
  CHECK(endpoint("https://127.0.0.1:8443/", 443).port == 8443);
  CHECK(endpoint("https://127.0.0.1:8443/", 443).host == "127.0.0.1");
  CHECK(endpoint("localhost:1234", 443).port == 1234);
  const auto v6 = endpoint("https://[::1]:9000/path?x", 443);
  CHECK(v6.host == "::1");
  CHECK(v6.port == 9000);
  CHECK(to_string(v6) == "[::1]:9000");
  CHECK(to_string(endpoint("https://[::1]/", 8883)) == "[::1]:8883");
}

TEST_CASE("endpoint URLs with credentials, other schemes or bad ports are configuration errors") {
  for (const auto* url : {"https://user:pw@host/", "ftp://host/", "https://host:0/", "https://host:70000/",
                          "https://host:abc/", "https://:443/", "https://[::1/"}) {
    auto parsed = parse_endpoint(url, 443);
    REQUIRE(std::holds_alternative<TransportError>(parsed));
    const auto& error = std::get<TransportError>(parsed);
    CHECK(error.kind == TransportErrorKind::configuration);
    CHECK_FALSE(error.transient);
    CHECK(error.message.find("global_endpoint") != std::string::npos);
  }
}

TEST_CASE("a user name and password in an endpoint URL never reach the error message") {
  auto parsed = parse_endpoint("https://user:hunter2@host:99999/", 443);
  REQUIRE(std::holds_alternative<TransportError>(parsed));
  // The URL itself is echoed only when it has no userinfo; with userinfo the message must not hold it.
  CHECK(std::get<TransportError>(parsed).message.find("hunter2") == std::string::npos);
}

TEST_CASE("trusted_ca accepts file:/// URIs and plain paths") {
  CHECK(std::get<std::filesystem::path>(path_from_file_uri("file:///var/lib/edgeprov/ca.pem")) ==
        "/var/lib/edgeprov/ca.pem");
  CHECK(std::get<std::filesystem::path>(path_from_file_uri("/etc/ca.pem")) == "/etc/ca.pem");
  CHECK(std::holds_alternative<TransportError>(path_from_file_uri("file://otherhost/ca.pem")));
  CHECK(std::holds_alternative<TransportError>(path_from_file_uri("https://example/ca.pem")));
  CHECK(std::holds_alternative<TransportError>(path_from_file_uri("")));
}

TEST_CASE("a missing CA file is a configuration error naming the file and the setting") {
  TlsSettings tls;
  tls.trusted_ca = "/nonexistent/edgeprov-ca.pem";
  const auto error = check_tls_files(tls);
  REQUIRE(error.has_value());
  CHECK(error->kind == TransportErrorKind::configuration);
  CHECK(error->message.find("/nonexistent/edgeprov-ca.pem") != std::string::npos);
  CHECK(error->message.find("trusted_ca") != std::string::npos);
}

TEST_CASE("a client certificate without its key is a configuration error") {
  TlsSettings tls;
  tls.client_cert = "/nonexistent/cert.pem";
  const auto error = check_tls_files(tls);
  REQUIRE(error.has_value());
  CHECK(error->message.find("identity_pk") != std::string::npos);
}
