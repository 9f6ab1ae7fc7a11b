// tests/support/notify.h — plays systemd's side of sd_notify(3) for a test: a datagram socket whose path a
// child gets as NOTIFY_SOCKET, and a blocking wait for the message it sends (READY=1 once edgeprovd
// listens). Tests wait on that event instead of polling for a socket file.
#pragma once
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/process.h"

namespace edgeprov::test {

class NotifySocket {
 public:
  explicit NotifySocket(std::filesystem::path path);  // binds it; the directory must exist
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The next datagram whose text contains `needle`, waiting at most `timeout` (std::nullopt then).
  // Datagrams without it are skipped.
  std::optional<std::string> wait_for(const std::string& needle, std::chrono::milliseconds timeout);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// Starts a program that speaks sd_notify (edgeprovd) with NOTIFY_SOCKET at `notify_path`, and returns once
// it said READY=1 (for edgeprovd: its endpoint listens). Throws with its output when it exits first or says
// nothing within `timeout`.
std::unique_ptr<Process> start_until_ready(ProcessOptions options, const std::filesystem::path& notify_path,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace edgeprov::test
