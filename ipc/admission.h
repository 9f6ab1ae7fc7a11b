// ipc/admission.h — who may hold what on the local endpoint, decided by the caller's OS identity:
// per-caller limits on open connections, requests in flight and subscriptions for callers that are not
// administrators, and a share of the connections only administrators may use, so no user can lock them
// out (docs/ipc-api.md, "Limits"). The decisions are pure (counts in, decision out); AdmissionLedger
// keeps the counts for the server. No sockets, no I/O, never blocks on anything but its own mutex.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "ipc/jsonrpc.h"
#include "ipc/peer.h"

namespace edgeprov::ipc {

// The defaults are those of docs/ipc-api.md and docs/configuration.md ([edgeprov.ipc]).
struct AdmissionLimits {
  std::size_t max_connections = 256;            // open connections, everyone together
  std::size_t admin_reserved_connections = 32;  // of max_connections, for administrators only
  std::size_t max_connections_per_user = 32;    // each caller that is not an administrator…
  std::size_t max_requests_per_user = 32;       // …its requests whose method has not answered yet
  std::size_t max_subscriptions_per_user = 8;   // …its connections held open by `subscribe`
};

// Who a connection is charged to: the identity the OS reported when it was accepted.
struct Caller {
  std::string key;    // "uid 1000", "sid S-1-5-21-…", or "unidentified" (the OS could not say)
  std::string name;   // for messages: "alice (uid 1000)"
  bool admin = false;
  friend bool operator==(const Caller&, const Caller&) = default;
};
Caller caller_of(const Peer& peer);

enum class Limit {
  connections,             // max_connections reached (every caller)
  user_connections,        // callers that are not administrators hold all but the reserved connections
  connections_per_user,    // this caller holds max_connections_per_user
  requests_per_user,       // this caller has max_requests_per_user requests in flight
  subscriptions_per_user,  // this caller holds max_subscriptions_per_user subscriptions
};
std::string_view to_string(Limit limit);  // "connections", "user_connections", … (error data)

struct Refusal {
  Limit limit = Limit::connections;
  std::size_t value = 0;  // the limit that was reached
  std::string caller;     // Caller::name
  std::string method;     // requests_per_user: the method refused
  friend bool operator==(const Refusal&, const Refusal&) = default;
};
// -32003 (busy): a message naming the limit, its value, its [edgeprov.ipc] key and the caller, and
// data {"limit", "value", "caller"}.
RpcError to_rpc_error(const Refusal& refusal);

// What one caller holds, and what every caller together holds.
struct Usage {
  std::size_t connections = 0;
  std::size_t requests = 0;
  std::size_t subscriptions = 0;
};
struct Totals {
  std::size_t connections = 0;       // everyone's
  std::size_t user_connections = 0;  // those of callers that are not administrators
};

// The decisions: std::nullopt admits. Administrators are refused only at max_connections.
std::optional<Refusal> admit_connection(const AdmissionLimits& limits, const Totals& totals, const Usage& usage,
                                        const Caller& caller);
std::optional<Refusal> admit_request(const AdmissionLimits& limits, const Usage& usage, const Caller& caller,
                                     std::string_view method);
std::optional<Refusal> admit_subscription(const AdmissionLimits& limits, const Usage& usage, const Caller& caller);

class AdmissionLedger;

// One admitted connection, request or subscription: counted until the ticket is destroyed.
class AdmissionTicket {
 public:
  AdmissionTicket() = default;
  AdmissionTicket(AdmissionTicket&& other) noexcept;
  AdmissionTicket& operator=(AdmissionTicket&& other) noexcept;
  AdmissionTicket(const AdmissionTicket&) = delete;
  AdmissionTicket& operator=(const AdmissionTicket&) = delete;
  ~AdmissionTicket();
  explicit operator bool() const { return ledger_ != nullptr; }

 private:
  friend class AdmissionLedger;
  enum class Kind { connection, request, subscription };
  AdmissionTicket(std::shared_ptr<AdmissionLedger> ledger, Kind kind, Caller caller);
  void release();
  std::shared_ptr<AdmissionLedger> ledger_;
  Kind kind_ = Kind::connection;
  Caller caller_;
};

using Admission = std::variant<AdmissionTicket, Refusal>;

// The counts behind the decisions; thread-safe. Owned through a shared_ptr: tickets keep it alive.
class AdmissionLedger : public std::enable_shared_from_this<AdmissionLedger> {
 public:
  static std::shared_ptr<AdmissionLedger> create(AdmissionLimits limits);

  Admission open_connection(const Caller& caller);
  Admission begin_request(const Caller& caller, std::string_view method);
  Admission begin_subscription(const Caller& caller);

  Usage usage(const Caller& caller) const;
  Totals totals() const;
  const AdmissionLimits& limits() const { return limits_; }

 private:
  friend class AdmissionTicket;
  explicit AdmissionLedger(AdmissionLimits limits) : limits_(limits) {}
  void release(AdmissionTicket::Kind kind, const Caller& caller);

  const AdmissionLimits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, Usage, std::less<>> usage_;  // callers holding something; erased at zero
  Totals totals_;
};

}  // namespace edgeprov::ipc
