// dps/tls.h — the TLS client settings both DPS transports use: whom to trust (a PEM CA file from
// [edgeprov.dps] trusted_ca, else the system store), the X.509 client identity, and the messages that
// tell a user why the server was not trusted. Verification can never be turned off here.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "dps/transport.h"

namespace boost::asio::ssl {
class context;
}

namespace edgeprov::dps {

struct TlsSettings {
  std::optional<std::filesystem::path> trusted_ca;   // PEM bundle; absent = the system trust store
  std::optional<std::filesystem::path> client_cert;  // PEM certificate (chain) for X.509 attestation
  std::optional<std::filesystem::path> client_key;   // PEM private key for client_cert
};

// "file:///var/lib/x.pem" → "/var/lib/x.pem"; a plain path is returned unchanged. Other schemes and
// "file://host/…" are configuration errors.
std::variant<std::filesystem::path, TransportError> path_from_file_uri(std::string_view uri_or_path);

// Checks that every configured file exists and is readable, so a typo is reported at once with the
// file and the setting to fix, instead of as a handshake failure later.
std::optional<TransportError> check_tls_files(const TlsSettings& settings);

// A TLS client context: TLS 1.2 or newer, peer verification on, trust as configured, the client
// certificate and key loaded when given. Host name checks are per connection (verify_host below).
std::variant<std::shared_ptr<boost::asio::ssl::context>, TransportError> make_client_context(
    const TlsSettings& settings);

// Turns on SNI and the host name (or IP address) check for one connection. Returns false if OpenSSL
// refused the name.
bool verify_host(void* native_ssl_handle, const std::string& host);

// The user-facing text for a rejected server certificate. `reason` is OpenSSL's verify text
// ("unable to get local issuer certificate", "hostname mismatch", …); `hostname_mismatch` selects the
// advice; `server` names what was contacted.
TransportError certificate_error(const Endpoint& server, std::string_view reason, bool hostname_mismatch,
                                 const TlsSettings& settings);

}  // namespace edgeprov::dps
