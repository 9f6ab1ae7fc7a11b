// The server on a real Unix socket in a temp directory, run on its own io_context thread in this
// process; clients are raw sockets (to send exactly the bytes a test needs), ipc::Client, and the
// ipc_call program run as `nobody` for a real unprivileged peer.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <system_error>
#include <thread>

#include "ipc/client.h"
#include "tests/integration/ipc/server_fixture.h"

using namespace edgeprov;
using namespace edgeprov::ipc;
using namespace edgeprov::test;
using namespace std::chrono_literals;
using nlohmann::json;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("a client calls status and gets the result back") {
  Fixture fixture;
  Client client(fixture.path());
  CHECK(client.call("status") == json{{"state", "starting"}});
  CHECK(client.call("echo", json{{"k", "v"}}) == json{{"k", "v"}});
  CHECK(client.call("version")["version"] == "0.1.0");
}

TEST_CASE("the socket is world-connectable, its new directory is 0755, and stop removes it") {
  std::string path;
  {
    Fixture fixture;
    path = fixture.path();
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    CHECK(S_ISSOCK(info.st_mode));
    CHECK((info.st_mode & 0777) == 0666);
    REQUIRE(::stat(std::filesystem::path(path).parent_path().c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0755);
    fixture.server().stop();
    CHECK_FALSE(std::filesystem::exists(path));
  }
}

TEST_CASE("requests pipelined in one write are answered in order, even when the first completes late") {
  Fixture fixture;
  Raw raw(fixture.path());
  raw.send(request(1, "slow", json{{"ms", 200}}) + request(2, "status") +
           R"({"jsonrpc":"2.0","method":"status"})" "\n"  // a notification: never answered
           + "not json\n" + request(3, "echo", json{1, 2}) + request(4, "slow", json{{"ms", 10}}) +
           request(5, "nope"));
  auto first = raw.message();
  CHECK(first["id"] == 1);
  CHECK(first["result"] == "slow done");
  CHECK(raw.message()["id"] == 2);
  auto parse_error = raw.message();
  CHECK(parse_error["id"].is_null());
  CHECK(parse_error["error"]["code"] == errc::parse_error);
  CHECK(raw.message()["result"] == json{1, 2});
  CHECK(raw.message()["id"] == 4);
  auto missing = raw.message();
  CHECK(missing["id"] == 5);
  CHECK(missing["error"]["code"] == errc::method_not_found);
  CHECK_FALSE(raw.line(300ms));  // nothing for the notification
}

TEST_CASE("a client that half-closes after its requests gets every answer, then EOF") {
  Fixture fixture;
  Raw raw(fixture.path());
  raw.send(request(1, "slow", json{{"ms", 100}}) + request(2, "status"));
  ::shutdown(raw.fd(), SHUT_WR);  // what `nc -N` and socat do once stdin ends
  CHECK(raw.message()["result"] == "slow done");
  CHECK(raw.message()["id"] == 2);
  CHECK(raw.closed_within(5s));
}

TEST_CASE("requests split across writes at odd places and ended with CRLF are answered") {
  Fixture fixture;
  Raw raw(fixture.path());
  const std::string line = R"({"jsonrpc":"2.0","id":"x","method":"status"})";
  // Each part is a read of its own: the server has nothing to answer until the line is whole.
  raw.send(line.substr(0, 10));
  CHECK_FALSE(raw.line(50ms));
  raw.send(line.substr(10) + "\r");
  CHECK_FALSE(raw.line(50ms));
  raw.send("\n");
  auto answer = raw.message();
  CHECK(answer["id"] == "x");
  CHECK(answer["result"]["state"] == "starting");
}

TEST_CASE("64 concurrent clients are all answered") {
  Fixture fixture;
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 64; ++c) {
    clients.emplace_back([&, c] {
      try {
        Client client(fixture.path());
        for (int i = 0; i < 20; ++i) {
          if (client.call("echo", json{{"c", c}, {"i", i}}) == json{{"c", c}, {"i", i}}) ++answered;
        }
      } catch (const std::exception&) {
        ++failed;
      }
    });
  }
  for (auto& client : clients) client.join();
  CHECK(failed == 0);
  CHECK(answered == 64 * 20);
}

