// bench_ipc: `status` round trips through ipc::Server on a Unix socket, beside a raw Unix-socket server
// that answers each request line with the same response bytes (the physical floor), measured the same
// way in the same run: 1 and 16 concurrent clients, each with its own connection and sequential
// requests. Prints round trips per second and p50/p99 latency, and the ratios to the floor.
//
//   bench_ipc [--seconds N]     (default 2 s per measurement)
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "bench/ipc/seconds_option.h"
#include "ipc/server.h"

using namespace edgeprov::ipc;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// The status document of docs/ipc-api.md, filled the way a provisioned device that retried once reports it.
json status_document() {
  return json::parse(R"json({
    "state": "provisioned", "since": "2026-11-29T05:12:44Z", "source": "dps",
    "provisioning": {"globalEndpoint": "https://global.azure-devices-provisioning.net/", "idScope": "0ne00A1B2C3",
                     "registrationId": "nbsxmzlbmfzwk3tpn5zgk4tbnrqxg43dnvrwk3tjmvzgk3tfon2gkyq",
                     "attestation": "tpm", "transport": "https"},
    "assignment": {"hub": "contoso-edge-westeurope-01.azure-devices.net",
                   "deviceId": "nbsxmzlbmfzwk3tpn5zgk4tbnrqxg43dnvrwk3tjmvzgk3tfon2gkyq",
                   "substatus": "initialAssignment", "assignedAt": "2026-11-29T05:12:44Z", "payload": null},
    "lastAttempt": {"at": "2026-11-29T05:12:41Z", "outcome": "error",
                    "error": {"kind": "dps", "httpStatus": 429, "code": 429001,
                              "message": "Operations are being throttled for this tenant: retry after 3 seconds (Retry-After honoured)"}},
    "nextAttemptAt": null, "attempts": 2,
    "tpm": {"available": true, "tcti": "device:/dev/tpmrm0",
            "registrationId": "nbsxmzlbmfzwk3tpn5zgk4tbnrqxg43dnvrwk3tjmvzgk3tfon2gkyq", "authKeyPresent": true},
    "service": {"version": "0.1.0", "pid": 1234, "uptimeSeconds": 86400}
  })json");
}

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("cannot connect to " + path + ": " + std::strerror(errno));
  }
  return fd;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The floor: one thread, epoll, for every complete request line the same response bytes, no parsing.
class EchoServer {
 public:
  EchoServer(std::string path, std::string response) : path_(std::move(path)), response_(std::move(response)) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path_.copy(address.sun_path, sizeof address.sun_path - 1);
    ::unlink(path_.c_str());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 128) != 0) {
      throw std::runtime_error("echo server: cannot listen on " + path_);
    }
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    ::pipe2(wake_, O_CLOEXEC);
    add(listen_fd_);
    add(wake_[0]);
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "echo-server");
      run();
    });
  }
  ~EchoServer() {
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
    for (auto& [fd, buffer] : buffers_) ::close(fd);
    ::close(listen_fd_);
    ::close(epoll_);
    ::close(wake_[0]);
    ::close(wake_[1]);
    ::unlink(path_.c_str());
  }

 private:
  void add(int fd) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event);
  }
  void run() {
    epoll_event events[64];
    char chunk[16384];
    for (;;) {
      const int n = ::epoll_wait(epoll_, events, 64, -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_[0]) return;
        if (fd == listen_fd_) {
          const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (client >= 0) {
            add(client);
            buffers_[client];
          }
          continue;
        }
        const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
        if (got <= 0) {
          ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
          ::close(fd);
          buffers_.erase(fd);
          continue;
        }
        std::string& buffer = buffers_[fd];
        buffer.append(chunk, static_cast<std::size_t>(got));
        std::string out;
        std::size_t start = 0;
        for (auto newline = buffer.find('\n'); newline != std::string::npos; newline = buffer.find('\n', start)) {
          out += response_;
          start = newline + 1;
        }
        buffer.erase(0, start);
        if (!out.empty()) send_all(fd, out);
      }
    }
  }

  std::string path_;
  std::string response_;
  int listen_fd_ = -1;
  int epoll_ = -1;
  int wake_[2] = {-1, -1};
  std::map<int, std::string> buffers_;
  std::thread thread_;

 public:
  std::thread& thread() { return thread_; }
};

