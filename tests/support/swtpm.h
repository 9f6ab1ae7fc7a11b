// tests/support/swtpm.h — a real software TPM (swtpm) for one test: its own free loopback ports and a
// fresh state directory, optionally manufactured by swtpm_setup with an EK and its certificate.
// One swtpm serves one client at a time, so every test starts its own. Stopped on destruction.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/process.h"

namespace edgeprov::test {

struct SwtpmOptions {
  // Run swtpm_setup first: EK (RSA 0x81010001, ECC 0x81010016) persisted, EK certificate in NV
  // (RSA at 0x01c00002), as a manufacturer would. Default: an empty TPM.
  bool manufactured = false;
  // Reuse this state directory instead of a fresh one (e.g. to restart "the same TPM").
  std::optional<std::filesystem::path> state_dir;
};

class Swtpm {
 public:
  explicit Swtpm(SwtpmOptions options = {});
  ~Swtpm();
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  unsigned short port() const { return port_; }
  unsigned short ctrl_port() const { return ctrl_port_; }  // always port() + 1, as the swtpm TCTI expects
  // The TCTI string for edgeprov's [tpm] tcti and tpm2-tools' -T/TPM2TOOLS_TCTI.
  std::string tcti() const;
  const std::filesystem::path& state_dir() const { return state_dir_; }

  void kill();     // SIGKILL, as a crash or power loss would
  void stop();     // orderly stop
  void restart();  // start again on the same ports and state (after kill() or stop())
  bool running();

  // Runs a tpm2-tools command against this TPM (TPM2TOOLS_TCTI set), e.g. {"tpm2_getcap", "handles-persistent"}.
  RunResult tpm2(std::vector<std::string> argv);

 private:
  void start();

  std::unique_ptr<TempDir> owned_state_;
  std::filesystem::path state_dir_;
  unsigned short port_ = 0, ctrl_port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace edgeprov::test
