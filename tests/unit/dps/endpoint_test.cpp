// Where DPS and a proxy are: every URL edgeprov reads goes through dps/endpoint.h (Boost.URL), and a
// password in one never reaches a message.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <fmt/format.h>

#include <variant>

#include "dps/endpoint.h"

using namespace edgeprov;
using namespace edgeprov::dps;
using Catch::Matchers::ContainsSubstring;

namespace {

Endpoint endpoint_of(std::string_view text) {
  auto result = parse_global_endpoint(text);
  INFO(text);
  REQUIRE(std::holds_alternative<Endpoint>(result));
  return std::get<Endpoint>(result);
}

std::string endpoint_problem(std::string_view text) {
  auto result = parse_global_endpoint(text);
  INFO(text);
  REQUIRE(std::holds_alternative<Problem>(result));
  return std::get<Problem>(result).problem;
}

}  // namespace

TEST_CASE("the global endpoint is read as aziot writes it") {
  CHECK(endpoint_of("https://global.azure-devices-provisioning.net/") ==
        Endpoint{"global.azure-devices-provisioning.net", 443});
  CHECK(endpoint_of("https://global.azure-devices-provisioning.net") ==
        Endpoint{"global.azure-devices-provisioning.net", 443});
  CHECK(endpoint_of("HTTPS://dps.example:8443/") == Endpoint{"dps.example", 8443});
  CHECK(endpoint_of("https://127.0.0.1:8443/") == Endpoint{"127.0.0.1", 8443});
  CHECK(endpoint_of("https://[::1]:8443/") == Endpoint{"::1", 8443});
  CHECK(to_string(endpoint_of("https://[::1]:8443/")) == "[::1]:8443");
}

TEST_CASE("a global endpoint over plain http, with a path, user info or a bad port is refused with the fix") {
  CHECK_THAT(endpoint_problem("http://dps.example/"), ContainsSubstring("uses plain http"));
  CHECK_THAT(endpoint_problem("https://dps.example/some/path"), ContainsSubstring("has a path, query or fragment"));
  CHECK_THAT(endpoint_problem("https://dps.example/?x=1"), ContainsSubstring("has a path, query or fragment"));
  CHECK_THAT(endpoint_problem("https://dps.example:0/"), ContainsSubstring("port is not a number from 1 to 65535"));
  CHECK_THAT(endpoint_problem("https://dps.example:70000/"), ContainsSubstring("port is not a number"));
  CHECK_THAT(endpoint_problem("https://dps.example:/"), ContainsSubstring("port is not a number"));
  CHECK_THAT(endpoint_problem("https://"), ContainsSubstring("has no host name"));
  CHECK_THAT(endpoint_problem("https://dps_example/"), ContainsSubstring("characters other than letters"));
  CHECK_THAT(endpoint_problem("https://dps example/"), ContainsSubstring("contains a space"));
  CHECK_THAT(endpoint_problem("https://[::1/"), ContainsSubstring("is not an https:// URL"));
  CHECK_THAT(endpoint_problem("https:///path"), ContainsSubstring("has no host name"));
  CHECK_THAT(endpoint_problem("global.azure-devices-provisioning.net"), ContainsSubstring("not an https:// URL"));
  const auto fix = std::get<Problem>(parse_global_endpoint("ftp://x/")).fix;
  CHECK_THAT(fix, ContainsSubstring("https://global.azure-devices-provisioning.net/"));
}

TEST_CASE("a password in the global endpoint never reaches the message") {
  const auto problem = endpoint_problem("https://user:hunter2@dps.example/");
  CHECK_THAT(problem, ContainsSubstring("user name or password"));
  CHECK(problem.find("hunter2") == std::string::npos);
  CHECK(endpoint_problem("https://user:hunter2@dps.example:99999/").find("hunter2") == std::string::npos);
}

TEST_CASE("the DPS server of each transport: the URL's port for HTTPS, the MQTT port for MQTT") {
  CHECK(std::get<Endpoint>(dps_server("https://dps.example:8443/", Transport::https, 8883)) ==
        Endpoint{"dps.example", 8443});
  CHECK(std::get<Endpoint>(dps_server("https://dps.example:8443/", Transport::mqtt, 18883)) ==
        Endpoint{"dps.example", 18883});
  CHECK(std::holds_alternative<Problem>(dps_server("http://dps.example/", Transport::mqtt, 8883)));
}

TEST_CASE("a proxy URL with credentials gives a Basic authorization and a display form without them") {
  auto parsed = parse_proxy_url("http://alice:s%40cret@proxy.example:3128/");
  REQUIRE(std::holds_alternative<ProxyUrl>(parsed));
  const auto& proxy = std::get<ProxyUrl>(parsed);
  CHECK(proxy.server == Endpoint{"proxy.example", 3128});
  CHECK(proxy.display == "http://proxy.example:3128");
  REQUIRE(proxy.authorization.has_value());
  // printf 'alice:s@cret' | base64  →  YWxpY2U6c0BjcmV0
  CHECK(proxy.authorization->reveal() == "Basic YWxpY2U6c0BjcmV0");
  CHECK(fmt::format("{}", *proxy.authorization) == Secret::mask);
}

TEST_CASE("a proxy URL without a scheme or port uses http and port 80, as HTTPS_PROXY often holds it") {
  auto parsed = parse_proxy_url("proxy.example");
  REQUIRE(std::holds_alternative<ProxyUrl>(parsed));
  CHECK(std::get<ProxyUrl>(parsed).server == Endpoint{"proxy.example", 80});
  CHECK_FALSE(std::get<ProxyUrl>(parsed).authorization.has_value());
  CHECK(std::get<ProxyUrl>(parse_proxy_url("proxy.example:3128")).server.port == 3128);
  CHECK(std::get<ProxyUrl>(parse_proxy_url("http://[fd00::1]:3128")).server == Endpoint{"fd00::1", 3128});
}

TEST_CASE("an unusable proxy URL is reported without its user name or password") {
  for (const auto* url : {"https://bob:hunter2@proxy:3128", "socks5://bob:hunter2@proxy:1080",
                          "http://bob:hunter2@proxy:notaport", "http://bob:hunter2@proxy:3128/path",
                          "http://bob:hunter2@proxy:0", "http://:hunter2@proxy:3128"}) {
    INFO(url);
    auto parsed = parse_proxy_url(url);
    REQUIRE(std::holds_alternative<Problem>(parsed));
    const auto& problem = std::get<Problem>(parsed);
    CHECK(problem.problem.find("hunter2") == std::string::npos);
    CHECK(problem.problem.find("bob") == std::string::npos);
    CHECK_THAT(problem.problem, ContainsSubstring("proxy"));
    CHECK_THAT(problem.fix, ContainsSubstring("http://[user:password@]host:port"));
  }
  CHECK_THAT(std::get<Problem>(parse_proxy_url("https://proxy:3128")).problem, ContainsSubstring("(https://) is not supported"));
}

TEST_CASE("user information is cut from URLs shown in messages, parsable or not") {
  CHECK(redact_userinfo("http://bob:pw@proxy:3128/") == "http://proxy:3128/");
  CHECK(redact_userinfo("http://bob:pw@proxy:notaport") == "http://proxy:notaport");
  CHECK(redact_userinfo("https://dps.example/") == "https://dps.example/");
}
