// The params of the RPC methods as the service reads them, without a service: what is accepted, what is
// refused with -32602 and a message naming the method and the parameter; and the [edgeprov.ipc] limits'
// defaults, which the configuration and the server each hold, kept equal.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <functional>

#include "common/encoding.h"
#include "edge-config/config.h"
#include "ipc/admission.h"
#include "ipc/jsonrpc.h"
#include "ipc/server.h"
#include "service/method_params.h"

using namespace edgeprov;
using namespace edgeprov::service;
using nlohmann::json;
using Catch::Matchers::ContainsSubstring;

namespace {

std::string refusal(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const ipc::RpcError& e) {
    CHECK(e.code == ipc::errc::invalid_params);
    return e.message;
  }
  FAIL("the params were accepted");
  return {};
}

}  // namespace

TEST_CASE("reprovision takes an optional boolean wait, true by default") {
  CHECK(parse_reprovision_params(nullptr).wait);
  CHECK(parse_reprovision_params(json::object()).wait);
  CHECK_FALSE(parse_reprovision_params({{"wait", false}}).wait);
  CHECK_THAT(refusal([] { parse_reprovision_params({{"wait", "no"}}); }),
             ContainsSubstring("invalid params for 'reprovision': \"wait\" must be true or false"));
  CHECK_THAT(refusal([] { parse_reprovision_params({{"force", true}}); }),
             ContainsSubstring("unknown parameter \"force\" (accepted: wait)"));
  CHECK_THAT(refusal([] { parse_reprovision_params(json::array({true})); }), ContainsSubstring("params must be an object"));
}

TEST_CASE("identity.sasToken takes a lifetime from 60 s to a day, an hour by default") {
  CHECK(parse_sas_token_params(nullptr).lifetime == std::chrono::seconds(3600));
  CHECK(parse_sas_token_params({{"lifetimeSeconds", 60}}).lifetime == std::chrono::seconds(60));
  CHECK(parse_sas_token_params({{"lifetimeSeconds", 86400}}).lifetime == std::chrono::seconds(86400));
  for (const json& bad : {json(59), json(86401), json(-1), json(3600.5), json("3600"), json(18446744073709551615ULL)}) {
    INFO(bad.dump());
    CHECK_THAT(refusal([&] { parse_sas_token_params({{"lifetimeSeconds", bad}}); }),
               ContainsSubstring("\"lifetimeSeconds\" must be an integer from 60 to 86400"));
  }
}

TEST_CASE("identity.sign takes base64 data of at most 16 KiB") {
  CHECK(parse_sign_params({{"data", "aGVsbG8="}}).data == Bytes{'h', 'e', 'l', 'l', 'o'});
  CHECK(parse_sign_params({{"data", base64_encode(Bytes(16384, 0x5a))}}).data == Bytes(16384, 0x5a));
  CHECK_THAT(refusal([] { parse_sign_params({{"data", base64_encode(Bytes(16385, 0x5a))}}); }),
             ContainsSubstring("\"data\" holds 16385 bytes; at most 16384 can be signed"));
  CHECK_THAT(refusal([] { parse_sign_params({{"data", "aGVsbG8"}}); }), ContainsSubstring("is not padded standard base64"));
  CHECK_THAT(refusal([] { parse_sign_params(nullptr); }), ContainsSubstring("\"data\" must be the bytes to sign"));
  CHECK_THAT(refusal([] { parse_sign_params({{"data", 5}}); }), ContainsSubstring("\"data\" must be the bytes to sign"));
}

TEST_CASE("methods without params accept none, null or {} and name the method otherwise") {
  CHECK(checked_params("subscribe", nullptr, {}).empty());
  CHECK(checked_params("subscribe", json::object(), {}).empty());
  CHECK_THAT(refusal([] { checked_params("identity.get", {{"x", 1}}, {}); }),
             ContainsSubstring("invalid params for 'identity.get': unknown parameter \"x\" (accepted: none)"));
}

TEST_CASE("the [edgeprov.ipc] limits default to the server's own defaults") {
  const config::Ipc configured;
  const ipc::AdmissionLimits limits;
  CHECK(configured.max_connections == limits.max_connections);
  CHECK(configured.admin_reserved_connections == limits.admin_reserved_connections);
  CHECK(configured.max_connections_per_user == limits.max_connections_per_user);
  CHECK(configured.max_requests_per_user == limits.max_requests_per_user);
  CHECK(configured.max_subscriptions_per_user == limits.max_subscriptions_per_user);
  CHECK(configured.idle_timeout == ipc::ServerOptions{}.idle_timeout);
}
