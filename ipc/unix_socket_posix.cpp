// The Unix-socket listener. The socket file is world-connectable (0666) on purpose: any local user may
// call `status`; what a caller may do beyond that is decided per method from SO_PEERCRED, which the
// kernel fills and the client cannot forge — never from the file mode. Descriptors are budgeted: the
// process may open enough for max_connections (RLIMIT_NOFILE is raised, or start fails saying so), and
// if it still runs out, waiting clients are closed at once instead of hanging in the backlog.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "ipc/listener.h"

namespace edgeprov::ipc {
namespace {

namespace asio = boost::asio;
using asio::local::stream_protocol;
using boost::system::error_code;
namespace fs = std::filesystem;

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Descriptors the rest of edgeprovd may need besides the connections: the listening socket, the TPM,
// DPS connections, log and state files, the spare below.
constexpr rlim_t descriptor_headroom = 64;

// Makes room for every connection the limits admit: the soft RLIMIT_NOFILE is raised (up to the hard
// limit) when it is too low, as servers do; a hard limit too low for the configuration stops the start.
void reserve_descriptors(std::size_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t needed = static_cast<rlim_t>(max_connections) + descriptor_headroom;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    const rlim_t raised = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
    rlimit wanted{raised, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &wanted) == 0) limit.rlim_cur = raised;
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    fail(EMFILE, "edgeprovd may open only " + std::to_string(limit.rlim_cur) +
                     " files (RLIMIT_NOFILE), fewer than [edgeprov.ipc] max_connections = " +
                     std::to_string(max_connections) + " needs (" + std::to_string(needed) +
                     "): lower max_connections, or raise the limit (LimitNOFILE= in edgeprovd.service)");
  }
}

// A descriptor held in reserve: when accept() fails for lack of descriptors, it is closed so the waiting
// connections can be accepted and closed at once (their clients see the connection end instead of
// hanging), then taken back.
class SpareDescriptor {
 public:
  SpareDescriptor() : fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}
  ~SpareDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  SpareDescriptor(const SpareDescriptor&) = delete;
  SpareDescriptor& operator=(const SpareDescriptor&) = delete;

  // Accepts and closes waiting connections, up to `most`, for as long as the process is still out of
  // descriptors (once some are free again, the normal accept serves the rest); returns how many.
  std::size_t shed(int listen_fd, std::size_t most) {
    std::size_t closed = 0;
    while (closed < most) {
      if (fd_ >= 0) ::close(fd_);
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        ::close(fd);
        ++closed;
      }
      fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0 || fd_ < 0) break;  // nobody waiting, or the spare is lost to another thread for now
      const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (probe >= 0) {
        ::close(probe);
        break;
      }
    }
    return closed;
  }

 private:
  int fd_;
};

class UnixStream final : public Stream {
 public:
  UnixStream(stream_protocol::socket socket, Peer peer) : socket_(std::move(socket)), peer_(std::move(peer)) {}
  asio::any_io_executor executor() override { return socket_.get_executor(); }
  void async_read_some(asio::mutable_buffer buffer, Handler handler) override {
    socket_.async_read_some(buffer, std::move(handler));
  }
  void async_write(asio::const_buffer buffer, Handler handler) override {
    asio::async_write(socket_, buffer, std::move(handler));  // Asio sends with MSG_NOSIGNAL: no SIGPIPE
  }
  void close() override {
    error_code ignored;
    socket_.close(ignored);
  }
  const Peer& peer() const override { return peer_; }

 private:
  stream_protocol::socket socket_;
  Peer peer_;
};

// nullopt when the kernel cannot say (then the user database is asked instead).
std::optional<std::vector<std::uint32_t>> kernel_groups(int fd) {
#ifdef SO_PEERGROUPS
  // The peer's supplementary groups as the kernel holds them at connect time (Linux ≥ 4.13).
  std::vector<gid_t> groups(64);
  for (int tries = 0; tries < 4; ++tries) {
    socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
      groups.resize(length / sizeof(gid_t));
      return std::vector<std::uint32_t>(groups.begin(), groups.end());
    }
    if (errno != ERANGE) break;
    groups.resize(length / sizeof(gid_t) + 1);
  }
#else
  (void)fd;
#endif
  return std::nullopt;
}

Peer peer_of(int fd, const AdminPolicy& policy) {
  Peer peer;
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    spdlog::warn("ipc: SO_PEERCRED failed ({}); the caller is treated as unprivileged", std::strerror(errno));
    return peer;
  }
  peer.pid = static_cast<std::uint32_t>(credentials.pid);
  peer.uid = credentials.uid;
  peer.gid = credentials.gid;

  std::vector<char> buffer(16 * 1024);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(credentials.uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    peer.name = found->pw_name;
  } else {
    peer.name = "uid " + std::to_string(credentials.uid);
  }
  if (auto groups = kernel_groups(fd)) {
    peer.supplementary_gids = std::move(*groups);
  } else if (found) {
    // Older kernels: the groups the user database gives this user (getgrouplist on its name).
    std::vector<gid_t> groups(64);
    int count = static_cast<int>(groups.size());
    if (getgrouplist(found->pw_name, credentials.gid, groups.data(), &count) == -1) {
      groups.resize(static_cast<std::size_t>(count));
      if (getgrouplist(found->pw_name, credentials.gid, groups.data(), &count) == -1) count = 0;
    }
    peer.supplementary_gids.assign(groups.begin(), groups.begin() + count);
  }
  peer.admin = is_admin_posix(peer, policy);
  peer.identity_principal = is_identity_principal_posix(peer, policy);
  return peer;
}

// What is at `path` when we want to bind there: nothing, a socket nobody answers on (a previous
// instance that crashed), or a live server.
enum class Existing { none, stale, live };

