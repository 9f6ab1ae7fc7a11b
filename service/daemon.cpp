#include "service/daemon.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "service/build_info.h"
#include "service/provisioning_methods.h"
#include "service/tpm_methods.h"

namespace edgeprov::service {

namespace {

StatusSnapshot initial_snapshot(const config::Config& config) {
  StatusSnapshot s;
  s.state = State::starting;
  s.since = std::chrono::system_clock::now();
  s.provisioning = settings_from(config);
  s.tpm.tcti = config.tpm.tcti;
  return s;
}

ipc::ServerOptions server_options(const config::Config& config, ipc::AdminPolicy admin_policy) {
  ipc::ServerOptions options;
  options.endpoint = config.ipc.endpoint;
  options.admin_policy = admin_policy;
  options.limits = ipc::AdmissionLimits{.max_connections = config.ipc.max_connections,
                                        .admin_reserved_connections = config.ipc.admin_reserved_connections,
                                        .max_connections_per_user = config.ipc.max_connections_per_user,
                                        .max_requests_per_user = config.ipc.max_requests_per_user,
                                        .max_subscriptions_per_user = config.ipc.max_subscriptions_per_user};
  options.idle_timeout = config.ipc.idle_timeout;
  return options;
}

}  // namespace

Daemon::Daemon(config::Config config, Logging& logging, ipc::AdminPolicy admin_policy)
    : config_(std::move(config)),
      status_(initial_snapshot(config_)),
      methods_{.status = status_,
               .logging = logging,
               .started = std::chrono::steady_clock::now(),
               .subscribers = &subscribers_},
      tpm_(tpm_options(config_)),
      ports_(config_, io_.get_executor(), status_, tpm_),
      provisioner_(machine_settings(config_), initial_snapshot(config_), ports_.ports()),
      server_(io_, server_options(config_, admin_policy), dispatcher_) {
  status_.on_change([this] { subscribers_.publish(status_json(methods_)); });
  register_methods(dispatcher_, methods_);
  register_tpm_methods(dispatcher_, tpm_, io_.get_executor());
  register_provisioning_methods(dispatcher_, provisioner_, methods_, io_.get_executor());
}

Daemon::~Daemon() {
  // run() has returned or never ran: with the context stopped, the server closes here and now instead
  // of handing the work to an I/O thread that is not there.
  io_.stop();
  server_.stop();
}

void Daemon::start() {
  const auto& p = config_.provisioning;
  spdlog::info("edgeprovd {} starting: config {}, endpoint {}, id scope {}, attestation {}, transport {}, tcti {}",
               build_info().version, config_.source_file.string(), config_.ipc.endpoint, p.id_scope,
               config::to_string(p.attestation.method), config::to_string(config_.dps.transport),
               config_.tpm.tcti);
  server_.start();
  spdlog::info("ready on {}; auto_reprovisioning_mode {}, state in {}", config_.ipc.endpoint,
               config::to_string(config_.auto_reprovisioning_mode), config_.state.dir.string());
  boost::asio::post(io_, [this] { provisioner_.start(); });
}

void Daemon::run() { io_.run(); }

void Daemon::keep_alive(std::chrono::microseconds period, std::function<void()> ping) {
  keep_alive_timer_.expires_after(period);
  keep_alive_timer_.async_wait([this, period, ping = std::move(ping)](const boost::system::error_code& ec) mutable {
    if (ec || stopping_) return;
    ping();
    keep_alive(period, std::move(ping));
  });
}

void Daemon::request_stop() {
  boost::asio::post(io_, [this] {
    if (stopping_) return;
    stopping_ = true;
    spdlog::info("stopping: closing {}", config_.ipc.endpoint);
    provisioner_.stop();
    keep_alive_timer_.cancel();
    server_.stop();
    // Connections are closed and nothing else runs on this context: end run() without waiting for
    // handlers of closed sockets.
    io_.stop();
    spdlog::info("stopped");
  });
}

}  // namespace edgeprov::service
