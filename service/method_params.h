// service/method_params.h — the params of edgeprovd's RPC methods, read from JSON into values before any
// handler acts on them (docs/ipc-api.md). Pure: no service state, no I/O. Each parser throws
// ipc::RpcError{invalid_params} whose message names the method, the parameter and what is accepted.
// (`logs` has its own, parse_logs_params in service/logging.h, beside the log it reads.)
#pragma once
#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "dps/sas.h"

namespace edgeprov::service {

inline constexpr std::size_t max_sign_bytes = 16 * 1024;  // identity.sign: decoded data
inline constexpr std::chrono::seconds min_sas_lifetime{60};
inline constexpr std::chrono::seconds max_sas_lifetime{24 * 3600};

// params absent, null or an object holding only `allowed` keys (none: an empty list). Returns the object
// (an empty one when absent).
const nlohmann::json& checked_params(std::string_view method, const nlohmann::json& params,
                                     std::initializer_list<std::string_view> allowed);

// reprovision: {"wait": bool}, default true.
struct ReprovisionParams {
  bool wait = true;
};
ReprovisionParams parse_reprovision_params(const nlohmann::json& params);

// identity.sasToken: {"lifetimeSeconds": min_sas_lifetime…max_sas_lifetime}, default dps::hub_sas_lifetime.
struct SasTokenParams {
  std::chrono::seconds lifetime = dps::hub_sas_lifetime;
};
SasTokenParams parse_sas_token_params(const nlohmann::json& params);

// identity.sign: {"data": padded standard base64 of at most max_sign_bytes}.
struct SignParams {
  Bytes data;
};
SignParams parse_sign_params(const nlohmann::json& params);

}  // namespace edgeprov::service