TEST_CASE("a 65 KiB line is answered message_too_large and closed while other clients keep working") {
  Fixture fixture;
  Client other(fixture.path());
  CHECK(other.call("status")["state"] == "starting");

  Raw big(fixture.path());
  std::string huge = R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[")" + std::string(65 * 1024, 'a') + "\"]}\n";
  big.send(request(0, "status") + huge);
  CHECK(big.message()["id"] == 0);  // what came before the oversized line is still answered
  auto error = big.message();
  CHECK(error["error"]["code"] == errc::message_too_large);
  CHECK(error["id"].is_null());
  CHECK(big.closed_within(5s));

  CHECK(other.call("status")["state"] == "starting");
  Client fresh(fixture.path());
  CHECK(fresh.call("echo", json{{"n", 1}}) == json{{"n", 1}});
}

TEST_CASE("a line of exactly 64 KiB is accepted") {
  Fixture fixture;
  Raw raw(fixture.path());
  const std::string head = R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[")";
  const std::string tail = "\"]}";
  std::string line = head + std::string(max_message_bytes - head.size() - tail.size(), 'b') + tail;
  REQUIRE(line.size() == max_message_bytes);
  raw.send(line + "\n");
  auto answer = raw.message();
  CHECK(answer["id"] == 1);
  CHECK(answer["result"][0].get<std::string>().size() == max_message_bytes - head.size() - tail.size());
}

TEST_CASE("an answer over the limit is replaced by an error and the connection stays open") {
  Fixture fixture;
  Raw raw(fixture.path());
  raw.send(request(1, "bytes", json{{"n", max_message_bytes}}));
  auto answer = raw.message();
  CHECK(answer["id"] == 1);
  CHECK(answer["error"]["code"] == errc::internal_error);
  CHECK_THAT(answer["error"]["message"].get<std::string>(), ContainsSubstring("'bytes'"));
  raw.send(request(2, "bytes", json{{"n", 10}}));
  CHECK(raw.message()["result"] == "xxxxxxxxxx");
}

TEST_CASE("garbage bytes get parse errors and the connection keeps working") {
  Fixture fixture;
  Raw raw(fixture.path());
  const char bytes[] = "\x00\x01\x02\xff\xfe{{{\n\x80\x81\n]]]\n";
  std::string garbage(bytes, sizeof bytes - 1);
  raw.send(garbage);
  for (int i = 0; i < 3; ++i) CHECK(raw.message()["error"]["code"] == errc::parse_error);
  raw.send(request(9, "status"));
  CHECK(raw.message()["id"] == 9);
}

TEST_CASE("invalid UTF-8 in a request is a parse error, not a dropped connection") {
  Fixture fixture;
  Raw raw(fixture.path());
  raw.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sta\xc3\x28tus\"}\n");
  auto error = raw.message();
  CHECK(error["error"]["code"] == errc::parse_error);
  raw.send(request(2, "echo", json{{"text", "h\xc3\xa9llo"}}));
  CHECK(raw.message()["result"]["text"] == "h\xc3\xa9llo");
}

TEST_CASE("a client that connects and never sends does not block others") {
  Fixture fixture;
  Raw silent(fixture.path());
  Raw half(fixture.path());
  half.send(R"({"jsonrpc":"2.0","id":1,"met)");  // and never finishes
  Client client(fixture.path(), 2s);
  for (int i = 0; i < 10; ++i) CHECK(client.call("status")["state"] == "starting");
}

TEST_CASE("an idle connection is closed after the idle timeout") {
  ServerOptions options;
  options.idle_timeout = 1s;
  Fixture fixture(options);
  Raw idle(fixture.path());
  Raw busy(fixture.path());
  const auto start = std::chrono::steady_clock::now();
  // `busy` asks something at least every 300 ms until the server closes `idle`.
  bool closed = false;
  for (int i = 0; i < 20 && !closed; ++i) {
    busy.send(request(i, "status"));
    CHECK(busy.message()["id"] == i);
    closed = idle.closed_within(300ms);
  }
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - start >= 1s);
  busy.send(request(99, "status"));
  CHECK(busy.message()["id"] == 99);
}

TEST_CASE("a connection held open for notifications outlives the idle timeout and still gets them") {
  ServerOptions options;
  options.idle_timeout = 1s;
  Fixture fixture(options);
  Raw held(fixture.path());
  held.send(request(1, "subscribe"));
  CHECK(held.message()["result"] == true);
  // A connection opened after the subscription and closed as idle: the idle timeout has passed since.
  Raw idle(fixture.path());
  CHECK(idle.closed_within(3s));
  auto sink = fixture.sink();
  REQUIRE(sink);
  CHECK(sink->notify("status.changed", json{{"state", "provisioned"}}));
  auto note = held.message(5s);
  CHECK(note["method"] == "status.changed");
  CHECK(note["params"]["state"] == "provisioned");
}

