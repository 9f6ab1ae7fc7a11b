// service/methods.h — the RPC methods edgeprovd answers (docs/edgeprovd.md): `status` and `version` for
// any local user, `logs` for admins. Handlers read snapshots only: they never wait on the TPM or the network.
#pragma once
#include <chrono>
#include <vector>
#include <mutex>
#include <memory>

#include "ipc/dispatcher.h"
#include "service/logging.h"
#include "service/status.h"

namespace edgeprov::service {

// The connections that called `subscribe`: each gets `status.changed` with the new status document.
class StatusSubscribers {
 public:
  void add(std::weak_ptr<ipc::NotificationSink> sink);
  // Sends to every open subscriber and forgets the closed ones. Safe from any thread.
  void publish(const nlohmann::json& status);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::weak_ptr<ipc::NotificationSink>> sinks_;
};

struct MethodContext {
  const StatusBoard& status;
  const Logging& logging;
  std::chrono::steady_clock::time_point started;  // for uptimeSeconds
  StatusSubscribers* subscribers = nullptr;        // `subscribe` is served when set
};

// The `status` result now.
nlohmann::json status_json(const MethodContext& context);

// The context must outlive the dispatcher.
void register_methods(ipc::Dispatcher& dispatcher, const MethodContext& context);

}  // namespace edgeprov::service
