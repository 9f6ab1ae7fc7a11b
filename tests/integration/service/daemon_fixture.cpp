#include "tests/integration/service/daemon_fixture.h"

#include "tests/support/notify.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace edgeprov::test {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

std::string edgeprov_tables(const fs::path& dir) {
  return fmt::format(R"(
[edgeprov.ipc]
endpoint = "{0}/edgeprov.sock"

[edgeprov.state]
dir = "{0}/state"

[edgeprov.log]
level = "debug"
)",
                     dir.string());
}

}  // namespace

// Neither the TPM nor DPS of these configurations answers: loopback ports nobody listens on, so the
// service keeps retrying (and never reaches the network) while the tests look at its local API.
std::string tpm_config(const fs::path& dir) {
  return fmt::format(R"([provisioning]
source = "dps"
global_endpoint = "https://127.0.0.1:{}/"
id_scope = "0ne00000A0A"

[provisioning.attestation]
method = "tpm"

[tpm]
tcti = "swtpm:host=127.0.0.1,port={}"
)",
                     free_loopback_port(), free_loopback_port()) +
         edgeprov_tables(dir);
}

std::string symmetric_key_config(const fs::path& dir) {
  return fmt::format(R"([provisioning]
source = "dps"
global_endpoint = "https://127.0.0.1/"
id_scope = "0ne00000B0B"

[provisioning.attestation]
method = "symmetric_key"
registration_id = "sensor-17"
symmetric_key = {{ value = "{}" }}

[edgeprov.dps]
transport = "mqtt"
mqtt_port = {}
)",
                     demo_symmetric_key, free_loopback_port()) +
         edgeprov_tables(dir);
}

DaemonFixture::DaemonFixture(ConfigFor config, std::map<std::string, std::string> env) {
  fs::create_directories(dir_ / "state");
  write_file(config_file(), config(dir_.path()));
  process_ = start_until_ready({.argv = {(bin_dir() / "edgeprovd").string(), "--config", config_file().string()},
                                .env = std::move(env),
                                .log_file = dir_ / "edgeprovd.log"},
                               dir_ / "notify.sock");
}

DaemonFixture::~DaemonFixture() { process_->stop(); }

RunResult DaemonFixture::ctl(std::vector<std::string> args, std::optional<std::string> user) const {
  args.insert(args.begin(), {"--endpoint", socket().string()});
  return run_ctl(std::move(args), std::move(user));
}

RunResult run_ctl(std::vector<std::string> args, std::optional<std::string> user) {
  args.insert(args.begin(), (bin_dir() / "edgeprovctl").string());
  return run(ProcessOptions{.argv = std::move(args), .run_as_user = std::move(user)}, seconds(30));
}

RawConnection::RawConnection(const fs::path& socket) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::runtime_error("connect " + socket.string() + ": " + std::strerror(error));
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::string> RawConnection::read_line(milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    if (const auto end = buffer_.find('\n'); end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      return line;
    }
    const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

bool RawConnection::closed_by_peer(milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

}  // namespace edgeprov::test
