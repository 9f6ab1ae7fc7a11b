#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "tests/support/programs.h"

extern char** environ;

namespace edgeprov::test {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

fs::path unique_temp_path(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  return fs::temp_directory_path() /
         (prefix + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
          std::to_string(rd() % 100000));
}

ExitStatus decode(int raw) {
  ExitStatus s;
  if (WIFEXITED(raw)) s.code = WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) s.signal = WTERMSIG(raw), s.code = -1;
  return s;
}

}  // namespace

Process::Process(ProcessOptions options) {
  if (options.argv.empty()) throw std::invalid_argument("Process: empty argv");
  // Only what the set-up installs: a program installed by hand on this machine would be missing on a
  // fresh one (and in CI).
  const PackageList& packages = PackageList::load();
  if (auto why = unlisted_program(options.argv, packages)) throw std::invalid_argument(*why);
  std::string not_found;
  if (const auto* entry = packages.provider(options.argv[0]))
    not_found = " (" + options.argv[0] + " comes with the Debian package " + entry->package + ": run scripts/setup-debian.sh)";
  owns_log_file_ = !options.log_file;
  log_file_ = options.log_file.value_or(unique_temp_path("edgeprov-proc-").string() + ".log");

  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto key = kv.substr(0, kv.find('='));
    if (!options.env.count(key)) env_strings.push_back(kv);
  }
  for (auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& a : options.argv) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::optional<std::pair<uid_t, gid_t>> drop;
  if (options.run_as_user) {
    const passwd* pw = ::getpwnam(options.run_as_user->c_str());
    if (!pw) throw std::runtime_error("Process: no such user " + *options.run_as_user);
    drop = std::make_pair(pw->pw_uid, pw->pw_gid);
  }

  int in_pipe[2] = {-1, -1};
  if (options.stdin_text && ::pipe(in_pipe) != 0) throw std::runtime_error("pipe failed");
  const int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log_file_.string());
  if (drop) (void)::fchown(log_fd, drop->first, drop->second);

  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid_ == 0) {
    // Child: a test that dies must not leave swtpm or a daemon behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    if (options.stdin_text) {
      ::dup2(in_pipe[0], STDIN_FILENO);
      ::close(in_pipe[1]);
    } else {
      const int null_fd = ::open("/dev/null", O_RDONLY);
      ::dup2(null_fd, STDIN_FILENO);
    }
    if (drop) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(drop->second) != 0 || ::setuid(drop->first) != 0)
        ::_exit(126);
    }
    ::signal(SIGPIPE, SIG_DFL);
    if (options.argv[0].find('/') != std::string::npos)
      ::execve(argv[0], argv.data(), envp.data());
    else {
      environ = envp.data();
      ::execvp(argv[0], argv.data());
    }
    const int error = errno;
    const std::string msg = "exec " + options.argv[0] + " failed: " + std::strerror(error) +
                            (error == ENOENT ? not_found : std::string()) + "\n";
    (void)!::write(STDERR_FILENO, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(log_fd);
  if (options.stdin_text) {
    ::close(in_pipe[0]);
    const std::string& text = *options.stdin_text;
    std::size_t off = 0;
    while (off < text.size()) {
      const ssize_t n = ::write(in_pipe[1], text.data() + off, text.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(in_pipe[1]);
  }
}

Process::~Process() {
  if (pid_ > 0 && !status_) stop();
  // A log of our own making goes with the process: a test run starts a thousand of them.
  if (owns_log_file_ && !std::getenv("EDGEPROV_TEST_KEEP_LOGS")) {
    std::error_code ignored;
    fs::remove(log_file_, ignored);
  }
}

bool Process::running() {
  if (status_) return false;
  int raw = 0;
  const pid_t r = ::waitpid(pid_, &raw, WNOHANG);
  if (r == pid_) {
    status_ = decode(raw);
    return false;
  }
  return r == 0;
}

void Process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<ExitStatus> Process::wait(milliseconds timeout) {
  if (!running()) return status_;
  // A pidfd becomes readable when the child exits: the wait follows that event instead of polling.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) throw std::system_error(errno, std::generic_category(), "pidfd_open");
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    const auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    pollfd p{pidfd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
    if (ready < 0 && errno == EINTR) continue;
    if (!running()) break;  // reaps it
    if (ready == 0 || left.count() <= 0) {
      ::close(pidfd);
      return std::nullopt;
    }
  }
  ::close(pidfd);
  return status_;
}

ExitStatus Process::stop(milliseconds grace) {
  if (running()) {
    ::kill(pid_, SIGTERM);
    if (!wait(grace)) {
      ::kill(pid_, SIGKILL);
      wait(seconds(10));
    }
  }
  return status_.value_or(ExitStatus{});
}

std::string Process::output() const { return read_file(log_file_); }

RunResult run(ProcessOptions options, milliseconds timeout) {
  Process p(std::move(options));
  auto status = p.wait(timeout);
  if (!status) status = p.stop(milliseconds(500));
  return {*status, p.output()};
}

std::vector<unsigned short> free_loopback_ports(std::size_t count) {
  std::vector<int> fds;
  std::vector<unsigned short> ports;
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("cannot bind a loopback port");
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ports.push_back(ntohs(addr.sin_port));
    fds.push_back(fd);
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

unsigned short free_loopback_port() { return free_loopback_ports(1).front(); }

namespace {
int bind_loopback(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}
}  // namespace

unsigned short free_loopback_port_pair() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const unsigned short p = free_loopback_port();
    if (p == 65535) continue;
    const int a = bind_loopback(p), b = bind_loopback(static_cast<unsigned short>(p + 1));
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
    if (a >= 0 && b >= 0) return p;
  }
  throw std::runtime_error("no pair of adjacent free loopback ports");
}

bool Process::wait_for_output(const std::string& needle, milliseconds timeout) {
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
  if (::inotify_add_watch(fd, log_file_.c_str(), IN_MODIFY | IN_CLOSE_WRITE) < 0) {
    const int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(), "inotify_add_watch " + log_file_.string());
  }
  const auto deadline = steady_clock::now() + timeout;
  bool found = false;
  for (;;) {
    if (output().find(needle) != std::string::npos) {
      found = true;
      break;
    }
    if (!running()) break;
    const auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    // A process that exits without writing again wakes nobody: look at it at least every 100 ms.
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 100))) > 0) {
      char events[4096];
      while (::read(fd, events, sizeof events) > 0) {
      }
    }
  }
  ::close(fd);
  return found || output().find(needle) != std::string::npos;
}

bool wait_for_path(const fs::path& path, milliseconds timeout) {
  // inotify on the parent directory: woken when an entry is created or moved there, never polling.
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const bool watching = ::inotify_add_watch(fd, parent.c_str(), IN_CREATE | IN_MOVED_TO) >= 0;
  const auto deadline = steady_clock::now() + timeout;
  bool found = false;
  for (;;) {
    std::error_code ec;
    if (fs::exists(path, ec)) {
      found = true;
      break;
    }
    const auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    // Without a watch (the directory does not exist yet) look again after a short while.
    const int ready = ::poll(&p, 1, watching ? static_cast<int>(left.count()) : 20);
    if (ready > 0) {
      char events[4096];
      while (::read(fd, events, sizeof events) > 0) {
      }
    }
  }
  ::close(fd);
  return found;
}

bool wait_for_tcp(const std::string& host, unsigned short port, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  do {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(milliseconds(20));
  } while (steady_clock::now() < deadline);
  return false;
}

TempDir::TempDir() : path_(unique_temp_path("edgeprov-test-")) {
  fs::create_directories(path_);
  fs::permissions(path_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
}

}  // namespace edgeprov::test
