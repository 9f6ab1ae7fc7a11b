// A real edgeprovd on a temp socket with a temp config, started for one test and stopped after it;
// plus a raw Unix-socket connection for what the real client never sends (huge lines, garbage).
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace edgeprov::test {

// A symmetric key only the tests know; the tests check that it never reaches a log.
inline constexpr const char* demo_symmetric_key = "RWRnZXByb3YtdGVzdC1rZXktbmV2ZXItbG9nZ2VkIQ==";

// The configuration of a TPM device with an endpoint under `dir`.
std::string tpm_config(const std::filesystem::path& dir);
// The configuration of a symmetric-key device over MQTT, with the key inline.
std::string symmetric_key_config(const std::filesystem::path& dir);

class DaemonFixture {
 public:
  using ConfigFor = std::function<std::string(const std::filesystem::path& dir)>;
  // Writes the configuration made for its temp dir and starts edgeprovd; waits until the socket exists.
  explicit DaemonFixture(ConfigFor config = tpm_config, std::map<std::string, std::string> env = {});
  ~DaemonFixture();

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path socket() const { return dir_ / "edgeprov.sock"; }
  std::filesystem::path config_file() const { return dir_ / "config.toml"; }
  Process& process() { return *process_; }

  // Runs edgeprovctl --endpoint <socket> args…, optionally as another user.
  RunResult ctl(std::vector<std::string> args, std::optional<std::string> user = std::nullopt) const;

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

RunResult run_ctl(std::vector<std::string> args, std::optional<std::string> user = std::nullopt);

// A plain Unix-socket connection with receive timeouts.
class RawConnection {
 public:
  explicit RawConnection(const std::filesystem::path& socket);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // False when the peer closed the connection or the write failed.
  bool send(const std::string& bytes);
  // The next line without '\n'; nullopt on timeout or when the peer closed first.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // True when the peer closes the connection within `timeout` (data before the close is discarded).
  bool closed_by_peer(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace edgeprov::test
