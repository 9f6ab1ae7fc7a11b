#include <catch2/catch_test_macros.hpp>

#include "dps/tls.h"
#include "dps/transport.h"

#include <filesystem>

using namespace edgeprov::dps;

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