// CPU time a thread has used, to show what one round trip costs the serving thread.
double thread_cpu_seconds(std::thread& thread) {
  clockid_t clock{};
  timespec now{};
  if (pthread_getcpuclockid(thread.native_handle(), &clock) != 0 || clock_gettime(clock, &now) != 0) return 0;
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

struct Result {
  double per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  std::size_t count = 0;
};

// `clients` threads, each its own connection, each sending the request and waiting for the whole
// response line before the next: round trips per second over all, latency percentiles over all.
Result measure(const std::string& path, const std::string& request, std::size_t response_size, int clients,
               std::chrono::milliseconds duration) {
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      const int fd = connect_to(path);
      std::string buffer(response_size * 2, '\0');
      auto round_trip = [&] {
        send_all(fd, request);
        std::size_t have = 0;
        for (;;) {
          const ssize_t n = ::recv(fd, buffer.data() + have, buffer.size() - have, 0);
          if (n <= 0) throw std::runtime_error("the server closed the connection");
          have += static_cast<std::size_t>(n);
          if (buffer[have - 1] == '\n') break;
        }
        if (have != response_size) throw std::runtime_error("unexpected response size " + std::to_string(have));
      };
      for (int i = 0; i < 200; ++i) round_trip();  // warm-up: connection, caches, allocator
      ++ready;
      while (!go) std::this_thread::yield();
      auto& mine = latencies[static_cast<std::size_t>(c)];
      mine.reserve(1 << 20);
      while (!stop.load(std::memory_order_relaxed)) {
        const auto start = Clock::now();
        round_trip();
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
      ::close(fd);
    });
  }
  while (ready < clients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto start = Clock::now();
  go = true;
  std::this_thread::sleep_for(duration);
  stop = true;
  for (auto& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> all;
  for (auto& mine : latencies) all.insert(all.end(), mine.begin(), mine.end());
  std::sort(all.begin(), all.end());
  Result result;
  result.count = all.size();
  result.per_second = static_cast<double>(all.size()) / seconds;
  if (!all.empty()) {
    result.p50_us = all[all.size() / 2];
    result.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const auto duration = seconds_option(argc, argv, std::chrono::milliseconds(2000), "bench_ipc");
  spdlog::set_level(spdlog::level::warn);

  const auto dir = std::filesystem::temp_directory_path() / ("edgeprov-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string server_path = (dir / "edgeprov.sock").string();
  const std::string echo_path = (dir / "echo.sock").string();

  const json status = status_document();
  Dispatcher dispatcher;
  dispatcher.add("status", Access::local_user, [&status](const Call&) { return status; });
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  ServerOptions options;
  options.endpoint = server_path;
  Server server(io, options, dispatcher);
  server.start();
  std::thread io_thread([&] {
    pthread_setname_np(pthread_self(), "ipc-server");  // names the threads in perf/top
    io.run();
  });

  const std::string request = encode_request(1, "status", nullptr);
  const std::string response = encode_result(1, status);
  EchoServer echo(echo_path, response);

  std::printf("ipc status round trips over a Unix socket, %zu-byte request, %zu-byte response, %.1f s each, %u cores\n\n",
              request.size(), response.size(), static_cast<double>(duration.count()) / 1000.0,
              std::thread::hardware_concurrency());
  std::printf("%-26s %8s %13s %9s %9s %16s\n", "server", "clients", "round trips/s", "p50 us", "p99 us",
              "server CPU us/rt");
  std::map<std::pair<std::string, int>, Result> results;
  for (int clients : {1, 16}) {
    for (const auto& [name, path] : {std::pair{std::string("raw echo (floor)"), echo_path},
                                     std::pair{std::string("ipc::Server status"), server_path}}) {
      std::thread& serving = path == echo_path ? echo.thread() : io_thread;
      const double cpu_before = thread_cpu_seconds(serving);
      auto result = measure(path, request, response.size(), clients, duration);
      const double cpu = thread_cpu_seconds(serving) - cpu_before;
      results[{name, clients}] = result;
      std::printf("%-26s %8d %13.0f %9.1f %9.1f %16.1f\n", name.c_str(), clients, result.per_second, result.p50_us,
                  result.p99_us, result.count ? cpu * 1e6 / static_cast<double>(result.count) : 0.0);
    }
  }
  std::printf("\n");
  for (int clients : {1, 16}) {
    const auto& floor = results[{"raw echo (floor)", clients}];
    const auto& ipc = results[{"ipc::Server status", clients}];
    std::printf("%2d client%s: p50 %.2fx the floor (target <= 2x), p99 %.2fx, throughput %.0f%% of the floor\n",
                clients, clients == 1 ? " " : "s", ipc.p50_us / floor.p50_us, ipc.p99_us / floor.p99_us,
                100.0 * ipc.per_second / floor.per_second);
  }
  const auto& sixteen = results[{"ipc::Server status", 16}];
  std::printf("16 clients: %.0f status/s (target >= 20000)\n", sixteen.per_second);

  server.stop();
  work.reset();
  io_thread.join();
  std::filesystem::remove_all(dir);
  return 0;
}
