#include "service/methods.h"

#include "service/build_info.h"
#include "service/lifecycle.h"
#include "service/method_params.h"

namespace edgeprov::service {

void StatusSubscribers::add(std::weak_ptr<ipc::NotificationSink> sink) {
  std::lock_guard lock(mutex_);
  sinks_.push_back(std::move(sink));
}

void StatusSubscribers::publish(const nlohmann::json& status) {
  std::vector<std::shared_ptr<ipc::NotificationSink>> open;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(sinks_, [&open](const std::weak_ptr<ipc::NotificationSink>& weak) {
      auto sink = weak.lock();
      if (!sink) return true;
      open.push_back(std::move(sink));
      return false;
    });
  }
  for (const auto& sink : open) sink->notify("status.changed", status);
}

std::size_t StatusSubscribers::size() const {
  std::lock_guard lock(mutex_);
  return sinks_.size();
}

nlohmann::json status_json(const MethodContext& context) {
  const ServiceInfo service{
      .version = build_info().version,
      .pid = current_pid(),
      .uptime =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - context.started),
  };
  return to_json(*context.status.current(), service);
}

void register_methods(ipc::Dispatcher& dispatcher, const MethodContext& context) {
  dispatcher.add("status", ipc::Access::local_user, [&context](const ipc::Call&) { return status_json(context); });

  if (context.subscribers != nullptr) {
    dispatcher.add("subscribe", ipc::Access::local_user, [&context](const ipc::Call& call) {
      checked_params(call.method, call.params, {});
      auto sink = call.sink.lock();
      if (!sink) throw ipc::RpcError{ipc::errc::internal_error, "the connection closed while subscribing", nullptr};
      if (auto refused = sink->hold_open()) throw std::move(*refused);  // the caller's subscription limit
      context.subscribers->add(call.sink);
      return status_json(context);
    });
  }

  dispatcher.add("version", ipc::Access::local_user, [](const ipc::Call&) {
    const auto& build = build_info();
    return nlohmann::json{{"version", build.version},
                          {"commit", build.commit ? nlohmann::json(*build.commit) : nlohmann::json(nullptr)},
                          {"platform", build.platform}};
  });

  dispatcher.add("logs", ipc::Access::admin, [&context](const ipc::Call& call) {
    const auto query = parse_logs_params(call.params);
    return logs_result(context.logging.recent(), query);
  });
}

}  // namespace edgeprov::service
