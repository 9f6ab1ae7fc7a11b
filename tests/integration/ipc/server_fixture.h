// tests/integration/ipc/server_fixture.h — the server under test on a real Unix socket in a temp directory,
// run on its own io_context thread in the test process, with the methods the tests call; raw
// connections to send exactly the bytes a test needs; and the helper programs run as another user.
#pragma once
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch_test_macros.hpp>

#include "ipc/server.h"
#include "tests/support/process.h"

namespace edgeprov::test {

using namespace std::chrono_literals;
using nlohmann::json;
using ipc::Access;
using ipc::Call;
using ipc::Dispatcher;
using ipc::NotificationSink;
using ipc::Reply;
using ipc::Server;
using ipc::ServerOptions;
// The server under test, with the methods the tests call.
class Fixture {
 public:
  explicit Fixture(ServerOptions options = {}) {
    if (options.endpoint.empty()) options.endpoint = (dir_ / "run" / "edgeprov.sock").string();
    path_ = options.endpoint;
    dispatcher_.add("status", Access::local_user, [](const Call&) { return json{{"state", "starting"}}; });
    dispatcher_.add("version", Access::local_user, [](const Call&) { return json{{"version", "0.1.0"}}; });
    dispatcher_.add("echo", Access::local_user, [](const Call& call) { return call.params; });
    dispatcher_.add("whoami", Access::local_user, [](const Call& call) {
      return json{{"uid", call.peer.uid.value_or(999999)}, {"admin", call.peer.admin}, {"name", call.peer.name}};
    });
    dispatcher_.add("bytes", Access::local_user,
                    [](const Call& call) { return json(std::string(call.params.at("n").get<std::size_t>(), 'x')); });
    dispatcher_.add("admin.only", Access::admin, [](const Call&) { return json("granted"); });
    // Answers from another thread after `ms` milliseconds: a method that completes late.
    dispatcher_.add_async("slow", Access::local_user, [this](Call call, Reply reply) {
      const auto ms = call.params.value("ms", 100);
      std::lock_guard lock(mutex_);
      workers_.emplace_back([ms, reply = std::move(reply)] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        reply(json("slow done"));
      });
    });
    dispatcher_.add("subscribe", Access::local_user, [this](const Call& call) {
      // As the service's `subscribe`: the connection is held open, counted against the caller's limit.
      if (auto sink = call.sink.lock())
        if (auto refused = sink->hold_open()) throw std::move(*refused);
      std::lock_guard lock(mutex_);
      sink_ = call.sink;
      return json(true);
    });
    server_ = std::make_unique<Server>(io_, options, dispatcher_);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Fixture() {
    {
      std::lock_guard lock(mutex_);
      for (auto& worker : workers_) worker.join();
    }
    server_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  const std::string& path() const { return path_; }
  Server& server() { return *server_; }
  std::shared_ptr<NotificationSink> sink() {
    std::lock_guard lock(mutex_);
    return sink_.lock();
  }

 private:
  TempDir dir_;
  std::string path_;
  Dispatcher dispatcher_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::weak_ptr<NotificationSink> sink_;
};

// A raw connection: exact bytes out, lines in.
class Raw {
 public:
  explicit Raw(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~Raw() { ::close(fd_); }
  int fd() const { return fd_; }

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      REQUIRE(n > 0);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // The next line, or nullopt on EOF / timeout.
  std::optional<std::string> line(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto newline = buffer_.find('\n'); newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      if (!readable(deadline)) return std::nullopt;
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  json message(std::chrono::milliseconds timeout = 5s) {
    auto text = line(timeout);
    REQUIRE(text);
    return json::parse(*text);
  }
  // True when the server closed the connection (EOF or reset) within the timeout, all data read.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (!readable(deadline)) return false;
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return true;
    }
  }

 private:
  bool readable(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd entry{fd_, POLLIN, 0};
    return ::poll(&entry, 1, static_cast<int>(std::max<long long>(left.count(), 0))) > 0;
  }
  int fd_ = -1;
  std::string buffer_;
};

// Waits until the server's count of open connections is `expected` (it drops as the server reads EOF).
inline bool connections_become(Server& server, std::size_t expected, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (server.connection_count() != expected) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

inline std::string request(int id, std::string_view method, const json& params = nullptr) {
  return ipc::encode_request(id, method, params);
}

inline RunResult call_as(const std::string& user, const std::string& endpoint, const std::string& method) {
  return run(ProcessOptions{{IPC_CALL_PATH, endpoint, method}, {}, std::nullopt, user, std::nullopt}, 20s);
}

}  // namespace edgeprov::test
