// The named-pipe client: overlapped I/O so every step has a deadline, and SECURITY_IDENTIFICATION so
// the server can read who we are but can never act as us.
#include <windows.h>

#include "ipc/client.h"
#include "ipc/client_common.h"
#include "ipc/windows_text.h"

namespace edgeprov::ipc {

using Clock = std::chrono::steady_clock;

namespace {

DWORD remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<DWORD>(std::min<long long>(left, 0x7fffffff));
}

std::string unreachable_hint(const std::string& endpoint, DWORD err) {
  switch (err) {
    case ERROR_FILE_NOT_FOUND:
      return "edgeprovd is not running: no pipe " + endpoint +
             " (start it with `Start-Service edgeprov`, or run `edgeprovd --console`; --endpoint selects another "
             "pipe)";
    case ERROR_ACCESS_DENIED:
      return "access denied opening " + endpoint + ": only local, authenticated users may connect";
    default:
      return "cannot connect to edgeprovd at " + endpoint + ": " + detail::win32_message(err);
  }
}

}  // namespace

class Client::Impl {
 public:
  Impl(std::string endpoint, std::chrono::milliseconds timeout) : session_(std::move(endpoint)), timeout_(timeout) {
    const std::wstring name = detail::to_wide(session_.endpoint());
    const auto deadline = Clock::now() + timeout_;
    for (;;) {
      // GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES: exactly what the pipe's DACL grants
      // local users (GENERIC_WRITE would ask for FILE_CREATE_PIPE_INSTANCE too, and be refused).
      pipe_ = ::CreateFileW(name.c_str(), GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES, 0, nullptr,
                            OPEN_EXISTING, FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                            nullptr);
      if (pipe_ != INVALID_HANDLE_VALUE) break;
      const DWORD err = ::GetLastError();
      if (err == ERROR_PIPE_BUSY && remaining_ms(deadline) > 0) {
        // Every instance is taken: wait for the server to offer the next one.
        ::WaitNamedPipeW(name.c_str(), remaining_ms(deadline));
        continue;
      }
      if (err == ERROR_PIPE_BUSY) {
        throw ClientError(ClientError::Kind::timeout,
                          "edgeprovd at " + session_.endpoint() + " did not accept the connection in time");
      }
      throw ClientError(ClientError::Kind::unreachable, unreachable_hint(session_.endpoint(), err));
    }
    DWORD mode = PIPE_READMODE_BYTE;
    ::SetNamedPipeHandleState(pipe_, &mode, nullptr, nullptr);
    event_ = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (!event_) {
      const DWORD err = ::GetLastError();
      ::CloseHandle(pipe_);
      throw ClientError(ClientError::Kind::unreachable, "CreateEvent failed: " + detail::win32_message(err));
    }
    transport_.write_all = [this](std::string_view bytes, Clock::time_point deadline) { write_all(bytes, deadline); };
    transport_.read_some = [this](char* buffer, std::size_t size, Clock::time_point deadline) {
      return read_some(buffer, size, deadline);
    };
  }
  ~Impl() {
    if (pipe_ != INVALID_HANDLE_VALUE) ::CloseHandle(pipe_);
    if (event_) ::CloseHandle(event_);
  }

  nlohmann::json call(std::string_view method, const nlohmann::json& params) {
    return session_.call(transport_, method, params, timeout_);
  }
  std::optional<Notification> next_notification(std::chrono::milliseconds timeout) {
    return session_.next_notification(transport_, timeout);
  }
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

 private:
  // One overlapped operation waited for until the deadline; nullopt on timeout (the I/O is cancelled).
  template <typename Start>
  std::optional<DWORD> overlapped(Start start, Clock::time_point deadline, const char* what) {
    OVERLAPPED op{};
    op.hEvent = event_;
    ::ResetEvent(event_);
    if (!start(&op)) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED) return 0;
      if (err != ERROR_IO_PENDING) {
        throw ClientError(ClientError::Kind::protocol,
                          std::string(what) + " edgeprovd at " + session_.endpoint() + " failed: " +
                              detail::win32_message(err));
      }
    }
    DWORD transferred = 0;
    if (::WaitForSingleObject(event_, remaining_ms(deadline)) != WAIT_OBJECT_0) {
      ::CancelIoEx(pipe_, &op);
      ::GetOverlappedResult(pipe_, &op, &transferred, TRUE);  // the OVERLAPPED must outlive the I/O
      return std::nullopt;
    }
    if (!::GetOverlappedResult(pipe_, &op, &transferred, FALSE)) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED) return 0;
      throw ClientError(ClientError::Kind::protocol, std::string(what) + " edgeprovd at " + session_.endpoint() +
                                                         " failed: " + detail::win32_message(err));
    }
    return transferred;
  }

  void write_all(std::string_view bytes, Clock::time_point deadline) {
    while (!bytes.empty()) {
      auto written = overlapped(
          [&](OVERLAPPED* op) {
            return ::WriteFile(pipe_, bytes.data(), static_cast<DWORD>(bytes.size()), nullptr, op);
          },
          deadline, "writing to");
      if (!written) {
        throw ClientError(ClientError::Kind::timeout,
                          "edgeprovd at " + session_.endpoint() + " is not reading its requests");
      }
      if (*written == 0) {
        throw ClientError(ClientError::Kind::protocol, "edgeprovd at " + session_.endpoint() + " closed the pipe");
      }
      bytes.remove_prefix(*written);
    }
  }

  std::optional<std::size_t> read_some(char* buffer, std::size_t size, Clock::time_point deadline) {
    auto read = overlapped(
        [&](OVERLAPPED* op) { return ::ReadFile(pipe_, buffer, static_cast<DWORD>(size), nullptr, op); }, deadline,
        "reading from");
    if (!read) return std::nullopt;
    return static_cast<std::size_t>(*read);
  }

  detail::ClientSession session_;
  std::chrono::milliseconds timeout_;
  detail::Transport transport_;
  HANDLE pipe_ = INVALID_HANDLE_VALUE;
  HANDLE event_ = nullptr;
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
