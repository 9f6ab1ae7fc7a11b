#include <map>

#include <catch2/catch_test_macros.hpp>

#include "common/encoding.h"
#include "dps/proxy.h"

using namespace edgeprov;
using namespace edgeprov::dps;

namespace {
EnvLookup env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const char* name) -> std::optional<std::string> {
    if (auto found = values.find(name); found != values.end()) return found->second;
    return std::nullopt;
  };
}

std::optional<ProxyUrl> selected(const std::optional<std::string>& configured, std::string_view host,
                                 const EnvLookup& lookup) {
  auto result = select_proxy(configured, host, lookup);
  REQUIRE(std::holds_alternative<std::optional<ProxyUrl>>(result));
  return std::get<std::optional<ProxyUrl>>(std::move(result));
}
}  // namespace

TEST_CASE("NO_PROXY matches exact hosts, domain suffixes at a dot and the wildcard") {
  CHECK(no_proxy_matches("localhost,127.0.0.1", "127.0.0.1"));
  CHECK(no_proxy_matches("example.com", "dps.example.com"));
  CHECK(no_proxy_matches(" .example.com ", "dps.example.com"));
  CHECK(no_proxy_matches("*.example.com", "dps.example.com"));
  CHECK(no_proxy_matches("EXAMPLE.com", "dps.Example.COM"));
  CHECK(no_proxy_matches("*", "anything"));
  CHECK(no_proxy_matches("example.com:443", "example.com"));
  CHECK_FALSE(no_proxy_matches("example.com", "badexample.com"));
  CHECK_FALSE(no_proxy_matches("dps.example.com", "example.com"));
  CHECK_FALSE(no_proxy_matches("", "example.com"));
}

TEST_CASE("an explicit proxy setting applies even when NO_PROXY names the host") {
  const auto proxy = selected("http://proxy:3128", "dps.example.com",
                              env({{"NO_PROXY", "example.com"}, {"HTTPS_PROXY", "http://other:1"}}));
  REQUIRE(proxy.has_value());
  CHECK(proxy->server.host == "proxy");
}

TEST_CASE("HTTPS_PROXY is used unless NO_PROXY names the DPS host") {
  CHECK(selected(std::nullopt, "global.azure-devices-provisioning.net",
                 env({{"HTTPS_PROXY", "http://proxy:3128"}}))->server.port == 3128);
  CHECK(selected(std::nullopt, "global.azure-devices-provisioning.net",
                 env({{"https_proxy", "http://lower:8080"}}))->server.host == "lower");
  CHECK_FALSE(selected(std::nullopt, "global.azure-devices-provisioning.net",
                       env({{"HTTPS_PROXY", "http://proxy:3128"}, {"no_proxy", "azure-devices-provisioning.net"}}))
                  .has_value());
  CHECK_FALSE(selected(std::nullopt, "dps", env({})).has_value());
}

TEST_CASE("a broken HTTPS_PROXY is a configuration error that names the variable, not the password") {
  auto result = select_proxy(std::nullopt, "dps", env({{"HTTPS_PROXY", "ftp://u:topsecret@proxy"}}));
  REQUIRE(std::holds_alternative<TransportError>(result));
  const auto& error = std::get<TransportError>(result);
  CHECK(error.message.find("HTTPS_PROXY") != std::string::npos);
  CHECK(error.message.find("topsecret") == std::string::npos);
}

TEST_CASE("the CONNECT authority brackets IPv6 addresses") {
  CHECK(connect_authority(Endpoint{"dps.example", 443}) == "dps.example:443");
  CHECK(connect_authority(Endpoint{"::1", 8443}) == "[::1]:8443");
}
