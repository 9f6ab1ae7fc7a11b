// service/daemon.h — edgeprovd's running core, the same on every platform: the io_context thread, the
// local endpoint, the status board and the RPC methods. The lifecycle leaves drive it (signals and
// sd_notify, or the SCM) and never reach inside; it never knows which service manager runs it.
#pragma once
#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "edge-config/config.h"
#include "ipc/dispatcher.h"
#include "ipc/server.h"
#include "service/logging.h"
#include "service/methods.h"
#include "service/provisioner.h"
#include "service/provisioner_ports.h"
#include "service/status.h"
#include "service/tpm_methods.h"
#include "tpm/worker.h"

namespace edgeprov::service {

// Process exit codes of edgeprovd (docs/edgeprovd.md).
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;  // could not start (endpoint in use, no permission, …)
inline constexpr int usage = 2;    // bad command line
inline constexpr int config = 78;  // invalid configuration (sysexits EX_CONFIG; systemd shows "CONFIG")
}  // namespace exit_code

class Daemon {
 public:
  Daemon(config::Config config, Logging& logging, ipc::AdminPolicy admin_policy);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Listens on the configured endpoint, then starts provisioning (the first steps run once run() does).
  // Call before run(), on the thread that will run(). Throws std::system_error naming the endpoint and
  // the fix.
  void start();
  // Runs the io_context on the calling thread (the one I/O thread) until a stop completes.
  void run();
  // Closes the endpoint (removing the socket file) and ends run(). Safe from any thread.
  void request_stop();

  boost::asio::io_context& io() { return io_; }
  const config::Config& config() const { return config_; }

 private:
  config::Config config_;
  boost::asio::io_context io_{1};
  StatusBoard status_;
  StatusSubscribers subscribers_;
  MethodContext methods_;
  tpm::Worker tpm_;
  DaemonPorts ports_;
  Provisioner provisioner_;
  ipc::Dispatcher dispatcher_;
  ipc::Server server_;
  bool stopping_ = false;  // touched on the io thread only
};

}  // namespace edgeprov::service
