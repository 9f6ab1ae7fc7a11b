#include "dps/proxy.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "common/encoding.h"

namespace edgeprov::dps {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

std::optional<std::string> first_set(const EnvLookup& env, const char* a, const char* b) {
  if (auto value = env(a); value && !trim(*value).empty()) return std::string(trim(*value));
  if (auto value = env(b); value && !trim(*value).empty()) return std::string(trim(*value));
  return std::nullopt;
}

}  // namespace

std::variant<ProxyUrl, TransportError> parse_proxy_url(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return TransportError{TransportErrorKind::configuration,
                          fmt::format("the proxy URL \"{}\" is not usable: {}; write it as "
                                      "http://[user:password@]host:port",
                                      redact_userinfo(url), why),
                          false};
  };
  std::string_view rest = trim(url);
  if (const auto scheme = rest.find("://"); scheme != std::string_view::npos) {
    const auto name = lower(rest.substr(0, scheme));
    if (name == "https") return bad("a TLS connection to the proxy itself (https://) is not supported");
    if (name != "http") return bad("only http:// proxies (HTTP CONNECT) are supported");
    rest.remove_prefix(scheme + 3);
  }
  const auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto tail = rest.substr(authority.size()); !tail.empty() && tail != "/") {
    return bad("a proxy URL has no path");
  }
  ProxyUrl proxy;
  std::string_view hostport = authority;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    hostport = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = url_decode(userinfo.substr(0, colon));
    auto password = url_decode(colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1));
    if (!user || !password) return bad("the user name or password has a broken %-escape");
    if (user->empty()) return bad("the user name before '@' is empty");
    const std::string credentials = *user + ":" + *password;
    proxy.authorization = Secret("Basic " + base64_encode(as_bytes(credentials)));
  }
  auto endpoint = parse_endpoint(hostport, 80);
  if (std::holds_alternative<TransportError>(endpoint)) return bad("the host or port is missing or invalid");
  proxy.server = std::get<Endpoint>(std::move(endpoint));
  proxy.display = "http://" + to_string(proxy.server);
  return proxy;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host) {
  const std::string name = lower(host);
  std::string_view list = no_proxy;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string entry = lower(trim(list.substr(0, comma)));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (entry.starts_with("*.")) entry.erase(0, 1);
    // "host:port" entries: the port is not part of the decision here (one DPS host per transport).
    if (const auto colon = entry.rfind(':'); colon != std::string::npos && entry.find(':') == colon) {
      entry.erase(colon);
    }
    if (entry.starts_with('.')) entry.erase(0, 1);
    if (name == entry) return true;
    if (name.size() > entry.size() && name.ends_with(entry) && name[name.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

EnvLookup process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    if (const char* value = std::getenv(name)) return std::string(value);
    return std::nullopt;
  };
}

std::variant<std::optional<ProxyUrl>, TransportError> select_proxy(const std::optional<std::string>& configured,
                                                                   std::string_view host, const EnvLookup& env) {
  std::string source = "[edgeprov.dps] proxy";
  std::optional<std::string> url = configured;
  if (!url || trim(*url).empty()) {
    url = first_set(env, "HTTPS_PROXY", "https_proxy");
    if (!url) return std::optional<ProxyUrl>{};
    const auto upper = env("HTTPS_PROXY");
    source = upper && !trim(*upper).empty() ? "the HTTPS_PROXY environment variable"
                                            : "the https_proxy environment variable";
    if (const auto no_proxy = first_set(env, "NO_PROXY", "no_proxy"); no_proxy && no_proxy_matches(*no_proxy, host)) {
      return std::optional<ProxyUrl>{};
    }
  }
  auto parsed = parse_proxy_url(*url);
  if (auto* error = std::get_if<TransportError>(&parsed)) {
    error->message += fmt::format(" (from {})", source);
    return *error;
  }
  return std::optional<ProxyUrl>(std::get<ProxyUrl>(std::move(parsed)));
}

std::string connect_authority(const Endpoint& target) { return to_string(target); }

}  // namespace edgeprov::dps
