#include "dps/proxy.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>


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
  auto parsed = parse_proxy_url(trim(*url));
  if (auto* problem = std::get_if<Problem>(&parsed)) {
    return TransportError{TransportErrorKind::configuration,
                          fmt::format("{} (from {}): {}", problem->problem, source, problem->fix), false};
  }
  return std::optional<ProxyUrl>(std::get<ProxyUrl>(std::move(parsed)));
}

std::string connect_authority(const Endpoint& target) { return to_string(target); }

}  // namespace edgeprov::dps
