#include <catch2/catch_test_macros.hpp>

#include <nlohmann/json.hpp>

#include "ctl/exit_codes.h"
#include "ctl/outcome.h"

using namespace edgeprov;
using namespace edgeprov::ctl;
using nlohmann::json;

namespace {

ipc::RpcError failed_attempt(const std::string& kind, const std::string& state) {
  return ipc::RpcError{ipc::errc::provisioning_failed, "the attempt failed",
                       json{{"state", state},
                            {"error", {{"kind", kind}, {"httpStatus", nullptr}, {"code", nullptr}, {"message", "m"}}},
                            {"nextAttemptAt", nullptr}}};
}

}  // namespace

TEST_CASE("an unauthorized answer exits 5") {
  CHECK(rpc_error_exit_code({ipc::errc::unauthorized, "for administrators only", nullptr}) == 5);
}

TEST_CASE("a failed provisioning attempt exits 1, or 7 when the TPM failed it") {
  CHECK(rpc_error_exit_code(failed_attempt("dps", "failed")) == 1);
  CHECK(rpc_error_exit_code(failed_attempt("network", "retrying")) == 1);
  CHECK(rpc_error_exit_code(failed_attempt("config", "failed")) == 1);
  CHECK(rpc_error_exit_code(failed_attempt("tpm", "retrying")) == 7);
  CHECK(rpc_error_exit_code(failed_attempt("tpm", "failed")) == exit_code::tpm_error);
}

TEST_CASE("a failed provisioning attempt without usable data exits 1") {
  CHECK(rpc_error_exit_code({ipc::errc::provisioning_failed, "failed", nullptr}) == 1);
  CHECK(rpc_error_exit_code({ipc::errc::provisioning_failed, "failed", json{{"error", "tpm"}}}) == 1);
  CHECK(rpc_error_exit_code({ipc::errc::provisioning_failed, "failed", json{{"error", {{"kind", 7}}}}}) == 1);
}

TEST_CASE("an unusable TPM exits 7, no assignment yet exits 3, other errors exit 1") {
  CHECK(rpc_error_exit_code({ipc::errc::tpm_unavailable, "no TPM", nullptr}) == 7);
  CHECK(rpc_error_exit_code({ipc::errc::not_provisioned, "not yet", nullptr}) == 3);
  CHECK(rpc_error_exit_code({ipc::errc::not_supported, "x509", nullptr}) == 1);
  CHECK(rpc_error_exit_code({ipc::errc::method_not_found, "no such method", nullptr}) == 1);
  CHECK(rpc_error_exit_code({ipc::errc::invalid_params, "bad", nullptr}) == 1);
}

TEST_CASE("wait is done once provisioned, stops at failed and waits through every other state") {
  CHECK(wait_verdict(json{{"state", "provisioned"}}) == WaitVerdict::provisioned);
  CHECK(wait_verdict(json{{"state", "failed"}}) == WaitVerdict::failed);
  for (const char* state : {"starting", "unprovisioned", "provisioning", "retrying", "some-future-state"})
    CHECK(wait_verdict(json{{"state", state}}) == WaitVerdict::pending);
  CHECK(wait_verdict(json::object()) == WaitVerdict::pending);
  CHECK(wait_verdict(json{{"state", 3}}) == WaitVerdict::pending);
  CHECK(wait_verdict(json("provisioned")) == WaitVerdict::pending);
}

TEST_CASE("status exits 0 only when provisioned") {
  CHECK(status_exit_code(json{{"state", "provisioned"}}) == 0);
  CHECK(status_exit_code(json{{"state", "retrying"}}) == 3);
  CHECK(status_exit_code(json{{"state", "failed"}}) == 3);
  CHECK(status_exit_code(json::object()) == 3);
}
