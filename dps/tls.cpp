#include "dps/tls.h"

#include <cstdio>
#include <fstream>

#include <boost/asio/ssl/context.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dps/trust_store.h"

namespace edgeprov::dps {
namespace {

// OpenSSL takes file names as char*: UTF-8, which it widens itself on Windows (path::c_str() is
// wchar_t there).
std::string openssl_path(const std::filesystem::path& path) {
  const std::u8string utf8 = path.u8string();
  return std::string(utf8.begin(), utf8.end());
}

// The reasons OpenSSL recorded, without numeric prefixes, joined by "; "; clears the queue.
std::string openssl_reason() {
  std::string reason;
  while (const unsigned long code = ERR_get_error()) {
    const char* text = ERR_reason_error_string(code);
    if (text == nullptr || reason.find(text) != std::string::npos) continue;
    if (!reason.empty()) reason += "; ";
    reason += text;
  }
  return reason.empty() ? std::string("unknown OpenSSL error") : reason;
}

TransportError config_error(std::string message) {
  return TransportError{TransportErrorKind::configuration, std::move(message), false};
}

std::optional<TransportError> check_readable(const std::optional<std::filesystem::path>& file,
                                             std::string_view what, std::string_view setting) {
  if (!file) return std::nullopt;
  std::ifstream in(*file, std::ios::binary);
  if (!in) {
    return config_error(fmt::format("the {} file {} cannot be read: check that it exists and that edgeprov may read "
                                    "it, or fix {}",
                                    what, file->string(), setting));
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::filesystem::path, TransportError> path_from_file_uri(std::string_view uri_or_path) {
  if (uri_or_path.empty()) return config_error("an empty file name was given where a PEM file is expected");
  constexpr std::string_view file_scheme = "file://";
  if (uri_or_path.starts_with(file_scheme)) {
    const auto rest = uri_or_path.substr(file_scheme.size());
    if (!rest.starts_with('/')) {
      return config_error(fmt::format("\"{}\" names a file on another host: write file:///absolute/path", uri_or_path));
    }
    return std::filesystem::path(std::string(rest));
  }
  if (const auto colon = uri_or_path.find("://"); colon != std::string_view::npos) {
    return config_error(fmt::format("\"{}\" is not a file: write file:///absolute/path or a plain path", uri_or_path));
  }
  return std::filesystem::path(std::string(uri_or_path));
}

std::optional<TransportError> check_tls_files(const TlsSettings& settings) {
  if (settings.client_cert.has_value() != settings.client_key.has_value()) {
    return config_error(
        "X.509 attestation needs both a client certificate and its private key: set both identity_cert and "
        "identity_pk in [provisioning.attestation]");
  }
  if (auto e = check_readable(settings.trusted_ca, "trusted CA", "[edgeprov.dps] trusted_ca")) return e;
  if (auto e = check_readable(settings.client_cert, "client certificate", "[provisioning.attestation] identity_cert"))
    return e;
  if (auto e = check_readable(settings.client_key, "client private key", "[provisioning.attestation] identity_pk"))
    return e;
  return std::nullopt;
}

std::variant<std::shared_ptr<boost::asio::ssl::context>, TransportError> make_client_context(
    const TlsSettings& settings) {
  if (auto error = check_tls_files(settings)) return *error;
  ERR_clear_error();
  auto context = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  if (settings.trusted_ca) {
    if (SSL_CTX_load_verify_locations(native, openssl_path(*settings.trusted_ca).c_str(), nullptr) != 1) {
      return config_error(fmt::format("the trusted CA file {} holds no usable PEM certificate ({}): set "
                                      "[edgeprov.dps] trusted_ca to the PEM file of the CA that signed the DPS "
                                      "server certificate",
                                      settings.trusted_ca->string(), openssl_reason()));
    }
  } else if (auto problem = load_system_trust(native)) {
    return config_error(
        fmt::format("{} could not be loaded ({}): {}", system_trust_name(), problem->cause, problem->fix));
  }
  if (settings.client_cert) {
    if (SSL_CTX_use_certificate_chain_file(native, openssl_path(*settings.client_cert).c_str()) != 1) {
      return config_error(fmt::format("the client certificate {} is not a PEM certificate ({}): fix "
                                      "[provisioning.attestation] identity_cert",
                                      settings.client_cert->string(), openssl_reason()));
    }
    if (SSL_CTX_use_PrivateKey_file(native, openssl_path(*settings.client_key).c_str(), SSL_FILETYPE_PEM) != 1) {
      // The reason text never contains key material, only what OpenSSL could not parse.
      const auto reason = openssl_reason();
      if (reason.find("key values mismatch") != std::string::npos) {
        return config_error(fmt::format("the private key {} does not belong to the certificate {}: set identity_pk "
                                        "to the key of identity_cert",
                                        settings.client_key->string(), settings.client_cert->string()));
      }
      return config_error(fmt::format("the client private key {} is not an unencrypted PEM private key ({}): fix "
                                      "[provisioning.attestation] identity_pk",
                                      settings.client_key->string(), reason));
    }
    if (SSL_CTX_check_private_key(native) != 1) {
      return config_error(fmt::format("the private key {} does not belong to the certificate {}: set identity_pk "
                                      "to the key of identity_cert",
                                      settings.client_key->string(), settings.client_cert->string()));
    }
  }
  return context;
}

bool verify_host(void* native_ssl_handle, const std::string& host) {
  SSL* ssl = static_cast<SSL*>(native_ssl_handle);
  // An IP address is checked against the iPAddress names; SNI carries only DNS names (RFC 6066 §3).
  if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1) return true;
  ERR_clear_error();
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return false;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, host.c_str()) == 1;
}

TransportError certificate_error(const Endpoint& server, std::string_view reason, bool hostname_mismatch,
                                 const TlsSettings& settings) {
  std::string message;
  if (hostname_mismatch) {
    message = fmt::format("the DPS server at {} presented a certificate that is not issued for \"{}\" ({}): use the "
                          "host name its certificate names in [provisioning] global_endpoint, or give the server a "
                          "certificate for this name",
                          to_string(server), server.host, reason);
  } else if (settings.trusted_ca) {
    message = fmt::format("the DPS server certificate of {} is not trusted ({}) by the CA in {}: set [edgeprov.dps] "
                          "trusted_ca to the CA that signed it (the emulator prints its CA path)",
                          to_string(server), reason, settings.trusted_ca->string());
  } else {
    message = fmt::format("the DPS server certificate of {} is not trusted ({}) by {}: set [edgeprov.dps] "
                          "trusted_ca to the CA that signed it (the emulator prints its CA path)",
                          to_string(server), reason, system_trust_name());
  }
  return TransportError{TransportErrorKind::certificate_verification, std::move(message), false};
}

}  // namespace edgeprov::dps
