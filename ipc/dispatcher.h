// ipc/dispatcher.h — the method registry of the local API: each method declares who may call it, and
// the dispatcher enforces that before the handler runs. No sockets here: the server feeds it decoded
// requests and the peer's OS identity; tests feed it directly.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "ipc/jsonrpc.h"
#include "ipc/peer.h"

namespace edgeprov::ipc {

enum class Access {
  local_user,  // any local caller that can open the endpoint
  admin,       // root / the configured group on POSIX; SYSTEM / Administrators on Windows
  identity,    // admins, and the users and groups of [edgeprov.ipc] identity_principals (identity.*)
};

// Lets a handler push notifications to the connection a call came from (`subscribe`).
class NotificationSink {
 public:
  virtual ~NotificationSink() = default;
  // Queues `{"jsonrpc":"2.0","method":…,"params":…}` on the connection; false once it is closed.
  // Safe to call from any thread.
  virtual bool notify(std::string_view method, const nlohmann::json& params) = 0;
  // The connection now waits for notifications: it is exempt from the idle limit (it still closes on
  // server stop, on an error, or when the client goes away). Counts as one of the caller's subscriptions
  // (ipc/admission.h): when the caller holds its limit the connection is not held and the refusal
  // (-32003) is returned for the method to answer. Calling it again on a held connection changes nothing.
  virtual std::optional<RpcError> hold_open() = 0;
};

struct Call {
  std::string method;
  nlohmann::json params;
  Peer peer;
  std::weak_ptr<NotificationSink> sink;  // expired once the connection closes
};

using Outcome = std::variant<nlohmann::json, RpcError>;  // result or error
using Reply = std::function<void(Outcome)>;              // call exactly once; from any thread

using SyncMethod = std::function<nlohmann::json(const Call&)>;  // may throw RpcError
using AsyncMethod = std::function<void(Call, Reply)>;         // may throw RpcError before replying

class Dispatcher {
 public:
  void add(std::string name, Access access, SyncMethod method);
  void add_async(std::string name, Access access, AsyncMethod method);

  // Authorization, lookup, invalid params and exceptions turned into JSON-RPC errors.
  // `reply` is called exactly once (possibly later, from another thread, for async methods).
  void dispatch(Call call, Reply reply) const;

  bool has(std::string_view name) const;
  std::optional<Access> access_of(std::string_view name) const;

 private:
  struct Entry {
    Access access;
    AsyncMethod async;  // exactly one of async / sync is set
    SyncMethod sync;
  };
  std::map<std::string, Entry, std::less<>> methods_;
};

}  // namespace edgeprov::ipc
