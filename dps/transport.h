// dps/transport.h — what the DPS transports (HTTPS, MQTT) share: where the server is, and the error a
// transport reports when bytes could not be moved. Transports never interpret DPS replies (dps/reply.h
// does) and never put a credential (SAS token, proxy password, key) into an error message.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

#include "dps/endpoint.h"

namespace edgeprov::dps {

enum class TransportErrorKind {
  configuration,             // a local file or setting is unusable (CA file, client key, proxy URL)
  resolve,                   // the host name did not resolve
  connect,                   // TCP connection failed (refused, unreachable)
  proxy,                     // the HTTP proxy refused or broke the CONNECT tunnel
  tls_handshake,             // TLS failed for another reason than the server certificate
  certificate_verification,  // the server certificate is not trusted or does not name the host
  timeout,                   // a step took longer than cloud_timeout_sec
  closed,                    // the server closed or dropped the connection before answering
  too_large,                 // the reply is larger than the transport accepts
  refused,                   // the MQTT server refused the CONNECT (bad credentials, unknown client)
  protocol,                  // the server answered something that is not HTTP / MQTT as expected
};
inline constexpr TransportErrorKind all_transport_error_kinds[] = {
    TransportErrorKind::configuration, TransportErrorKind::resolve,     TransportErrorKind::connect,
    TransportErrorKind::proxy,         TransportErrorKind::tls_handshake, TransportErrorKind::certificate_verification,
    TransportErrorKind::timeout,       TransportErrorKind::closed,      TransportErrorKind::too_large,
    TransportErrorKind::refused,       TransportErrorKind::protocol};
std::string_view to_string(TransportErrorKind kind);

struct TransportError {
  TransportErrorKind kind = TransportErrorKind::connect;
  std::string message;     // names host:port, the cause and the fix; never a credential
  bool transient = true;   // whether trying again later can help without changing anything locally
  std::error_code system_error = {};  // the socket, resolver, TLS or MQTT library's code, when there is one
};

// A configuration problem (dps/vocabulary.h) as the transports report it.
TransportError configuration_error(const Problem& problem);

// 1 MiB: DPS replies are a few KiB; anything near this is not DPS.
inline constexpr std::size_t default_reply_limit = 1024 * 1024;

}  // namespace edgeprov::dps
