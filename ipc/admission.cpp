#include "ipc/admission.h"

#include <utility>

#include <fmt/format.h>

namespace edgeprov::ipc {

Caller caller_of(const Peer& peer) {
  Caller caller;
  caller.name = describe_caller(peer);
  caller.admin = peer.admin;
  if (peer.sid) {
    caller.key = "sid " + *peer.sid;
  } else if (peer.uid) {
    caller.key = "uid " + std::to_string(*peer.uid);
  } else {
    // Callers the OS could not name share one count: none of them can exceed a single user's limits.
    caller.key = "unidentified";
  }
  return caller;
}

std::string_view to_string(Limit limit) {
  switch (limit) {
    case Limit::connections: return "connections";
    case Limit::user_connections: return "user_connections";
    case Limit::connections_per_user: return "connections_per_user";
    case Limit::requests_per_user: return "requests_per_user";
    case Limit::subscriptions_per_user: return "subscriptions_per_user";
  }
  return "connections";
}

RpcError to_rpc_error(const Refusal& refusal) {
  std::string message;
  switch (refusal.limit) {
    case Limit::connections:
      message = fmt::format("edgeprovd refused a connection from {}: it is at its limit of {} open connections "
                            "([edgeprov.ipc] max_connections); retry in a moment",
                            refusal.caller, refusal.value);
      break;
    case Limit::user_connections:
      message = fmt::format(
          "edgeprovd refused a connection from {}: callers that are not administrators hold {} connections, all "
          "those not reserved for administrators ([edgeprov.ipc] max_connections less "
          "admin_reserved_connections); retry in a moment",
          refusal.caller, refusal.value);
      break;
    case Limit::connections_per_user:
      message = fmt::format("edgeprovd refused a connection from {}: that caller already holds {} connections, the "
                            "limit per caller ([edgeprov.ipc] max_connections_per_user); close connections it "
                            "does not use",
                            refusal.caller, refusal.value);
      break;
    case Limit::requests_per_user:
      message = fmt::format("edgeprovd refused '{}' from {}: that caller already has {} requests in progress, the "
                            "limit per caller ([edgeprov.ipc] max_requests_per_user); wait for their answers",
                            refusal.method, refusal.caller, refusal.value);
      break;
    case Limit::subscriptions_per_user:
      message = fmt::format("edgeprovd refused 'subscribe' from {}: that caller already holds {} subscriptions, the "
                            "limit per caller ([edgeprov.ipc] max_subscriptions_per_user); close a subscribed "
                            "connection first",
                            refusal.caller, refusal.value);
      break;
  }
  return RpcError{errc::busy, std::move(message),
                  nlohmann::json{{"limit", to_string(refusal.limit)}, {"value", refusal.value}, {"caller", refusal.caller}}};
}

std::optional<Refusal> admit_connection(const AdmissionLimits& limits, const Totals& totals, const Usage& usage,
                                        const Caller& caller) {
  if (!caller.admin) {
    // The most specific reason first: a caller over its own share is told so, whatever the others hold.
    if (usage.connections >= limits.max_connections_per_user)
      return Refusal{Limit::connections_per_user, limits.max_connections_per_user, caller.name, {}};
    const std::size_t user_share = limits.max_connections - std::min(limits.admin_reserved_connections, limits.max_connections);
    if (totals.user_connections >= user_share) return Refusal{Limit::user_connections, user_share, caller.name, {}};
  }
  if (totals.connections >= limits.max_connections)
    return Refusal{Limit::connections, limits.max_connections, caller.name, {}};
  return std::nullopt;
}

std::optional<Refusal> admit_request(const AdmissionLimits& limits, const Usage& usage, const Caller& caller,
                                     std::string_view method) {
  if (!caller.admin && usage.requests >= limits.max_requests_per_user)
    return Refusal{Limit::requests_per_user, limits.max_requests_per_user, caller.name, std::string(method)};
  return std::nullopt;
}

std::optional<Refusal> admit_subscription(const AdmissionLimits& limits, const Usage& usage, const Caller& caller) {
  if (!caller.admin && usage.subscriptions >= limits.max_subscriptions_per_user)
    return Refusal{Limit::subscriptions_per_user, limits.max_subscriptions_per_user, caller.name, {}};
  return std::nullopt;
}

AdmissionTicket::AdmissionTicket(std::shared_ptr<AdmissionLedger> ledger, Kind kind, Caller caller)
    : ledger_(std::move(ledger)), kind_(kind), caller_(std::move(caller)) {}

AdmissionTicket::AdmissionTicket(AdmissionTicket&& other) noexcept
    : ledger_(std::move(other.ledger_)), kind_(other.kind_), caller_(std::move(other.caller_)) {
  other.ledger_.reset();
}

AdmissionTicket& AdmissionTicket::operator=(AdmissionTicket&& other) noexcept {
  if (this != &other) {
    release();
    ledger_ = std::move(other.ledger_);
    other.ledger_.reset();
    kind_ = other.kind_;
    caller_ = std::move(other.caller_);
  }
  return *this;
}

AdmissionTicket::~AdmissionTicket() { release(); }

void AdmissionTicket::release() {
  if (!ledger_) return;
  ledger_->release(kind_, caller_);
  ledger_.reset();
}

std::shared_ptr<AdmissionLedger> AdmissionLedger::create(AdmissionLimits limits) {
  return std::shared_ptr<AdmissionLedger>(new AdmissionLedger(limits));
}

Admission AdmissionLedger::open_connection(const Caller& caller) {
  std::lock_guard lock(mutex_);
  auto found = usage_.find(caller.key);
  if (auto refusal = admit_connection(limits_, totals_, found == usage_.end() ? Usage{} : found->second, caller))
    return std::move(*refusal);
  ++usage_[caller.key].connections;
  ++totals_.connections;
  if (!caller.admin) ++totals_.user_connections;
  return AdmissionTicket(shared_from_this(), AdmissionTicket::Kind::connection, caller);
}

Admission AdmissionLedger::begin_request(const Caller& caller, std::string_view method) {
  std::lock_guard lock(mutex_);
  auto found = usage_.find(caller.key);
  if (auto refusal = admit_request(limits_, found == usage_.end() ? Usage{} : found->second, caller, method))
    return std::move(*refusal);
  ++usage_[caller.key].requests;
  return AdmissionTicket(shared_from_this(), AdmissionTicket::Kind::request, caller);
}

Admission AdmissionLedger::begin_subscription(const Caller& caller) {
  std::lock_guard lock(mutex_);
  auto found = usage_.find(caller.key);
  if (auto refusal = admit_subscription(limits_, found == usage_.end() ? Usage{} : found->second, caller))
    return std::move(*refusal);
  ++usage_[caller.key].subscriptions;
  return AdmissionTicket(shared_from_this(), AdmissionTicket::Kind::subscription, caller);
}

void AdmissionLedger::release(AdmissionTicket::Kind kind, const Caller& caller) {
  std::lock_guard lock(mutex_);
  auto found = usage_.find(caller.key);
  if (found == usage_.end()) return;
  Usage& usage = found->second;
  switch (kind) {
    case AdmissionTicket::Kind::connection:
      --usage.connections;
      --totals_.connections;
      if (!caller.admin) --totals_.user_connections;
      break;
    case AdmissionTicket::Kind::request: --usage.requests; break;
    case AdmissionTicket::Kind::subscription: --usage.subscriptions; break;
  }
  if (usage.connections == 0 && usage.requests == 0 && usage.subscriptions == 0) usage_.erase(found);
}

Usage AdmissionLedger::usage(const Caller& caller) const {
  std::lock_guard lock(mutex_);
  auto found = usage_.find(caller.key);
  return found == usage_.end() ? Usage{} : found->second;
}

Totals AdmissionLedger::totals() const {
  std::lock_guard lock(mutex_);
  return totals_;
}

}  // namespace edgeprov::ipc
