// bench_ipc_admission: how long an administrator waits for `status` while another user holds its maximum
// of connections (target: answered within 100 ms). ipc::Server runs in this process with the default
// limits; the other user is this program re-executed as `nobody` (a real peer: the kernel reports its
// uid), which takes connections until refused and then, depending on the scenario, leaves them idle,
// keeps every one busy with pipelined requests, or floods the endpoint with connections it is refused.
// The administrator (root, this process) connects anew for each call, as `edgeprovctl status` does,
// and on one kept connection; each scenario prints p50, p99 and the maximum.
//
//   bench_ipc_admission [--seconds N]     (default 3 s per scenario; must run as root)
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "ipc/client.h"
#include "bench/ipc/seconds_option.h"
#include "ipc/server.h"

using namespace edgeprov::ipc;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double target_ms = 100.0;

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until `lines` complete lines arrived; false if the connection ended first. Returns the first line.
bool read_lines(int fd, int lines, std::string* first = nullptr) {
  char chunk[65536];
  int seen = 0;
  std::string head;
  while (seen < lines) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; ++i) {
      if (first && seen == 0) head.push_back(chunk[i]);
      if (chunk[i] == '\n') ++seen;
    }
  }
  if (first) *first = head;
  return true;
}

// ---- the other user (re-executed as nobody) ---------------------------------------------------------

int hostile(const std::string& path, const std::string& scenario) {
  const std::string status = encode_request(1, "status", nullptr);
  std::vector<int> held;
  for (;;) {
    const int fd = connect_to(path);
    if (fd < 0) break;
    std::string answer;
    if (!send_all(fd, status) || !read_lines(fd, 1, &answer) || answer.find("\"error\"") != std::string::npos) {
      ::close(fd);
      break;  // refused: the user holds its maximum
    }
    held.push_back(fd);
  }
  std::printf("held %zu\n", held.size());
  std::fflush(stdout);
  if (scenario == "idle") {
    for (;;) ::pause();
  }
  if (scenario == "flood") {
    for (;;) {  // a refused connection after another, as fast as the server answers them
      const int fd = connect_to(path);
      if (fd < 0) continue;
      read_lines(fd, 1);
      ::close(fd);
    }
  }
  // busy: 16 pipelined requests on every held connection, read back, again, as fast as possible.
  std::string batch;
  for (int i = 0; i < 16; ++i) batch += status;
  for (;;) {
    for (int fd : held) send_all(fd, batch);
    for (int fd : held) read_lines(fd, 16);
  }
}

// ---- the administrator ---------------------------------------------------------------------------------

struct Figures {
  double p50 = 0, p99 = 0, max = 0;
  std::size_t calls = 0;
};

Figures figures(std::vector<double> ms) {
  Figures f;
  if (ms.empty()) return f;
  std::sort(ms.begin(), ms.end());
  f.calls = ms.size();
  f.p50 = ms[ms.size() / 2];
  f.p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  f.max = ms.back();
  return f;
}

// `status` on a new connection per call (what edgeprovctl does), and on one kept connection.
std::pair<Figures, Figures> measure_admin(const std::string& path, std::chrono::milliseconds duration) {
  std::vector<double> fresh, kept;
  Client keep(path);
  const auto end = Clock::now() + duration;
  while (Clock::now() < end) {
    auto start = Clock::now();
    Client client(path);
    client.call("status");
    fresh.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    start = Clock::now();
    keep.call("status");
    kept.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return {figures(fresh), figures(kept)};
}

class Other {
 public:
  Other(const std::string& self, const std::string& path, const std::string& scenario) {
    const passwd* nobody = ::getpwnam("nobody");
    if (!nobody) throw std::runtime_error("no user nobody");
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      if (::setgroups(0, nullptr) != 0 || ::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) ::_exit(126);
      ::execl(self.c_str(), self.c_str(), "--as-other-user", path.c_str(), scenario.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(out[1]);
    FILE* from = ::fdopen(out[0], "r");
    char line[128] = {};
    if (!std::fgets(line, sizeof line, from)) throw std::runtime_error("the other user did not start");
    held_ = std::strtoul(line + 5, nullptr, 10);
    ::fclose(from);
  }
  ~Other() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::size_t held() const { return held_; }

 private:
  pid_t pid_ = -1;
  std::size_t held_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--as-other-user") return hostile(argv[2], argv[3]);
  const auto duration = seconds_option(argc, argv, std::chrono::milliseconds(3000), "bench_ipc_admission");
  if (::geteuid() != 0) {
    std::fprintf(stderr, "bench_ipc_admission runs as root: it starts the other user as nobody\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::err);
  const std::string self = std::filesystem::canonical("/proc/self/exe").string();

  const auto dir = std::filesystem::temp_directory_path() / ("edgeprov-admission-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all | std::filesystem::perms::others_exec |
                                        std::filesystem::perms::group_exec);
  const std::string path = (dir / "edgeprov.sock").string();

  Dispatcher dispatcher;
  const json status = {{"state", "provisioned"}, {"assignment", {{"hub", "contoso.azure-devices.net"}}}};
  dispatcher.add("status", Access::local_user, [&status](const Call&) { return status; });
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  ServerOptions options;
  options.endpoint = path;
  Server server(io, options, dispatcher);
  server.start();
  std::thread io_thread([&] { io.run(); });

  std::printf("administrator's `status` while another user (nobody) holds its maximum of %zu connections;\n"
              "ipc::Server on one io thread, default limits, %.1f s per scenario, %u cores, target: answered "
              "within %.0f ms\n\n",
              options.limits.max_connections_per_user, static_cast<double>(duration.count()) / 1000.0,
              std::thread::hardware_concurrency(), target_ms);
  std::printf("%-44s %5s %7s | %-26s | %-26s\n", "the other user", "held", "calls", "new connection p50/p99/max ms",
              "kept connection p50/p99/max ms");
  double worst = 0;
  for (const char* scenario : {"none", "idle", "busy", "flood"}) {
    std::unique_ptr<Other> other;
    if (std::string(scenario) != "none") other = std::make_unique<Other>(self, path, scenario);
    const auto [fresh, kept] = measure_admin(path, duration);
    const char* what = std::string(scenario) == "none"    ? "none (quiet server)"
                       : std::string(scenario) == "idle"  ? "holds its connections idle"
                       : std::string(scenario) == "busy"  ? "pipelines status on all of them, nonstop"
                                                          : "holds them, floods refused connections";
    std::printf("%-44s %5zu %7zu | %7.2f %7.2f %8.2f | %7.2f %7.2f %8.2f\n", what, other ? other->held() : 0,
                fresh.calls, fresh.p50, fresh.p99, fresh.max, kept.p50, kept.p99, kept.max);
    std::fflush(stdout);
    worst = std::max({worst, fresh.max, kept.max});
  }
  std::printf("\nworst administrator call: %.2f ms (target <= %.0f ms)\n", worst, target_ms);

  server.stop();
  work.reset();
  io_thread.join();
  std::filesystem::remove_all(dir);
  return 0;
}
