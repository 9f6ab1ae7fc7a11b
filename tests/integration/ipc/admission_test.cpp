// Admission control on a real socket with real peers: ipc_hold runs as `nobody`, `daemon` and `bin`
// (the kernel reports their uids through SO_PEERCRED) and takes connections, subscriptions or requests
// until refused; the test process itself is root, an administrator. Every wait is for an event: the
// helper's report line, a connection closing, or the server's own counters.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "ipc/client.h"
#include "tests/integration/ipc/ipc_hold.h"
#include "tests/integration/ipc/server_fixture.h"

using namespace edgeprov;
using namespace edgeprov::ipc;
using namespace edgeprov::test;
using namespace std::chrono_literals;
using nlohmann::json;
using Catch::Matchers::ContainsSubstring;

namespace {

ServerOptions limits(std::size_t max, std::size_t reserved, std::size_t per_user, std::size_t requests = 32,
                     std::size_t subscriptions = 8) {
  ServerOptions options;
  options.limits = {.max_connections = max,
                    .admin_reserved_connections = reserved,
                    .max_connections_per_user = per_user,
                    .max_requests_per_user = requests,
                    .max_subscriptions_per_user = subscriptions};
  return options;
}

std::uint32_t uid_of(const char* user) {
  const passwd* entry = ::getpwnam(user);
  REQUIRE(entry);
  return entry->pw_uid;
}

std::size_t open_descriptors() {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("a user at its connection limit is refused naming the limit and itself; root and another user are still served") {
  REQUIRE(::geteuid() == 0);
  Fixture fixture(limits(64, 8, 5));
  Held nobody("nobody", fixture.path(), {"connections"});
  INFO(nobody.report().dump());
  CHECK(nobody.report()["held"] == 5);
  const json& refusal = nobody.report()["refusal"];
  CHECK(refusal["code"] == errc::busy);
  CHECK(refusal["data"]["limit"] == "connections_per_user");
  CHECK(refusal["data"]["value"] == 5);
  CHECK_THAT(refusal["data"]["caller"].get<std::string>(),
             ContainsSubstring("nobody (uid " + std::to_string(uid_of("nobody")) + ")"));
  CHECK_THAT(refusal["message"].get<std::string>(), ContainsSubstring("max_connections_per_user"));
  CHECK(fixture.server().connection_count() == 5);

  Client root(fixture.path());
  CHECK(root.call("status")["state"] == "starting");
  CHECK(root.call("admin.only") == "granted");
  const auto other = call_as("daemon", fixture.path(), "status");
  INFO(other.output);
  CHECK(other.status.code == 0);
  CHECK_THAT(other.output, ContainsSubstring("starting"));
  // nobody itself gets nothing more while it holds its five.
  const auto more = call_as("nobody", fixture.path(), "status");
  CHECK(more.status.code == 1);
  CHECK_THAT(more.output, ContainsSubstring("rpc-error -32003"));

  nobody.release();
  REQUIRE(connections_become(fixture.server(), 1));  // root's
  const auto again = call_as("nobody", fixture.path(), "status");
  INFO(again.output);
  CHECK(again.status.code == 0);
}

TEST_CASE("users together get all but the administrators' reserve; root then gets the reserve and no more") {
  REQUIRE(::geteuid() == 0);
  Fixture fixture(limits(12, 4, 4));  // users' share: 8
  Held nobody("nobody", fixture.path(), {"connections"});
  Held daemon("daemon", fixture.path(), {"connections"});
  CHECK(nobody.report()["held"] == 4);
  CHECK(daemon.report()["held"] == 4);
  CHECK(daemon.report()["refusal"]["data"]["limit"] == "connections_per_user");

  // A third user holds nothing, yet is refused: the users' share is taken.
  const json third = run_hold("bin", fixture.path(), {"flood", "1"});
  CHECK(third["refused"] == 1);
  const auto bin = call_as("bin", fixture.path(), "status");
  INFO(bin.output);
  CHECK(bin.status.code == 1);
  CHECK_THAT(bin.output, ContainsSubstring("callers that are not administrators hold 8 connections"));

  // Root gets the four reserved connections, then is refused at the overall limit.
  std::vector<std::unique_ptr<Client>> root;
  for (int i = 0; i < 4; ++i) {
    root.push_back(std::make_unique<Client>(fixture.path()));
    CHECK(root.back()->call("status")["state"] == "starting");
  }
  try {
    Client(fixture.path()).call("status");
    FAIL("a thirteenth connection was admitted");
  } catch (const ClientError& error) {
    REQUIRE(error.rpc_error());
    CHECK(error.rpc_error()->code == errc::busy);
    CHECK(error.rpc_error()->data["limit"] == "connections");
    CHECK(error.rpc_error()->data["value"] == 12);
  }
}

TEST_CASE("a user's subscriptions beyond its limit are refused; root and another user still subscribe") {
  REQUIRE(::geteuid() == 0);
  Fixture fixture(limits(64, 8, 16, 32, 3));
  Held nobody("nobody", fixture.path(), {"subscriptions"});
  INFO(nobody.report().dump());
  CHECK(nobody.report()["held"] == 3);
  const json& refusal = nobody.report()["refusal"];
  CHECK(refusal["code"] == errc::busy);
  CHECK(refusal["data"]["limit"] == "subscriptions_per_user");
  CHECK(refusal["data"]["value"] == 3);
  CHECK_THAT(refusal["message"].get<std::string>(), ContainsSubstring("refused 'subscribe' from nobody"));
  // The refused subscriber's connection closed after the refusal: nobody holds exactly its three.
  REQUIRE(connections_become(fixture.server(), 3));

  Client root(fixture.path());
  CHECK(root.call("subscribe") == true);
  Held daemon("daemon", fixture.path(), {"subscriptions"});
  CHECK(daemon.report()["held"] == 3);
  // Subscriptions outlive the idle limit, so the limit is what bounds them: nobody still holds three.
  auto sink = fixture.sink();
  REQUIRE(sink);
  CHECK(sink->notify("status.changed", json{{"state", "provisioned"}}));
}

TEST_CASE("a user's requests beyond its limit in flight are answered -32003 in order; root's are all served") {
  REQUIRE(::geteuid() == 0);
  Fixture fixture(limits(64, 8, 16, 4));
  const json nobody = run_hold("nobody", fixture.path(), {"pipeline", "slow", "6", R"({"ms":400})"});
  INFO(nobody.dump());
  REQUIRE(nobody["answers"].size() == 6);
  for (int i = 0; i < 4; ++i) CHECK(nobody["answers"][i]["code"] == 0);
  for (int i = 4; i < 6; ++i) {
    CHECK(nobody["answers"][i]["id"] == i + 1);
    CHECK(nobody["answers"][i]["code"] == errc::busy);
    CHECK_THAT(nobody["answers"][i]["message"].get<std::string>(),
               ContainsSubstring("refused 'slow' from nobody"));
    CHECK_THAT(nobody["answers"][i]["message"].get<std::string>(), ContainsSubstring("max_requests_per_user"));
  }
  const json root = run_hold("root", fixture.path(), {"pipeline", "slow", "6", R"({"ms":100})"});
  REQUIRE(root["answers"].size() == 6);
  for (const auto& answer : root["answers"]) CHECK(answer["code"] == 0);
}

TEST_CASE("a flood of refused connections is answered and closed at once, and leaves no descriptor behind") {
  REQUIRE(::geteuid() == 0);
  Fixture fixture(limits(64, 8, 2));
  Held nobody("nobody", fixture.path(), {"connections"});
  REQUIRE(nobody.report()["held"] == 2);
  const std::size_t before = open_descriptors();
  const json flood = run_hold("nobody", fixture.path(), {"flood", "500"});
  CHECK(flood["refused"] == 500);
  CHECK(flood["closed"] == 0);
  CHECK(flood["other"] == 0);
  CHECK(fixture.server().connection_count() == 2);
  // The server closed every refused connection as it answered it.
  CHECK(open_descriptors() <= before);
}

TEST_CASE("a connection that sends no complete request is closed after first_request_timeout, a working one is not") {
  ServerOptions options;
  options.first_request_timeout = 1s;
  options.idle_timeout = 30s;
  Fixture fixture(options);
  Raw silent(fixture.path());
  Raw half(fixture.path());
  half.send(R"({"jsonrpc":"2.0","id":1,"met)");
  Raw working(fixture.path());
  working.send(request(1, "status"));
  CHECK(working.message()["id"] == 1);
  const auto started = std::chrono::steady_clock::now();
  CHECK(silent.closed_within(5s));
  CHECK(half.closed_within(5s));
  CHECK(std::chrono::steady_clock::now() - started >= 500ms);
  working.send(request(2, "status"));
  CHECK(working.message()["id"] == 2);
}

TEST_CASE("out of file descriptors, waiting clients are closed at once, and service resumes when some are free") {
  Fixture fixture;
  // The clients' sockets first: connecting them later takes no descriptor.
  std::vector<int> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit tight{std::min<rlim_t>(saved.rlim_cur, 256), saved.rlim_max};
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  // Then every descriptor left is taken: the server's accept() fails with EMFILE from now on.
  std::vector<int> taken;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) taken.push_back(fd);
  const int exhausted = errno;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  fixture.path().copy(address.sun_path, sizeof address.sun_path - 1);
  int closed_at_once = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int fd : clients) {
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    pollfd entry{fd, POLLIN, 0};
    char byte;
    // The server sheds it at its next attempt to accept (within 100 ms): end of stream, no answer.
    if (::poll(&entry, 1, 5000) == 1 && ::recv(fd, &byte, 1, 0) == 0) ++closed_at_once;
  }
  const auto took = std::chrono::steady_clock::now() - started;
  for (int fd : taken) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  for (int fd : clients) ::close(fd);
  CHECK(exhausted == EMFILE);
  CHECK(closed_at_once == 5);
  CHECK(took < 5s);  // generous: each waits for one retry of accept (100 ms)
  CHECK(fixture.server().connection_count() == 0);
  // Descriptors are free again: served as ever once the server has retried accept (a client that
  // arrives before that is still closed unanswered).
  std::optional<json> status;
  std::string failures;
  for (int attempt = 0; attempt < 50 && !status; ++attempt) {
    try {
      status = Client(fixture.path(), 5s).call("status");
    } catch (const ClientError& error) {
      failures += std::string(error.what()) + "\n";
    }
  }
  INFO(failures);
  REQUIRE(status);
  CHECK((*status)["state"] == "starting");
}
