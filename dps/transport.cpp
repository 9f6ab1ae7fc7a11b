#include "dps/transport.h"

#include <charconv>

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

std::string to_string(const Endpoint& endpoint) {
  if (endpoint.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", endpoint.host, endpoint.port);
  return fmt::format("{}:{}", endpoint.host, endpoint.port);
}

std::string redact_userinfo(std::string_view url) {
  const auto scheme = url.find("://");
  const auto start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const auto authority_end = url.find_first_of("/?#", start);
  const auto at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  return std::string(url.substr(0, start)) + std::string(url.substr(at + 1));
}

std::variant<Endpoint, TransportError> parse_endpoint(std::string_view url, unsigned short default_port) {
  const auto bad = [&](std::string_view why) {
    return TransportError{TransportErrorKind::configuration,
                          fmt::format("the DPS endpoint \"{}\" is not usable: {}; write it as "
                                      "https://host[:port]/ in [provisioning] global_endpoint",
                                      redact_userinfo(url), why),
                          false};
  };
  std::string_view rest = url;
  if (auto scheme = rest.find("://"); scheme != std::string_view::npos) {
    const auto name = rest.substr(0, scheme);
    if (name != "https" && name != "mqtts" && name != "ssl") return bad("the scheme must be https");
    rest.remove_prefix(scheme + 3);
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.find('@') != std::string_view::npos) return bad("it must not contain a user name or password");
  Endpoint endpoint;
  endpoint.port = default_port;
  std::string_view port_text;
  bool has_port = false;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address lacks its closing ']'");
    endpoint.host = std::string(rest.substr(1, close - 1));
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return bad("unexpected text after the IPv6 address");
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    const auto colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      rest = rest.substr(0, colon);
      has_port = true;
    }
    endpoint.host = std::string(rest);
  }
  if (endpoint.host.empty()) return bad("the host name is missing");
  if (has_port) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return bad("the port is not a number between 1 and 65535");
    }
    endpoint.port = static_cast<unsigned short>(value);
  }
  return endpoint;
}

}  // namespace edgeprov::dps
