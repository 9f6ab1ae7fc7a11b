#include "dps/transport.h"

#include <fmt/format.h>

namespace edgeprov::dps {

std::string_view to_string(TransportErrorKind kind) {
  switch (kind) {
    case TransportErrorKind::configuration: return "configuration";
    case TransportErrorKind::resolve: return "resolve";
    case TransportErrorKind::connect: return "connect";
    case TransportErrorKind::proxy: return "proxy";
    case TransportErrorKind::tls_handshake: return "tls_handshake";
    case TransportErrorKind::certificate_verification: return "certificate_verification";
    case TransportErrorKind::timeout: return "timeout";
    case TransportErrorKind::closed: return "closed";
    case TransportErrorKind::too_large: return "too_large";
    case TransportErrorKind::refused: return "refused";
    case TransportErrorKind::protocol: return "protocol";
  }
  return "unknown";
}

TransportError configuration_error(const Problem& problem) {
  return TransportError{TransportErrorKind::configuration, problem.problem + ": " + problem.fix, false};
}

}  // namespace edgeprov::dps
