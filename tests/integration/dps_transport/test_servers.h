// In-test network peers for the HTTPS transport: a Beast HTTPS server and an HTTP CONNECT proxy, each
// on a free loopback port with its own io_context thread. They count what they see so tests can check
// connection reuse, tunnels and credentials. Tests only.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/dps_transport/test_pki.h"

namespace edgeprov::test {

struct SeenRequest {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // lowercase names
};

struct ServerReply {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
};

struct HttpsServerOptions {
  CertKey identity;
  std::optional<std::filesystem::path> client_ca;  // set: a client certificate signed by it is required
  int close_after_responses = 0;                   // > 0: silently close each connection after that many
  bool stall = false;                              // read requests, never answer
  std::function<ServerReply(const SeenRequest&)> reply = [](const SeenRequest&) { return ServerReply{}; };
};

class TestHttpsServer {
 public:
  explicit TestHttpsServer(HttpsServerOptions options);
  ~TestHttpsServer();
  unsigned short port() const { return port_; }
  int handshakes() const;
  std::vector<SeenRequest> requests() const;
  // Until this server has closed `n` connections itself (close_after_responses); false on timeout.
  bool wait_for_closes(int n, std::chrono::milliseconds timeout) const;

  struct State;

 private:
  std::shared_ptr<State> state_;
  unsigned short port_ = 0;
  std::thread thread_;
};

// A CONNECT-only proxy that requires "Proxy-Authorization: Basic base64(user:password)".
class TestConnectProxy {
 public:
  TestConnectProxy(std::string user, std::string password);
  ~TestConnectProxy();
  unsigned short port() const { return port_; }
  int tunnels() const;
  int refusals() const;
  std::vector<std::string> targets() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
  unsigned short port_ = 0;
  std::thread thread_;
};

}  // namespace edgeprov::test
