// edgeprovd on Linux: a foreground process, the same under systemd (Type=notify) and in a shell.
#include "service/lifecycle.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "service/daemon.h"
#include "service/watchdog.h"

namespace edgeprov::service {

namespace {

// libsystemd is not linked: it brings eight shared libraries (gcrypt, lz4, zstd, lzma, …) into a service
// that must start in tens of milliseconds and idle in a few MiB, for two small protocols that systemd
// documents as stable for exactly this use — sd_notify(3)'s datagram and journald's stream priorities.

// sd_notify(3): one datagram to the AF_UNIX socket named by NOTIFY_SOCKET ("@…" is the abstract
// namespace). Without NOTIFY_SOCKET (not started by systemd with Type=notify) it does nothing.
void notify_service_manager(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(path);
  if (length >= sizeof(address.sun_path)) return;
  std::memcpy(address.sun_path, path, length);
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  if (::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address), size) < 0)
    spdlog::debug("sd_notify to {} failed: {}", path, std::strerror(errno));
  ::close(fd);
}

std::optional<std::string_view> environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::optional<std::string_view>(value) : std::nullopt;
}

// journald reads "<N>" at the start of a line on a service's stdout/stderr stream as its syslog
// priority (SyslogLevelPrefix=, on by default), so each entry keeps its level without libsystemd.
class JournalStreamSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t text;
    formatter_->format(msg, text);
    std::fprintf(stderr, "<%d>%.*s", priority(msg.level), static_cast<int>(text.size()), text.data());
  }
  void flush_() override { std::fflush(stderr); }

 private:
  static int priority(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::critical: return 2;  // LOG_CRIT
      case spdlog::level::err: return 3;       // LOG_ERR
      case spdlog::level::warn: return 4;      // LOG_WARNING
      case spdlog::level::info: return 6;      // LOG_INFO
      default: return 7;                       // LOG_DEBUG
    }
  }
};

// systemd connects stderr to the journal and names that stream in JOURNAL_STREAM ("device:inode").
// When stderr is still that stream, each line carries its priority (the journal adds the time).
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long device = 0, inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == device &&
         static_cast<unsigned long long>(st.st_ino) == inode;
}

std::vector<spdlog::sink_ptr> platform_sinks() {
  if (stderr_is_journal()) {
    auto sink = std::make_shared<JournalStreamSink>();
    sink->set_pattern("%v");
    return {sink};
  }
  // On a terminal with colours, elsewhere (a file, a pipe) plain: the sink checks isatty itself.
  return {std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
}

// Looks a name up with getpwnam_r / getgrnam_r, growing the buffer while the entry does not fit.
// nullopt when there is no such entry; throws ConfigError naming `key` when the database cannot be read.
template <typename Entry, typename Lookup, typename Id>
std::optional<std::uint32_t> lookup_id(const config::Config& config, const std::string& key, const std::string& name,
                                       Lookup lookup, Id id) {
  std::vector<char> buffer(16 * 1024);
  for (;;) {
    Entry entry{};
    Entry* found = nullptr;
    const int rc = lookup(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < 1024 * 1024) {
      buffer.resize(buffer.size() * 4);
      continue;
    }
    // "Not found" is 0 with no entry, or one of these codes, depending on the NSS module.
    if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) {
      if (!found) return std::nullopt;
      return static_cast<std::uint32_t>(id(*found));
    }
    throw config::ConfigError(config.source_file, std::nullopt, key,
                              "cannot look up \"" + name + "\" in the user database: " + std::strerror(rc),
                              "check /etc/nsswitch.conf and the name services it lists");
  }
}

std::optional<std::uint32_t> group_id(const config::Config& config, const std::string& key, const std::string& name) {
  return lookup_id<group>(config, key, name, ::getgrnam_r, [](const group& g) { return g.gr_gid; });
}

std::optional<std::uint32_t> user_id(const config::Config& config, const std::string& key, const std::string& name) {
  return lookup_id<passwd>(config, key, name, ::getpwnam_r, [](const passwd& p) { return p.pw_uid; });
}

// [edgeprov.ipc] admin_group names a group whose members may call admin methods (root always may);
// identity_principals names users and groups that may call identity.* besides the admins. Both are
// resolved once, here: a name that resolves to nothing is a configuration error, never silently ignored.
ipc::AdminPolicy admin_policy(const config::Config& config) {
  ipc::AdminPolicy policy;
  if (config.ipc.admin_group) {
    const std::string key = "edgeprov.ipc.admin_group";
    policy.admin_gid = group_id(config, key, *config.ipc.admin_group);
    if (!policy.admin_gid)
      throw config::ConfigError(config.source_file, std::nullopt, key,
                                "there is no group \"" + *config.ipc.admin_group + "\" on this system",
                                "create it (groupadd " + *config.ipc.admin_group + ") or remove the key");
  }
  const std::string key = "edgeprov.ipc.identity_principals";
  for (const auto& name : config.ipc.identity_principals) {
    // A name can be both a user and a group (a user's own group usually is): both count.
    const auto uid = user_id(config, key, name);
    const auto gid = group_id(config, key, name);
    if (!uid && !gid)
      throw config::ConfigError(config.source_file, std::nullopt, key,
                                "\"" + name + "\" is neither a user nor a group on this system",
                                "create it (useradd --system " + name + " or groupadd " + name +
                                    "), correct the name, or remove it from the list");
    if (uid) policy.identity_uids.push_back(*uid);
    if (gid) policy.identity_gids.push_back(*gid);
  }
  return policy;
}

}  // namespace

void add_platform_options(CLI::App&, LaunchOptions&) {}

std::uint64_t current_pid() { return static_cast<std::uint64_t>(::getpid()); }

int run(const LaunchOptions& options) {
  const auto file = options.config_file.empty() ? config::defaults().config_file : options.config_file;
  std::optional<config::Config> config;
  ipc::AdminPolicy policy;
  try {
    config = config::load(file);
    policy = admin_policy(*config);
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return exit_code::config;
  }

  std::optional<Logging> logging;
  try {
    logging.emplace(config->log, platform_sinks());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgeprovd: %s\n", e.what());
    return exit_code::config;
  }

  // A client that disappears mid-answer must cost its connection, never the process.
  std::signal(SIGPIPE, SIG_IGN);

  Daemon daemon(std::move(*config), *logging, policy);
  boost::asio::signal_set signals(daemon.io(), SIGTERM, SIGINT);
  signals.async_wait([&daemon](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    spdlog::info("received SIG{}: shutting down", ::sigabbrev_np(signal_number));
    notify_service_manager("STOPPING=1");
    daemon.request_stop();
  });

  try {
    daemon.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return exit_code::failure;
  }
  notify_service_manager("READY=1\nSTATUS=listening on " + daemon.config().ipc.endpoint);
  if (const auto period = watchdog_ping_period(environment("WATCHDOG_USEC"), environment("WATCHDOG_PID"), current_pid())) {
    spdlog::info("systemd watchdog: WATCHDOG=1 every {} ms from the io thread", period->count() / 1000);
    daemon.keep_alive(*period, [] { notify_service_manager("WATCHDOG=1"); });
  }
  daemon.run();
  return exit_code::ok;
}

}  // namespace edgeprov::service
