// edgeprovd on Linux: a foreground process, the same under systemd (Type=notify) and in a shell.
#include "service/lifecycle.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "service/daemon.h"

namespace edgeprov::service {

namespace {

// systemd connects stderr to the journal and names that stream in JOURNAL_STREAM ("device:inode").
// When stderr is still that stream, log to journald natively so each line keeps its priority.
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
  if (stderr_is_journal()) return {std::make_shared<spdlog::sinks::systemd_sink_mt>("edgeprovd")};
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
    ::sd_notify(0, "STOPPING=1");
    daemon.request_stop();
  });

  try {
    daemon.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return exit_code::failure;
  }
  ::sd_notifyf(0, "READY=1\nSTATUS=listening on %s", daemon.config().ipc.endpoint.c_str());
  daemon.run();
  return exit_code::ok;
}

}  // namespace edgeprov::service