Existing probe(const std::string& path) {
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return Existing::none;
    fail(errno, "cannot inspect the IPC endpoint " + path);
  }
  if (!S_ISSOCK(info.st_mode)) {
    fail(EEXIST, "the IPC endpoint " + path +
                     " exists and is not a socket: remove it, or set another [edgeprov.ipc] endpoint");
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(errno, "cannot create a socket to probe " + path);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  const int result = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  const int err = errno;
  ::close(fd);
  if (result == 0) return Existing::live;
  if (err == ECONNREFUSED) return Existing::stale;
  if (err == EAGAIN) return Existing::live;  // a live server with a full backlog
  fail(err, "cannot probe the existing IPC endpoint " + path + " (remove it if no edgeprovd runs)");
}

class UnixListener final : public Listener {
 public:
  UnixListener(asio::io_context& io, const ServerOptions& options)
      : io_(io),
        path_(options.endpoint),
        policy_(options.admin_policy),
        max_connections_(options.limits.max_connections),
        acceptor_(io) {}
  ~UnixListener() override { stop(); }

  void start() override {
    if (path_.empty()) fail(EINVAL, "no IPC endpoint configured: set [edgeprov.ipc] endpoint");
    if (path_.size() >= sizeof(sockaddr_un::sun_path)) {
      fail(ENAMETOOLONG, "the IPC endpoint " + path_ + " is longer than " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                             " bytes, the limit of a Unix socket path: choose a shorter path");
    }
    reserve_descriptors(max_connections_);
    make_directory();
    switch (probe(path_)) {
      case Existing::live:
        fail(EADDRINUSE, "another edgeprovd is already listening on " + path_ +
                             ": stop it first, or set another [edgeprov.ipc] endpoint");
      case Existing::stale:
        spdlog::info("ipc: removing the stale socket {} left by a previous run", path_);
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
          fail(errno, "cannot remove the stale socket " + path_ + ": remove it by hand");
        }
        break;
      case Existing::none:
        break;
    }
    error_code ec;
    acceptor_.open(stream_protocol(), ec);
    if (!ec) acceptor_.bind(stream_protocol::endpoint(path_), ec);
    if (ec) {
      acceptor_.close();
      const int err = ec.value();
      fail(err, err == EACCES ? "permission denied creating the IPC socket " + path_ +
                                    ": run edgeprovd as root, or set an [edgeprov.ipc] endpoint in a directory "
                                    "it may write"
                              : err == EADDRINUSE ? "another edgeprovd is already listening on " + path_
                                                  : "cannot create the IPC socket " + path_ + ": " + ec.message());
    }
    struct stat info {};
    if (::stat(path_.c_str(), &info) == 0) bound_inode_ = info.st_ino;
    // 0666: every local user may connect; authorization is per method (SO_PEERCRED), see above.
    if (::chmod(path_.c_str(), 0666) != 0) {
      const int err = errno;
      stop();
      fail(err, "cannot set the mode of the IPC socket " + path_);
    }
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      const int err = ec.value();
      stop();
      fail(err, "cannot listen on the IPC socket " + path_ + ": " + ec.message());
    }
  }

  void async_accept(AcceptHandler handler) override {
    // Each connection gets its own strand; the handler captures no `this`, so a listener destroyed
    // with an accept pending is never touched again (the spare is shared for that reason).
    acceptor_.async_accept(
        asio::make_strand(io_), [policy = policy_, spare = spare_, listen_fd = acceptor_.native_handle(),
                                 handler = std::move(handler)](const error_code& ec,
                                                               stream_protocol::socket socket) mutable {
          if (ec) {
            if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
              const std::size_t shed = spare->shed(listen_fd, 64);
              spdlog::error("ipc: out of file descriptors; closed {} waiting connection(s) unanswered", shed);
            }
            handler(ec, Accepted{});
            return;
          }
          Peer peer = peer_of(socket.native_handle(), policy);
          handler(ec, Accepted{std::make_unique<UnixStream>(std::move(socket), std::move(peer))});
        });
  }

  void stop() override {
    error_code ignored;
    if (acceptor_.is_open()) acceptor_.close(ignored);
    if (bound_inode_) {
      // Only our own socket: a successor that already replaced it keeps its file.
      struct stat info {};
      if (::stat(path_.c_str(), &info) == 0 && info.st_ino == *bound_inode_) ::unlink(path_.c_str());
      bound_inode_.reset();
    }
  }

 private:
  void make_directory() {
    const fs::path directory = fs::path(path_).parent_path();
    if (directory.empty()) return;
    std::error_code ec;
    if (fs::is_directory(directory, ec)) return;
    // /run/edgeprov: 0755 so local users can reach the socket inside it.
    std::vector<fs::path> created;
    for (fs::path p = directory; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
      created.push_back(p);
      if (p == p.parent_path()) break;
    }
    fs::create_directories(directory, ec);
    if (ec) {
      fail(ec.value(), "cannot create the directory " + directory.string() + " for the IPC endpoint: " +
                           (ec.value() == EACCES ? "run edgeprovd as root, or set another [edgeprov.ipc] endpoint"
                                                 : ec.message()));
    }
    for (const auto& p : created) ::chmod(p.c_str(), 0755);
  }

  asio::io_context& io_;
  std::string path_;
  AdminPolicy policy_;
  std::size_t max_connections_;
  stream_protocol::acceptor acceptor_;
  std::shared_ptr<SpareDescriptor> spare_ = std::make_shared<SpareDescriptor>();
  std::optional<ino_t> bound_inode_;
};

}  // namespace

std::unique_ptr<Listener> make_listener(asio::io_context& io, const ServerOptions& options) {
  return std::make_unique<UnixListener>(io, options);
}

}  // namespace edgeprov::ipc
