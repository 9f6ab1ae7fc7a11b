// dps/proxy.h — which HTTP proxy carries the DPS connection (explicit [edgeprov.dps] proxy, else
// HTTPS_PROXY / https_proxy unless NO_PROXY names the host) and the CONNECT request that opens the
// tunnel. Pure: no sockets. The proxy URL itself is read by dps/endpoint.h.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/secret.h"
#include "dps/transport.h"

namespace edgeprov::dps {

// True when a NO_PROXY list ("a.example, .b.example, 10.0.0.1, *") names `host`: an exact match, or a
// domain suffix at a dot boundary (".b.example" and "b.example" both cover "x.b.example").
bool no_proxy_matches(std::string_view no_proxy, std::string_view host);

// Reads an environment variable; returns std::nullopt when unset. Injected so tests need no setenv.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
EnvLookup process_environment();

// The proxy for a connection to `host`: `configured` when set (an explicit setting always applies),
// else HTTPS_PROXY (or https_proxy) unless NO_PROXY (or no_proxy) names `host`; std::nullopt = direct.
// An unparsable URL is a configuration error that names where it came from, without its userinfo.
std::variant<std::optional<ProxyUrl>, TransportError> select_proxy(const std::optional<std::string>& configured,
                                                                   std::string_view host,
                                                                   const EnvLookup& env);

// "host:port" as a CONNECT request target and Host header ("[::1]:443" for IPv6).
std::string connect_authority(const Endpoint& target);

}  // namespace edgeprov::dps
