// Every RPC method's params as edgeprovd reads them: the input is one request line, decoded as the
// server does; its params go to each method's parser, which must accept them or throw
// RpcError{invalid_params} (an exception of nlohmann's or any other kind is a bug the dispatcher would
// only mask), then through the real Dispatcher, by an administrator, to every method name, whose answer
// must be a result or invalid_params.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ipc/dispatcher.h"
#include "service/logging.h"
#include "service/method_params.h"
#include "tests/fuzz/fuzz_check.h"

using namespace edgeprov;
using nlohmann::json;

namespace {

ipc::Dispatcher make_dispatcher() {
  using ipc::Access;
  ipc::Dispatcher d;
  auto none = [](const ipc::Call& call) {
    service::checked_params(call.method, call.params, {});
    return json::object();
  };
  d.add("subscribe", Access::local_user, none);
  d.add("identity.get", Access::identity, none);
  d.add("logs", Access::admin, [](const ipc::Call& call) {
    const auto query = service::parse_logs_params(call.params);
    FUZZ_CHECK(query.lines >= 1 && query.lines <= service::log_ring_capacity);
    return json::object();
  });
  d.add("reprovision", Access::admin, [](const ipc::Call& call) {
    return json(service::parse_reprovision_params(call.params).wait);
  });
  d.add("identity.sasToken", Access::identity, [](const ipc::Call& call) {
    const auto lifetime = service::parse_sas_token_params(call.params).lifetime;
    FUZZ_CHECK(lifetime >= service::min_sas_lifetime && lifetime <= service::max_sas_lifetime);
    return json(lifetime.count());
  });
  d.add("identity.sign", Access::identity, [](const ipc::Call& call) {
    const auto data = service::parse_sign_params(call.params).data;
    FUZZ_CHECK(data.size() <= service::max_sign_bytes);
    return json(data.size());
  });
  return d;
}

template <typename Parse>
void parse_directly(Parse parse) {
  try {
    parse();
  } catch (const ipc::RpcError& error) {
    FUZZ_CHECK(error.code == ipc::errc::invalid_params);
    FUZZ_CHECK(!error.message.empty());
  }
}

const char* const methods[] = {"subscribe", "identity.get", "logs", "reprovision", "identity.sasToken",
                               "identity.sign"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ipc::Dispatcher dispatcher = make_dispatcher();
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto decoded = ipc::decode_request(line);
  auto* request = std::get_if<ipc::Request>(&decoded);
  if (request == nullptr) return 0;
  const json& params = request->params;
  parse_directly([&] { service::checked_params("subscribe", params, {}); });
  parse_directly([&] { service::parse_logs_params(params); });
  parse_directly([&] { service::parse_reprovision_params(params); });
  parse_directly([&] { service::parse_sas_token_params(params); });
  parse_directly([&] { service::parse_sign_params(params); });

  ipc::Peer admin;
  admin.uid = 0;
  admin.admin = true;
  for (const char* method : methods) {
    std::optional<ipc::Outcome> outcome;
    dispatcher.dispatch(ipc::Call{method, request->params, admin, {}}, [&](ipc::Outcome o) { outcome = std::move(o); });
    FUZZ_CHECK(outcome.has_value());
    if (const auto* error = std::get_if<ipc::RpcError>(&*outcome)) FUZZ_CHECK(error->code == ipc::errc::invalid_params);
  }
  return 0;
}
