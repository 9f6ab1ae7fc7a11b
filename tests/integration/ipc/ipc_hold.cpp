// ipc_hold: a local user taking what the endpoint lets it take, run by the tests as another user (nobody)
// for a real peer identity. Prints one JSON line on stdout when done taking, then (connections,
// subscriptions) keeps everything open until it is killed.
//
//   ipc_hold ENDPOINT connections [METHOD]   opens connections, each calling METHOD (default status),
//                                            until one is refused: {"held":N,"refusal":{code,message,data}}
//   ipc_hold ENDPOINT subscriptions          the same, each connection calling subscribe
//   ipc_hold ENDPOINT flood COUNT            COUNT connections one after the other, each waiting for the
//                                            server's first line or its close: {"refused":R,"closed":C,"other":O}
//   ipc_hold ENDPOINT pipeline METHOD COUNT [PARAMS-JSON]
//                                            COUNT requests in one write on one connection; prints
//                                            {"answers":[{"id","code","message"[,"readAt"]}…]} (code 0: a
//                                            result; readAt: tpm.info's) and exits
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "ipc/client.h"

using namespace edgeprov::ipc;
using nlohmann::json;

namespace {

constexpr int most = 4096;  // a bound for a server that never refuses

[[noreturn]] void hold_until_killed(const json& report) {
  std::cout << report.dump() << std::endl;
  for (;;) ::pause();
}

int take(const std::string& endpoint, const std::string& method) {
  std::vector<std::unique_ptr<Client>> held;
  json refusal = nullptr;
  while (held.size() < most) {
    try {
      auto client = std::make_unique<Client>(endpoint, std::chrono::seconds(10));
      client->call(method);
      held.push_back(std::move(client));
    } catch (const ClientError& error) {
      if (error.rpc_error()) {
        refusal = {{"code", error.rpc_error()->code}, {"message", error.rpc_error()->message},
                   {"data", error.rpc_error()->data}};
      } else {
        refusal = {{"code", 0}, {"message", error.what()}, {"data", nullptr}};
      }
      break;
    }
  }
  hold_until_killed({{"held", held.size()}, {"refusal", refusal}});
}

int connect_to(const std::string& endpoint) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  endpoint.copy(address.sun_path, sizeof address.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::perror("connect");
    std::exit(2);
  }
  return fd;
}

// What the server says first on a connection that sends nothing: a refusal, or nothing before it closes.
int flood(const std::string& endpoint, int count) {
  int refused = 0, closed = 0, other = 0;
  for (int i = 0; i < count; ++i) {
    const int fd = connect_to(endpoint);
    std::string received;
    char chunk[4096];
    for (;;) {
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, 10000) <= 0) break;
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      received.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    const auto message = decode_incoming(received.substr(0, received.find('\n')));
    const auto* response = message ? std::get_if<Response>(&*message) : nullptr;
    if (response && response->error && response->error->code == errc::busy) {
      ++refused;
    } else if (received.empty()) {
      ++closed;
    } else {
      ++other;
    }
  }
  std::cout << json{{"refused", refused}, {"closed", closed}, {"other", other}}.dump() << std::endl;
  return 0;
}

int pipeline(const std::string& endpoint, const std::string& method, int count, const json& params) {
  const int fd = connect_to(endpoint);
  std::string requests;
  for (int id = 1; id <= count; ++id) requests += encode_request(id, method, params);
  for (std::string_view rest = requests; !rest.empty();) {
    const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      std::perror("send");
      return 2;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  LineFramer framer(1 << 20);
  json answers = json::array();
  char chunk[16384];
  while (static_cast<int>(answers.size()) < count) {
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, 30000) <= 0) break;
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    framer.feed(std::string_view(chunk, static_cast<std::size_t>(n)));
    while (auto line = framer.next()) {
      auto message = decode_incoming(*line);
      auto* response = message ? std::get_if<Response>(&*message) : nullptr;
      if (!response) continue;
      json answer = {{"id", response->id},
                     {"code", response->error ? response->error->code : 0},
                     {"message", response->error ? response->error->message : ""}};
      // tpm.info's read time: which TPM read answered it.
      if (response->result && response->result->is_object() && response->result->contains("readAt"))
        answer["readAt"] = (*response->result)["readAt"];
      answers.push_back(std::move(answer));
    }
  }
  std::cout << json{{"answers", answers}}.dump() << std::endl;
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[1] == "connections") return take(args[0], args.size() > 2 ? args[2] : "status");
  if (args.size() == 2 && args[1] == "subscriptions") return take(args[0], "subscribe");
  if (args.size() == 3 && args[1] == "flood") return flood(args[0], std::stoi(args[2]));
  if (args.size() >= 4 && args[1] == "pipeline")
    return pipeline(args[0], args[2], std::stoi(args[3]), args.size() > 4 ? json::parse(args[4]) : json());
  std::cerr << "usage: ipc_hold ENDPOINT connections [METHOD] | subscriptions | flood COUNT | pipeline METHOD COUNT [PARAMS]\n";
  return 64;
}
