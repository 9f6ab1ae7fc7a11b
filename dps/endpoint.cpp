#include "dps/endpoint.h"

#include <algorithm>
#include <charconv>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>
#include <fmt/format.h>

#include "common/encoding.h"

namespace edgeprov::dps {
namespace {

namespace urls = boost::urls;

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The host and port of a parsed URL, with the checks Boost.URL leaves to its caller: a DNS name of
// letters, digits, '-' and '.', and a port that is a number from 1 to 65535 (port_number() wraps).
std::variant<Endpoint, std::string> host_and_port(const urls::url_view& url, unsigned short default_port) {
  Endpoint endpoint;
  switch (url.host_type()) {
    case urls::host_type::ipv4:
    case urls::host_type::ipv6:
      endpoint.host = std::string(url.host_address());
      break;
    case urls::host_type::name: {
      const std::string name(url.encoded_host());
      if (name.empty()) return std::string("it has no host name");
      if (!std::all_of(name.begin(), name.end(), is_host_char))
        return std::string("the host name has characters other than letters, digits, '-' and '.'");
      endpoint.host = name;
      break;
    }
    default:
      return std::string("its host is not a name or an IP address");
  }
  endpoint.port = default_port;
  if (url.has_port()) {
    const std::string_view text = url.port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535)
      return std::string("its port is not a number from 1 to 65535");
    endpoint.port = static_cast<unsigned short>(value);
  }
  return endpoint;
}

bool root_only(const urls::url_view& url) {
  const auto path = url.encoded_path();
  return (path.empty() || path == "/") && !url.has_query() && !url.has_fragment();
}

}  // namespace

std::string to_string(const Endpoint& endpoint) {
  if (endpoint.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", endpoint.host, endpoint.port);
  return fmt::format("{}:{}", endpoint.host, endpoint.port);
}

std::string redact_userinfo(std::string_view url) {
  if (auto parsed = urls::parse_uri(url); parsed && parsed->has_userinfo()) {
    urls::url copy(*parsed);
    copy.remove_userinfo();
    return std::string(copy.buffer());
  }
  // Not a URL Boost.URL accepts: still never show what sits before an '@' of the authority.
  const auto scheme = url.find("://");
  const auto start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const auto authority_end = url.find_first_of("/?#", start);
  const auto at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  return std::string(url.substr(0, start)) + std::string(url.substr(at + 1));
}

std::variant<Endpoint, Problem> parse_global_endpoint(std::string_view text) {
  const std::string shown = redact_userinfo(text);
  const std::string example = fmt::format("global_endpoint = \"{}\"", default_global_endpoint);
  const std::string fix = "write the scheme and host, e.g. " + example;
  auto fail = [&](std::string why, std::string how) { return Problem{fmt::format("\"{}\" {}", shown, why), std::move(how)}; };
  if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    return fail("is not a URL (it contains a space or control character)", "write the URL without spaces, e.g. " + example);
  auto parsed = urls::parse_uri(text);
  if (!parsed || text.find("://") == std::string_view::npos)
    return fail("is not an https:// URL", "use an https:// URL, e.g. " + example);
  const urls::url_view& url = *parsed;
  const std::string scheme = lower(url.scheme());
  if (scheme == "http") return fail("uses plain http; DPS is reached over TLS only", "use an https:// URL, e.g. " + example);
  if (scheme != "https") return fail("is not an https:// URL", "use an https:// URL, e.g. " + example);
  if (!url.has_authority() || url.encoded_host().empty()) return fail("has no host name", fix);
  if (url.has_userinfo()) return fail("holds a user name or password; DPS takes none in the URL", fix);
  if (!root_only(url)) return fail("has a path, query or fragment; DPS is reached at the root", fix);
  auto endpoint = host_and_port(url, default_https_port);
  if (auto* why = std::get_if<std::string>(&endpoint)) return fail(*why, fix);
  return std::get<Endpoint>(std::move(endpoint));
}

std::variant<Endpoint, Problem> dps_server(std::string_view global_endpoint, Transport transport,
                                           unsigned short mqtt_port) {
  auto endpoint = parse_global_endpoint(global_endpoint);
  if (auto* server = std::get_if<Endpoint>(&endpoint); server && transport == Transport::mqtt) server->port = mqtt_port;
  return endpoint;
}

std::variant<ProxyUrl, Problem> parse_proxy_url(std::string_view text) {
  const std::string shown = redact_userinfo(text);
  const std::string fix = "write it as http://[user:password@]host:port, e.g. proxy = \"http://proxy.example:3128\"";
  auto fail = [&](std::string why) {
    return Problem{fmt::format("the proxy URL \"{}\" is not usable: {}", shown, why), fix};
  };
  // HTTPS_PROXY=proxy:3128 is common; read it as http://proxy:3128.
  const std::string with_scheme =
      text.find("://") == std::string_view::npos ? "http://" + std::string(text) : std::string(text);
  auto parsed = urls::parse_uri(with_scheme);
  if (!parsed) return fail("it is not a URL");
  const urls::url_view& url = *parsed;
  const std::string scheme = lower(url.scheme());
  if (scheme == "https") return fail("a TLS connection to the proxy itself (https://) is not supported");
  if (scheme != "http") return fail("only http:// proxies (HTTP CONNECT) are supported");
  if (!root_only(url)) return fail("a proxy URL has no path, query or fragment");
  auto server = host_and_port(url, 80);
  if (auto* why = std::get_if<std::string>(&server)) return fail(*why);
  ProxyUrl proxy;
  proxy.server = std::get<Endpoint>(std::move(server));
  if (url.has_userinfo()) {
    // Boost.URL decodes the %-escapes; a broken escape has already failed the parse.
    const std::string user = url.user();
    if (user.empty()) return fail("the user name before '@' is empty");
    const std::string credentials = user + ":" + std::string(url.password());
    proxy.authorization = Secret("Basic " + base64_encode(as_bytes(credentials)));
  }
  proxy.display = "http://" + to_string(proxy.server);
  return proxy;
}

}  // namespace edgeprov::dps
