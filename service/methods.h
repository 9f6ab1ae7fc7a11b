// service/methods.h — the RPC methods edgeprovd answers (docs/edgeprovd.md): `status` and `version` for
// any local user, `logs` for admins. Handlers read snapshots only: they never wait on the TPM or the network.
#pragma once
#include <chrono>

#include "ipc/dispatcher.h"
#include "service/logging.h"
#include "service/status.h"

namespace edgeprov::service {

struct MethodContext {
  const StatusBoard& status;
  const Logging& logging;
  std::chrono::steady_clock::time_point started;  // for uptimeSeconds
};

// The `status` result now.
nlohmann::json status_json(const MethodContext& context);

// The context must outlive the dispatcher.
void register_methods(ipc::Dispatcher& dispatcher, const MethodContext& context);

}  // namespace edgeprov::service