TEST_CASE("a connection waiting for a slow method is not closed as idle") {
  ServerOptions options;
  options.idle_timeout = 1s;
  Fixture fixture(options);
  Raw raw(fixture.path());
  raw.send(request(1, "slow", json{{"ms", 1500}}));
  auto answer = raw.message(5s);
  CHECK(answer["result"] == "slow done");
}

TEST_CASE("beyond the connection limit a client gets busy and is closed") {
  ServerOptions options;
  options.limits.max_connections = 2;  // the test runs as root: an administrator, refused only at this
  options.limits.admin_reserved_connections = 1;
  Fixture fixture(options);
  Client first(fixture.path());
  Client second(fixture.path());
  CHECK(first.call("status")["state"] == "starting");
  CHECK(second.call("status")["state"] == "starting");
  CHECK(fixture.server().connection_count() == 2);

  Raw third(fixture.path());
  auto busy = third.message();
  CHECK(busy["error"]["code"] == errc::busy);
  CHECK(busy["error"]["data"]["limit"] == "connections");
  CHECK(busy["error"]["data"]["value"] == 2);
  CHECK_THAT(busy["error"]["message"].get<std::string>(), ContainsSubstring("at its limit of 2 open connections"));
  CHECK(third.closed_within(5s));

  Client(fixture.path());  // still refused while two are open
  { Client gone = std::move(first); }
  REQUIRE(connections_become(fixture.server(), 1));
  Client later(fixture.path());
  CHECK(later.call("status")["state"] == "starting");
}

TEST_CASE("a client that pipelines without reading its answers is not read further, and others are unaffected") {
  Fixture fixture;
  Raw greedy(fixture.path());
  const int flags = ::fcntl(greedy.fd(), F_GETFL);
  ::fcntl(greedy.fd(), F_SETFL, flags | O_NONBLOCK);
  const std::string line = request(1, "echo", json{{"padding", std::string(900, 'p')}});
  std::size_t sent = 0;
  bool blocked = false;
  // Bounded: 64 MiB would be far beyond what the server may buffer for one connection.
  while (sent < 64u * 1024 * 1024) {
    const ssize_t n = ::send(greedy.fd(), line.data(), line.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Writable again once the server reads more; it does not within a second when it stopped reading.
      pollfd entry{greedy.fd(), POLLOUT, 0};
      if (::poll(&entry, 1, 1000) == 0) {
        blocked = true;
        break;
      }
      continue;
    }
    REQUIRE(n > 0);
    sent += static_cast<std::size_t>(n);
  }
  CHECK(blocked);
  INFO("bytes accepted before the server stopped reading: " << sent);
  CHECK(sent < 16u * 1024 * 1024);
  Client other(fixture.path(), 2s);
  CHECK(other.call("status")["state"] == "starting");
}

TEST_CASE("a stale socket file from a crashed run is replaced") {
  test::TempDir dir;
  const std::string path = (dir / "edgeprov.sock").string();
  {
    // A bound socket whose process is gone: the file stays, nobody listens.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    ::close(fd);
  }
  REQUIRE(std::filesystem::exists(path));
  ServerOptions options;
  options.endpoint = path;
  Fixture fixture(options);
  Client client(path);
  CHECK(client.call("status")["state"] == "starting");
}

TEST_CASE("a second server on the same path is refused and the first keeps serving") {
  Fixture fixture;
  boost::asio::io_context io;
  Dispatcher dispatcher;
  ServerOptions options;
  options.endpoint = fixture.path();
  Server second(io, options, dispatcher);
  try {
    second.start();
    FAIL("the second server started");
  } catch (const std::system_error& error) {
    CHECK_THAT(error.what(), ContainsSubstring("another edgeprovd is already listening on " + fixture.path()));
  }
  Client client(fixture.path());
  CHECK(client.call("status")["state"] == "starting");
}

TEST_CASE("a regular file at the endpoint is not removed and start says so") {
  test::TempDir dir;
  const std::string path = (dir / "edgeprov.sock").string();
  test::write_file(path, "not a socket");
  boost::asio::io_context io;
  Dispatcher dispatcher;
  ServerOptions options;
  options.endpoint = path;
  Server server(io, options, dispatcher);
  CHECK_THROWS_WITH(server.start(), ContainsSubstring("is not a socket"));
  CHECK(test::read_file(path) == "not a socket");
}

