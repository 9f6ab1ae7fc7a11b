// ctl/outcome.h — what the service's answers mean for edgeprovctl's exit code (ctl/exit_codes.h,
// docs/ipc-api.md). Pure: answers in, decisions out; no I/O, so every mapping is unit-tested.
#pragma once
#include <nlohmann/json.hpp>

#include "ipc/jsonrpc.h"

namespace edgeprov::ctl {

// An error answer: unauthorized 5; the TPM (tpm_unavailable, or a provisioning attempt whose error kind
// is "tpm") 7; not_provisioned 3; anything else, a failed provisioning attempt included, 1.
int rpc_error_exit_code(const ipc::RpcError& error);

// What one `status` answer means to `wait`.
enum class WaitVerdict {
  provisioned,  // done: exit 0
  failed,       // terminal, needs an operator: exit 3 at once
  pending,      // starting, provisioning, retrying, …: ask again
};
WaitVerdict wait_verdict(const nlohmann::json& status);

// `status`: 0 when provisioned, 3 otherwise.
int status_exit_code(const nlohmann::json& status);

}  // namespace edgeprov::ctl
