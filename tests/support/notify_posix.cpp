#include "tests/support/notify.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace edgeprov::test {

NotifySocket::NotifySocket(std::filesystem::path path) : path_(std::move(path)) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string text = path_.string();
  if (text.size() >= sizeof(address.sun_path)) throw std::runtime_error("notify socket path too long: " + text);
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket(AF_UNIX, SOCK_DGRAM)");
  std::filesystem::remove(path_);
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::system_error(error, std::generic_category(), "bind " + text);
  }
}

NotifySocket::~NotifySocket() {
  if (fd_ >= 0) ::close(fd_);
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

std::optional<std::string> NotifySocket::wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) continue;
    std::string message(buffer, static_cast<std::size_t>(n));
    if (message.find(needle) != std::string::npos) return message;
  }
}

std::unique_ptr<Process> start_until_ready(ProcessOptions options, const std::filesystem::path& notify_path,
                                           std::chrono::milliseconds timeout) {
  NotifySocket ready(notify_path);
  options.env["NOTIFY_SOCKET"] = ready.path().string();
  const std::string name = options.argv.empty() ? std::string("the program") : options.argv.front();
  auto process = std::make_unique<Process>(std::move(options));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // Blocks until the datagram comes; a slice at a time only to notice a program that exited.
    if (ready.wait_for("READY=1", std::chrono::milliseconds(200))) return process;
    if (!process->running()) throw std::runtime_error(name + " exited before READY=1:\n" + process->output());
  }
  throw std::runtime_error(name + " did not report READY=1 within " + std::to_string(timeout.count()) +
                           " ms:\n" + process->output());
}

}  // namespace edgeprov::test