TEST_CASE("a client gets an unreachable error naming the endpoint when no server runs") {
  test::TempDir dir;
  const std::string path = (dir / "none.sock").string();
  try {
    Client client(path);
    FAIL("connected to nothing");
  } catch (const ClientError& error) {
    CHECK(error.kind() == ClientError::Kind::unreachable);
    CHECK_THAT(error.what(), ContainsSubstring(path));
    CHECK_THAT(error.what(), ContainsSubstring("not running"));
  }
}

TEST_CASE("a client times out when the server does not answer in time") {
  Fixture fixture;
  Client client(fixture.path(), 200ms);
  try {
    client.call("slow", json{{"ms", 1000}});
    FAIL("answered");
  } catch (const ClientError& error) {
    CHECK(error.kind() == ClientError::Kind::timeout);
  }
  // The late answer of the abandoned call is skipped, not taken for the next one.
  client.set_timeout(5s);
  CHECK(client.call("echo", json{{"after", true}}) == json{{"after", true}});
}

TEST_CASE("notifications reach the subscribed connection, also while a call waits") {
  Fixture fixture;
  Client client(fixture.path());
  CHECK(client.call("subscribe") == true);
  auto sink = fixture.sink();
  REQUIRE(sink);
  std::thread notifier([&] { CHECK(sink->notify("status.changed", json{{"state", "provisioning"}})); });
  notifier.join();
  auto first = client.next_notification(5s);
  REQUIRE(first);
  CHECK(first->method == "status.changed");
  CHECK(first->params["state"] == "provisioning");

  // One queued while a call is in flight is kept for next_notification.
  CHECK(sink->notify("status.changed", json{{"state", "provisioned"}}));
  CHECK(client.call("status")["state"] == "starting");
  auto second = client.next_notification(5s);
  REQUIRE(second);
  CHECK(second->params["state"] == "provisioned");
  CHECK_FALSE(client.next_notification(200ms));
}

TEST_CASE("notify reports false once the connection is closed") {
  Fixture fixture;
  std::shared_ptr<NotificationSink> sink;
  {
    Client client(fixture.path());
    client.call("subscribe");
    sink = fixture.sink();
    REQUIRE(sink);
  }
  REQUIRE(connections_become(fixture.server(), 0));  // the server has read the client's EOF
  CHECK_FALSE(sink->notify("status.changed", json::object()));
}

TEST_CASE("root is an admin and is granted the admin method") {
  REQUIRE(::geteuid() == 0);  // the test machines run the suite as root; nobody below needs it too
  Fixture fixture;
  Client client(fixture.path());
  auto who = client.call("whoami");
  CHECK(who["uid"] == 0);
  CHECK(who["admin"] == true);
  CHECK(client.call("admin.only") == "granted");
}

TEST_CASE("nobody may call status but is refused the admin method with unauthorized") {
  REQUIRE(::geteuid() == 0);
  Fixture fixture;
  auto status = call_as("nobody", fixture.path(), "status");
  INFO(status.output);
  CHECK(status.status.code == 0);
  CHECK(json::parse(status.output)["state"] == "starting");

  auto who = call_as("nobody", fixture.path(), "whoami");
  INFO(who.output);
  REQUIRE(who.status.code == 0);
  CHECK(json::parse(who.output)["uid"] == ::getpwnam("nobody")->pw_uid);
  CHECK(json::parse(who.output)["admin"] == false);

  auto refused = call_as("nobody", fixture.path(), "admin.only");
  INFO(refused.output);
  CHECK(refused.status.code == 1);
  CHECK_THAT(refused.output, ContainsSubstring("rpc-error -32001"));
  CHECK_THAT(refused.output, ContainsSubstring("administrators only"));
  CHECK_THAT(refused.output, ContainsSubstring("root"));
}

TEST_CASE("a member of the configured admin group is granted the admin method") {
  REQUIRE(::geteuid() == 0);
  const passwd* nobody = ::getpwnam("nobody");
  REQUIRE(nobody);
  ServerOptions options;
  options.admin_policy.admin_gid = nobody->pw_gid;  // nobody's primary group stands in for `edgeprov`
  Fixture fixture(options);
  auto granted = call_as("nobody", fixture.path(), "admin.only");
  INFO(granted.output);
  CHECK(granted.status.code == 0);
  CHECK_THAT(granted.output, ContainsSubstring("granted"));
}
