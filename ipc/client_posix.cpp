// The Unix-socket client: blocking calls with a deadline on every step (poll), so edgeprovctl never
// hangs on a wedged service.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ipc/client.h"
#include "ipc/client_common.h"

namespace edgeprov::ipc {

using Clock = std::chrono::steady_clock;

namespace {

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
  }
}

std::string unreachable_hint(const std::string& endpoint, int err) {
  switch (err) {
    case ENOENT:
      return "edgeprovd is not running: no socket at " + endpoint +
             " (start it with `systemctl start edgeprovd`, or run `edgeprovd` in the foreground; --endpoint "
             "selects another socket)";
    case ECONNREFUSED:
      return "edgeprovd is not running: nothing listens on " + endpoint +
             " (a stale socket; start it with `systemctl start edgeprovd`)";
    case EACCES:
    case EPERM:
      return "permission denied opening " + endpoint +
             ": the socket or its directory is not accessible to this user (check the directory's mode)";
    default:
      return "cannot connect to edgeprovd at " + endpoint + ": " + std::strerror(err);
  }
}

}  // namespace

class Client::Impl {
 public:
  Impl(std::string endpoint, std::chrono::milliseconds timeout) : session_(std::move(endpoint)), timeout_(timeout) {
    const std::string& path = session_.endpoint();
    sockaddr_un address{};
    if (path.empty() || path.size() >= sizeof address.sun_path) {
      throw ClientError(ClientError::Kind::unreachable,
                        "invalid IPC endpoint '" + path + "': expected a Unix socket path shorter than " +
                            std::to_string(sizeof address.sun_path) + " bytes");
    }
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) throw ClientError(ClientError::Kind::unreachable, std::string("socket: ") + std::strerror(errno));
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    const auto deadline = Clock::now() + timeout_;
    // A Unix-socket connect either completes at once or, with the backlog full, fails with EAGAIN:
    // retry until the deadline rather than reporting a busy service as absent.
    for (;;) {
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) break;
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN && Clock::now() < deadline) {
        ::usleep(1000);
        continue;
      }
      ::close(fd_);
      fd_ = -1;
      if (err == EAGAIN) {
        throw ClientError(ClientError::Kind::timeout, "edgeprovd at " + path + " did not accept the connection in time");
      }
      throw ClientError(ClientError::Kind::unreachable, unreachable_hint(path, err));
    }
    transport_.write_all = [this](std::string_view bytes, Clock::time_point deadline) { write_all(bytes, deadline); };
    transport_.read_some = [this](char* buffer, std::size_t size, Clock::time_point deadline) {
      return read_some(buffer, size, deadline);
    };
  }
  ~Impl() {
    if (fd_ >= 0) ::close(fd_);
  }

  nlohmann::json call(std::string_view method, const nlohmann::json& params) {
    return session_.call(transport_, method, params, timeout_);
  }
  std::optional<Notification> next_notification(std::chrono::milliseconds timeout) {
    return session_.next_notification(transport_, timeout);
  }
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

 private:
  void write_all(std::string_view bytes, Clock::time_point deadline) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait_for(fd_, POLLOUT, deadline)) {
          throw ClientError(ClientError::Kind::timeout,
                            "edgeprovd at " + session_.endpoint() + " is not reading its requests");
        }
        continue;
      }
      throw ClientError(ClientError::Kind::protocol, "edgeprovd at " + session_.endpoint() +
                                                         " closed the connection: " + std::strerror(errno));
    }
  }

  std::optional<std::size_t> read_some(char* buffer, std::size_t size, Clock::time_point deadline) {
    for (;;) {
      const ssize_t n = ::recv(fd_, buffer, size, 0);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!wait_for(fd_, POLLIN, deadline)) return std::nullopt;
        continue;
      }
      if (errno == ECONNRESET) return 0;
      throw ClientError(ClientError::Kind::protocol,
                        "reading from edgeprovd at " + session_.endpoint() + " failed: " + std::strerror(errno));
    }
  }

  detail::ClientSession session_;
  std::chrono::milliseconds timeout_;
  detail::Transport transport_;
  int fd_ = -1;
};

Client::Client(std::string endpoint, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(endpoint), timeout)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

nlohmann::json Client::call(std::string_view method, const nlohmann::json& params) {
  return impl_->call(method, params);
}
std::optional<Notification> Client::next_notification(std::chrono::milliseconds timeout) {
  return impl_->next_notification(timeout);
}
void Client::set_timeout(std::chrono::milliseconds timeout) { impl_->set_timeout(timeout); }

}  // namespace edgeprov::ipc
