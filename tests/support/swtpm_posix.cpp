#include "tests/support/swtpm.h"

#include <signal.h>

#include <stdexcept>

namespace edgeprov::test {
using namespace std::chrono_literals;

Swtpm::Swtpm(SwtpmOptions options) {
  if (options.state_dir) {
    state_dir_ = *options.state_dir;
  } else {
    owned_state_ = std::make_unique<TempDir>();
    state_dir_ = owned_state_->path();
  }
  if (options.manufactured) {
    auto r = run({.argv = {"swtpm_setup", "--tpm2", "--tpmstate", state_dir_.string(), "--create-ek-cert",
                           "--create-platform-cert", "--overwrite"}},
                 60s);
    if (!r.status.exited() || r.status.code != 0)
      throw std::runtime_error("swtpm_setup failed:\n" + r.output);
  }
  // Free ports are picked, then bound by swtpm: another process may take one in between,
  // so a start that does not come up is retried on new ports.
  for (int attempt = 0;; ++attempt) {
    // tpm2-tss's swtpm TCTI always talks to the control channel on port + 1.
    port_ = free_loopback_port_pair();
    ctrl_port_ = static_cast<unsigned short>(port_ + 1);
    try {
      start();
      return;
    } catch (const std::exception&) {
      if (attempt == 4) throw;
    }
  }
}

Swtpm::~Swtpm() = default;

std::string Swtpm::tcti() const { return "swtpm:host=127.0.0.1,port=" + std::to_string(port_); }

void Swtpm::start() {
  process_.reset();
  process_ = std::make_unique<Process>(ProcessOptions{
      .argv = {"swtpm", "socket", "--tpm2",
               "--server", "type=tcp,port=" + std::to_string(port_) + ",bindaddr=127.0.0.1",
               "--ctrl", "type=tcp,port=" + std::to_string(ctrl_port_) + ",bindaddr=127.0.0.1",
               "--tpmstate", "dir=" + state_dir_.string(),
               "--flags", "not-need-init,startup-clear"},
      .log_file = state_dir_ / "swtpm.log"});
  // The control port answers once the TPM is initialised (startup-clear done).
  if (!wait_for_tcp("127.0.0.1", ctrl_port_, 10s) || !wait_for_tcp("127.0.0.1", port_, 2s) ||
      !process_->running()) {
    const std::string log = process_->output();
    process_->stop(1s);
    throw std::runtime_error("swtpm did not start on port " + std::to_string(port_) + ":\n" + log);
  }
}

void Swtpm::kill() {
  if (process_) {
    process_->signal(SIGKILL);
    process_->wait(5s);
  }
}

void Swtpm::stop() {
  if (process_) process_->stop(5s);
}

void Swtpm::restart() {
  stop();
  start();
}

bool Swtpm::running() { return process_ && process_->running(); }

RunResult Swtpm::tpm2(std::vector<std::string> argv) {
  return run({.argv = std::move(argv), .env = {{"TPM2TOOLS_TCTI", tcti()}}}, 60s);
}

}  // namespace edgeprov::test
