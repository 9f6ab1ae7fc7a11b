#include "ctl/outcome.h"

#include <string>

#include "ctl/exit_codes.h"
#include "dps/error.h"

namespace edgeprov::ctl {

namespace {

std::string state_of(const nlohmann::json& status) {
  if (!status.is_object()) return {};
  const auto it = status.find("state");
  return it != status.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// data.error.kind of a provisioning_failed answer; std::nullopt when absent or not a kind this client knows.
std::optional<dps::ErrorKind> failed_attempt_kind(const nlohmann::json& data) {
  if (!data.is_object() || !data.contains("error") || !data["error"].is_object()) return std::nullopt;
  const auto& error = data["error"];
  const auto it = error.find("kind");
  if (it == error.end() || !it->is_string()) return std::nullopt;
  return dps::parse_error_kind(it->get<std::string>());
}

}  // namespace

int rpc_error_exit_code(const ipc::RpcError& error) {
  switch (error.code) {
    case ipc::errc::unauthorized:
      return exit_code::unauthorized;
    case ipc::errc::tpm_unavailable:
      return exit_code::tpm_error;
    case ipc::errc::not_provisioned:
      return exit_code::not_provisioned;
    case ipc::errc::provisioning_failed:
      return failed_attempt_kind(error.data) == dps::ErrorKind::tpm ? exit_code::tpm_error : exit_code::failure;
    default:
      return exit_code::failure;
  }
}

WaitVerdict wait_verdict(const nlohmann::json& status) {
  const std::string state = state_of(status);
  if (state == "provisioned") return WaitVerdict::provisioned;
  if (state == "failed") return WaitVerdict::failed;
  return WaitVerdict::pending;
}

int status_exit_code(const nlohmann::json& status) {
  return state_of(status) == "provisioned" ? exit_code::ok : exit_code::not_provisioned;
}

}  // namespace edgeprov::ctl
