// dps/endpoint.h — where DPS and an HTTP proxy are: the one place URLs are read (with Boost.URL), for the
// configuration's checks and for the transports alike. Pure: no name resolution, no sockets. A proxy's
// credentials live only in a Secret and never in a message or a display string.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/secret.h"
#include "dps/vocabulary.h"

namespace edgeprov::dps {

// Where a server listens. `host` is a DNS name or an IP address (IPv6 without brackets).
struct Endpoint {
  std::string host;
  unsigned short port = default_https_port;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};
std::string to_string(const Endpoint& endpoint);  // "host:port", "[::1]:port"

// `[provisioning] global_endpoint`: "https://host[:port][/]", as aziot writes it. Plain http, a user
// name or password, a path, a query or a fragment are refused: DPS is spoken only over TLS, at the root.
std::variant<Endpoint, Problem> parse_global_endpoint(std::string_view url);

// The DPS endpoint a transport connects to: the global endpoint's host with its HTTPS port, or with
// `mqtt_port` for MQTT (the URL's port is the HTTPS one).
std::variant<Endpoint, Problem> dps_server(std::string_view global_endpoint, Transport transport,
                                           unsigned short mqtt_port);

struct ProxyUrl {
  Endpoint server;                      // the proxy itself
  std::optional<Secret> authorization;  // "Basic base64(user:password)" from the URL's userinfo
  std::string display;                  // "http://host:port", safe to log and to put in messages
};

// "http://[user[:password]@]host[:port][/]" (port 80 by default; %-escapes in the user name and password
// are decoded), or a bare "host:port" as HTTPS_PROXY often holds. A TLS connection to the proxy itself
// (https://) is not supported and said so.
std::variant<ProxyUrl, Problem> parse_proxy_url(std::string_view url);

// The URL without "user:password@", for messages and logs (also when the URL does not parse).
std::string redact_userinfo(std::string_view url);

}  // namespace edgeprov::dps
