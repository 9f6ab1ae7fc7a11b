#include "service/method_params.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "common/encoding.h"
#include "ipc/jsonrpc.h"

namespace edgeprov::service {

using nlohmann::json;

namespace {

[[noreturn]] void invalid_params(std::string_view method, const std::string& problem) {
  throw ipc::RpcError{ipc::errc::invalid_params, fmt::format("invalid params for '{}': {}", method, problem), nullptr};
}

}  // namespace

const json& checked_params(std::string_view method, const json& params, std::initializer_list<std::string_view> allowed) {
  static const json empty = json::object();
  if (params.is_null()) return empty;
  if (!params.is_object()) invalid_params(method, "params must be an object");
  for (const auto& [key, value] : params.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string names;
      for (auto name : allowed) names += (names.empty() ? "" : ", ") + std::string(name);
      invalid_params(method, fmt::format("unknown parameter \"{}\" (accepted: {})", key,
                                         names.empty() ? std::string("none") : names));
    }
  }
  return params;
}

ReprovisionParams parse_reprovision_params(const json& params) {
  const json& object = checked_params("reprovision", params, {"wait"});
  ReprovisionParams parsed;
  if (auto it = object.find("wait"); it != object.end()) {
    if (!it->is_boolean()) invalid_params("reprovision", "\"wait\" must be true or false");
    parsed.wait = it->get<bool>();
  }
  return parsed;
}

SasTokenParams parse_sas_token_params(const json& params) {
  const json& object = checked_params("identity.sasToken", params, {"lifetimeSeconds"});
  SasTokenParams parsed;
  if (auto it = object.find("lifetimeSeconds"); it != object.end()) {
    // is_number_integer() holds for signed and unsigned values; read both through their own type so an
    // unsigned value above INT64_MAX is out of range rather than wrapped to a negative one.
    const bool in_range =
        (it->is_number_unsigned() && it->get<std::uint64_t>() >= static_cast<std::uint64_t>(min_sas_lifetime.count()) &&
         it->get<std::uint64_t>() <= static_cast<std::uint64_t>(max_sas_lifetime.count())) ||
        (it->is_number_integer() && !it->is_number_unsigned() && it->get<std::int64_t>() >= min_sas_lifetime.count() &&
         it->get<std::int64_t>() <= max_sas_lifetime.count());
    if (!in_range)
      invalid_params("identity.sasToken", fmt::format("\"lifetimeSeconds\" must be an integer from {} to {}",
                                                      min_sas_lifetime.count(), max_sas_lifetime.count()));
    parsed.lifetime = std::chrono::seconds(it->get<std::int64_t>());
  }
  return parsed;
}

SignParams parse_sign_params(const json& params) {
  const json& object = checked_params("identity.sign", params, {"data"});
  auto it = object.find("data");
  if (it == object.end() || !it->is_string())
    invalid_params("identity.sign", "\"data\" must be the bytes to sign, in base64");
  const auto& text = it->get_ref<const std::string&>();
  auto decoded = base64_decode(text);
  if (!decoded) invalid_params("identity.sign", "\"data\" is not padded standard base64");
  if (decoded->size() > max_sign_bytes)
    invalid_params("identity.sign", fmt::format("\"data\" holds {} bytes; at most {} can be signed", decoded->size(),
                                                max_sign_bytes));
  return SignParams{std::move(*decoded)};
}

}  // namespace edgeprov::service
