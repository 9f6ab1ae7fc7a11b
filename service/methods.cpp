#include "service/methods.h"

#include "service/build_info.h"
#include "service/lifecycle.h"

namespace edgeprov::service {

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
