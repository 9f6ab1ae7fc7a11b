// Authorization and error mapping for every method, so handlers only ever see calls they may serve and
// a handler's failure can never leak its internals to a local client or leave a request unanswered.
#include "ipc/dispatcher.h"

#include <atomic>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace edgeprov::ipc {
namespace {

RpcError unauthorized(const std::string& method, Access access, const Peer& peer) {
  std::string needed = peer.sid ? "run it from an elevated prompt (a member of Administrators) or as SYSTEM"
                                : "run it as root (e.g. with sudo) or as a member of the group set by "
                                  "[edgeprov.ipc] admin_group";
  std::string who_may = "for administrators only";
  if (access == Access::identity) {
    who_may = "for administrators and [edgeprov.ipc] identity_principals only";
    needed += ", or add the caller's user or group to [edgeprov.ipc] identity_principals";
  }
  return RpcError{errc::unauthorized,
                  "method '" + method + "' is " + who_may + " and the caller is " + describe_caller(peer) + ": " + needed,
                  nullptr};
}

RpcError internal_error(const std::string& method) {
  return RpcError{errc::internal_error,
                  "internal error in method '" + method + "'; the edgeprovd log has the details", nullptr};
}

std::string without_json_prefix(const char* what) {
  // nlohmann's messages start with "[json.exception.type_error.302] "; the rest speaks of the params.
  std::string text = what;
  if (!text.empty() && text.front() == '[') {
    if (auto end = text.find("] "); end != std::string::npos) text.erase(0, end + 2);
  }
  return text;
}

// Calls the reply at most once; if the last copy is dropped unanswered (a handler that forgot, or a
// worker that died), answers internal_error so the connection's in-order queue never stalls.
class ReplyOnce {
 public:
  ReplyOnce(std::string method, Reply reply) : method_(std::move(method)), reply_(std::move(reply)) {}
  ~ReplyOnce() {
    if (!done_.exchange(true)) {
      spdlog::error("ipc: method '{}' ended without an answer", method_);
      try {
        reply_(internal_error(method_));
      } catch (...) {
      }
    }
  }
  ReplyOnce(const ReplyOnce&) = delete;
  ReplyOnce& operator=(const ReplyOnce&) = delete;

  void operator()(Outcome outcome) {
    if (done_.exchange(true)) {
      spdlog::error("ipc: method '{}' answered twice; the second answer is dropped", method_);
      return;
    }
    reply_(std::move(outcome));
  }
  bool done() const { return done_; }

 private:
  std::string method_;
  Reply reply_;
  std::atomic<bool> done_{false};
};

}  // namespace

void Dispatcher::add(std::string name, Access access, SyncMethod method) {
  methods_.insert_or_assign(std::move(name), Entry{access, nullptr, std::move(method)});
}

void Dispatcher::add_async(std::string name, Access access, AsyncMethod method) {
  methods_.insert_or_assign(std::move(name), Entry{access, std::move(method), nullptr});
}

bool Dispatcher::has(std::string_view name) const { return methods_.find(name) != methods_.end(); }

std::optional<Access> Dispatcher::access_of(std::string_view name) const {
  auto it = methods_.find(name);
  if (it == methods_.end()) return std::nullopt;
  return it->second.access;
}

void Dispatcher::dispatch(Call call, Reply reply) const {
  auto it = methods_.find(call.method);
  if (it == methods_.end()) {
    reply(RpcError{errc::method_not_found,
                   "method '" + call.method + "' does not exist; docs/ipc-api.md lists the methods", nullptr});
    return;
  }
  const Entry& entry = it->second;
  const bool allowed = entry.access == Access::local_user || call.peer.admin ||
                       (entry.access == Access::identity && call.peer.identity_principal);
  if (!allowed) {
    reply(unauthorized(call.method, entry.access, call.peer));
    return;
  }

  if (entry.sync) {
    // The common path (status, version): no shared reply state, answered before dispatch returns.
    Outcome outcome;
    try {
      outcome = entry.sync(call);
    } catch (const RpcError& error) {
      outcome = error;
    } catch (const nlohmann::json::exception& error) {
      outcome = RpcError{errc::invalid_params,
                         "invalid params for '" + call.method + "': " + without_json_prefix(error.what()), nullptr};
    } catch (const std::exception& error) {
      spdlog::error("ipc: method '{}' failed: {}", call.method, error.what());
      outcome = internal_error(call.method);
    } catch (...) {
      spdlog::error("ipc: method '{}' failed with an unknown exception", call.method);
      outcome = internal_error(call.method);
    }
    reply(std::move(outcome));
    return;
  }

  auto once = std::make_shared<ReplyOnce>(call.method, std::move(reply));
  std::string method = call.method;
  try {
    entry.async(std::move(call), [once](Outcome outcome) { (*once)(std::move(outcome)); });
  } catch (const RpcError& error) {
    if (!once->done()) (*once)(error);
  } catch (const nlohmann::json::exception& error) {
    if (!once->done()) {
      (*once)(RpcError{errc::invalid_params,
                       "invalid params for '" + method + "': " + without_json_prefix(error.what()), nullptr});
    }
  } catch (const std::exception& error) {
    spdlog::error("ipc: method '{}' failed: {}", method, error.what());
    if (!once->done()) (*once)(internal_error(method));
  } catch (...) {
    spdlog::error("ipc: method '{}' failed with an unknown exception", method);
    if (!once->done()) (*once)(internal_error(method));
  }
}

}  // namespace edgeprov::ipc
