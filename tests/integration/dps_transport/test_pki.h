// A throw-away PKI for the transport tests, made with the openssl command line (an independent tool):
// a CA, server certificates for 127.0.0.1/localhost, for another name, and from an unrelated CA, and a
// client certificate for X.509 attestation. Tests only.
#pragma once
#include <filesystem>
#include <string>

#include "tests/support/process.h"

namespace edgeprov::test {

struct CertKey {
  std::filesystem::path cert, key;
};

struct TestPki {
  std::filesystem::path ca;      // trusted by the client in the tests
  CertKey server;                // SAN DNS:localhost, IP:127.0.0.1, signed by `ca`
  CertKey wrong_name;            // SAN DNS:wrong.example only, signed by `ca`
  CertKey untrusted_server;      // SAN DNS:localhost, IP:127.0.0.1, signed by another CA
  CertKey client;                // CN=device-001, clientAuth, signed by `ca`
};

// Everything lands in `dir`; throws std::runtime_error with openssl's output if a step fails.
TestPki make_test_pki(const std::filesystem::path& dir);

}  // namespace edgeprov::test
