// edgeprovd and edgeprovctl as real processes on a temp socket: the status contract, the exit codes,
// authorization by OS identity, misbehaving clients, logging without secrets, and the lifecycle.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "common/time.h"
#include "ipc/client.h"
#include "ipc/jsonrpc.h"
#include "service/build_info.h"
#include "tests/integration/service/daemon_fixture.h"
#include "tests/support/notify.h"
#include "tests/support/status_watch.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json parse_json_output(const RunResult& r) {
  INFO("edgeprovctl output: " << r.output);
  return json::parse(r.output);
}

// What a line from the server says, checked to be a JSON-RPC error.
int error_code_of(const std::optional<std::string>& line) {
  REQUIRE(line.has_value());
  const json reply = json::parse(*line);
  REQUIRE(reply.contains("error"));
  return reply["error"]["code"].get<int>();
}

// The status once the service is in `state` (the fixtures' TPM and DPS never answer, so the service
// settles in `retrying`), followed through `subscribe`.
json status_in_state(const DaemonFixture& daemon, const std::string& state) {
  return watch_status(daemon.socket(), [&](const json& s) { return s["state"] == state; }, seconds(10),
                      "state " + state);
}

}  // namespace

TEST_CASE("edgeprovctl status --json reports a service whose TPM cannot be reached, with its settings") {
  const auto before = std::chrono::system_clock::now() - seconds(1);
  DaemonFixture daemon;
  status_in_state(daemon, "retrying");
  const auto r = daemon.ctl({"status", "--json"});
  CHECK(r.status.code == 3);
  const json s = parse_json_output(r);

  CHECK(s["state"] == "retrying");
  const auto since = parse_rfc3339(s["since"].get<std::string>());
  REQUIRE(since.has_value());
  CHECK(s["since"].get<std::string>().back() == 'Z');
  CHECK(*since >= before);
  CHECK(*since <= std::chrono::system_clock::now());
  CHECK(s["source"].is_null());
  CHECK(s["provisioning"]["globalEndpoint"].get<std::string>().starts_with("https://127.0.0.1:"));
  CHECK(s["provisioning"]["idScope"] == "0ne00000A0A");
  CHECK(s["provisioning"]["registrationId"].is_null());  // derived from the EK, which could not be read
  CHECK(s["provisioning"]["attestation"] == "tpm");
  CHECK(s["provisioning"]["transport"] == "https");
  CHECK(s["assignment"].is_null());
  CHECK(s["lastAttempt"]["outcome"] == "error");
  CHECK(s["lastAttempt"]["error"]["kind"] == "tpm");
  CHECK_THAT(s["lastAttempt"]["error"]["message"].get<std::string>(), ContainsSubstring("swtpm:host=127.0.0.1"));
  CHECK(parse_rfc3339(s["nextAttemptAt"].get<std::string>()).has_value());
  CHECK(s["attempts"] == 0);  // no DPS request was made
  CHECK(s["tpm"]["available"] == false);
  CHECK(s["tpm"]["tcti"].get<std::string>().starts_with("swtpm:host=127.0.0.1,port="));
  CHECK(s["tpm"]["registrationId"].is_null());
  CHECK(s["service"]["version"] == service::build_info().version);
  CHECK(s["service"]["pid"] == daemon.process().pid());
  CHECK(s["service"]["uptimeSeconds"].is_number_unsigned());
  CHECK(s["service"]["uptimeSeconds"].get<long>() < 60);
  CHECK(s.size() == 10);
}

TEST_CASE("edgeprovctl status prints a short summary and exits 3 while the device is not provisioned") {
  DaemonFixture daemon;
  status_in_state(daemon, "retrying");
  const auto r = daemon.ctl({"status"});
  INFO(r.output);
  CHECK(r.status.code == 3);
  CHECK_THAT(r.output, ContainsSubstring("retrying since "));
  CHECK_THAT(r.output, ContainsSubstring("tpm attestation over https, id scope 0ne00000A0A"));
  CHECK_THAT(r.output, ContainsSubstring("tcti swtpm:host=127.0.0.1,port="));
  CHECK_THAT(r.output, ContainsSubstring("pid " + std::to_string(daemon.process().pid())));
}

TEST_CASE("a symmetric-key device over MQTT shows its registration id and transport") {
  DaemonFixture daemon(symmetric_key_config);
  const auto r = daemon.ctl({"status", "--json"});
  CHECK(r.status.code == 3);
  const json s = parse_json_output(r);
  CHECK(s["provisioning"]["registrationId"] == "sensor-17");
  CHECK(s["provisioning"]["attestation"] == "symmetric_key");
  CHECK(s["provisioning"]["transport"] == "mqtt");
  CHECK_THAT(r.output, !ContainsSubstring(demo_symmetric_key));
}

TEST_CASE("edgeprovctl finds the endpoint in the configuration file given with --config") {
  DaemonFixture daemon;
  const auto r = run_ctl({"--config", daemon.config_file().string(), "status", "--json"});
  CHECK(r.status.code == 3);
  CHECK(parse_json_output(r)["provisioning"]["idScope"] == "0ne00000A0A");
}

TEST_CASE("edgeprovctl exits 6 when the configuration it should take the endpoint from is invalid") {
  TempDir dir;
  const auto file = dir / "config.toml";
  write_file(file, "[provisioning]\nsource = \"dps\"\n");
  const auto r = run_ctl({"--config", file.string(), "status"});
  CHECK(r.status.code == 6);
  CHECK_THAT(r.output, ContainsSubstring(file.string()));
  CHECK_THAT(r.output, ContainsSubstring("--endpoint"));
}

TEST_CASE("edgeprovctl version shows the client's and the service's build") {
  DaemonFixture daemon;
  const auto& build = service::build_info();

  const auto j = daemon.ctl({"--json", "version"});
  CHECK(j.status.code == 0);
  const json v = parse_json_output(j);
  CHECK(v["version"] == build.version);
  CHECK(v["platform"] == build.platform);
  CHECK(v["commit"] == (build.commit ? json(*build.commit) : json(nullptr)));

  const auto h = daemon.ctl({"version"});
  CHECK(h.status.code == 0);
  CHECK_THAT(h.output, ContainsSubstring("edgeprovctl  " + build.version));
  CHECK_THAT(h.output, ContainsSubstring("edgeprovd    " + build.version + " on " + build.platform));
}

TEST_CASE("edgeprovctl exits 4 with a hint to start the service when nothing listens") {
  TempDir dir;
  const auto r = run_ctl({"--endpoint", (dir / "nobody-here.sock").string(), "status"});
  CHECK(r.status.code == 4);
  CHECK_THAT(r.output, ContainsSubstring("nobody-here.sock"));
  CHECK_THAT(r.output, ContainsSubstring("systemctl start edgeprovd"));
  CHECK_THAT(r.output, ContainsSubstring("edgeprovd --config"));
}

TEST_CASE("edgeprovctl exits 2 on a bad command line") {
  CHECK(run_ctl({"frobnicate"}).status.code == 2);
  CHECK(run_ctl({}).status.code == 2);
  CHECK(run_ctl({"logs", "--level", "loud"}).status.code == 2);
  CHECK(run_ctl({"--help"}).status.code == 0);
}

TEST_CASE("64 clients connected at once all get their answers") {
  DaemonFixture daemon;
  constexpr int clients = 64;
  constexpr int calls_each = 10;
  std::vector<ipc::Client> connections;
  for (int i = 0; i < clients; ++i) connections.emplace_back(daemon.socket().string(), seconds(20));

  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (auto& connection : connections) {
    threads.emplace_back([&connection, &good, pid = daemon.process().pid()] {
      for (int call = 0; call < calls_each; ++call) {
        try {
          const json s = connection.call("status");
          if (s["state"].is_string() && s["state"] != "provisioned" && s["service"]["pid"] == pid) ++good;
        } catch (const std::exception&) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(good == clients * calls_each);
}

TEST_CASE("a 65 KiB line is refused and its connection closed while other clients keep working") {
  DaemonFixture daemon;
  ipc::Client bystander(daemon.socket().string(), seconds(5));
  CHECK(bystander.call("status")["service"]["pid"] == daemon.process().pid());

  RawConnection huge(daemon.socket());
  huge.send(std::string(65 * 1024, 'a') + "\n");  // the server may close before it has read it all
  CHECK(error_code_of(huge.read_line(seconds(5))) == ipc::errc::message_too_large);
  CHECK(huge.closed_by_peer(seconds(5)));

  CHECK(bystander.call("status")["service"]["pid"] == daemon.process().pid());
  CHECK(daemon.ctl({"status"}).status.code == 3);
}

TEST_CASE("garbage bytes are answered with JSON-RPC errors and hurt nobody else") {
  DaemonFixture daemon;
  RawConnection garbage(daemon.socket());
  REQUIRE(garbage.send(std::string("\x00\x01\xfe\xff{{{ not json", 16) + "\n"));
  CHECK(error_code_of(garbage.read_line(seconds(5))) == ipc::errc::parse_error);
  REQUIRE(garbage.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":42}\n"));
  CHECK(error_code_of(garbage.read_line(seconds(5))) == ipc::errc::invalid_request);

  RawConnection binary(daemon.socket());
  std::string noise(4096, '\0');
  for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 131 + 7) % 256);
  binary.send(noise);

  CHECK(daemon.ctl({"status"}).status.code == 3);
  CHECK(daemon.process().running());
}

TEST_CASE("a client that connects and never sends does not block others") {
  DaemonFixture daemon;
  RawConnection silent(daemon.socket());
  RawConnection half_a_request(daemon.socket());
  REQUIRE(half_a_request.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"meth"));

  ipc::Client other(daemon.socket().string(), seconds(3));
  CHECK(other.call("status")["service"]["pid"] == daemon.process().pid());
  CHECK(daemon.ctl({"status"}).status.code == 3);
}

TEST_CASE("a user who is not root may read status but is refused logs") {
  DaemonFixture daemon;
  const auto status = daemon.ctl({"status", "--json"}, "nobody");
  CHECK(status.status.code == 3);
  CHECK(parse_json_output(status)["state"] != "provisioned");

  const auto logs = daemon.ctl({"logs"}, "nobody");
  INFO(logs.output);
  CHECK(logs.status.code == 5);
  CHECK_THAT(logs.output, ContainsSubstring("run it as root"));
  CHECK_THAT(logs.output, !ContainsSubstring("starting"));
}

TEST_CASE("root reads the service's logs, which never contain the symmetric key") {
  DaemonFixture daemon(symmetric_key_config);
  status_in_state(daemon, "retrying");  // an attempt was made: the key was used to sign a SAS token

  const auto logs = daemon.ctl({"logs"});
  INFO(logs.output);
  CHECK(logs.status.code == 0);
  CHECK_THAT(logs.output, ContainsSubstring("edgeprovd " + service::build_info().version + " starting"));
  CHECK_THAT(logs.output, ContainsSubstring("ready on " + daemon.socket().string()));
  CHECK_THAT(logs.output, ContainsSubstring("registering sensor-17 with DPS"));
  CHECK_THAT(logs.output, !ContainsSubstring(demo_symmetric_key));

  const json entries = parse_json_output(daemon.ctl({"logs", "--json", "--lines", "2"}))["entries"];
  REQUIRE(entries.size() == 2);
  for (const auto& entry : entries) {
    CHECK(parse_rfc3339(entry["time"].get<std::string>()).has_value());
    CHECK(entry["level"].is_string());
    CHECK(entry["message"].is_string());
  }
  CHECK(parse_json_output(daemon.ctl({"logs", "--json", "--level", "error"}))["entries"] == json::array());

  CHECK_THAT(daemon.process().output(), ContainsSubstring("starting"));
  CHECK_THAT(daemon.process().output(), !ContainsSubstring(demo_symmetric_key));
}

TEST_CASE("logs go to the file of [edgeprov.log] file too") {
  DaemonFixture daemon([](const fs::path& dir) {
    return tpm_config(dir) + "file = \"" + (dir / "log" / "edgeprovd.log").string() + "\"\n";
  });
  // The [edgeprov.log] table is the last one of tpm_config, so the key above lands in it.
  CHECK_THAT(read_file(daemon.dir() / "log" / "edgeprovd.log"), ContainsSubstring("ready on"));
}

TEST_CASE("SIGTERM stops the service cleanly and removes its socket") {
  DaemonFixture daemon;
  daemon.process().signal(SIGTERM);
  const auto exit = daemon.process().wait(seconds(10));
  REQUIRE(exit.has_value());
  CHECK(exit->exited());
  CHECK(exit->code == 0);
  CHECK_FALSE(fs::exists(daemon.socket()));
  CHECK_THAT(daemon.process().output(), ContainsSubstring("received SIGTERM"));
}

TEST_CASE("SIGINT stops the service cleanly too") {
  DaemonFixture daemon;
  daemon.process().signal(SIGINT);
  const auto exit = daemon.process().wait(seconds(10));
  REQUIRE(exit.has_value());
  CHECK(exit->code == 0);
  CHECK_FALSE(fs::exists(daemon.socket()));
}

TEST_CASE("systemd hears READY=1 once the socket listens and STOPPING=1 on SIGTERM") {
  TempDir dir;
  fs::create_directories(dir / "state");
  write_file(dir / "config.toml", tpm_config(dir.path()));
  NotifySocket notify(dir / "notify.sock");
  Process daemon({.argv = {(bin_dir() / "edgeprovd").string(), "--config", (dir / "config.toml").string()},
                  .env = {{"NOTIFY_SOCKET", notify.path().string()}}});

  const auto ready = notify.wait_for("READY=1", seconds(10));
  REQUIRE(ready.has_value());
  CHECK_THAT(*ready, ContainsSubstring("STATUS=listening on " + (dir / "edgeprov.sock").string()));
  CHECK(fs::exists(dir / "edgeprov.sock"));

  daemon.signal(SIGTERM);
  CHECK(notify.wait_for("STOPPING=1", seconds(10)).has_value());
  CHECK(daemon.wait(seconds(10)).value_or(ExitStatus{}).code == 0);
}

TEST_CASE("a subscriber gets the status at once, then status.changed on each change") {
  DaemonFixture daemon;  // its TPM never answers: the service re-enters retrying after every backoff
  RawConnection subscriber(daemon.socket());
  REQUIRE(subscriber.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\"}\n"));
  const auto first = subscriber.read_line(seconds(5));
  REQUIRE(first.has_value());
  const json answer = json::parse(*first);
  CHECK(answer["id"] == 1);
  CHECK(answer["result"]["service"]["pid"] == daemon.process().pid());

  // The first backoff is at most a few seconds; each retry changes the status.
  std::optional<json> change;
  for (int i = 0; i < 3 && !change; ++i) {
    const auto line = subscriber.read_line(seconds(10));
    if (!line) continue;
    const json message = json::parse(*line);
    if (message.value("method", "") == "status.changed") change = message;
  }
  REQUIRE(change.has_value());
  CHECK_FALSE(change->contains("id"));
  CHECK((*change)["params"]["state"].is_string());
  CHECK((*change)["params"]["lastAttempt"]["error"]["kind"] == "tpm");
  CHECK((*change)["params"]["service"]["pid"] == daemon.process().pid());

  RawConnection bad(daemon.socket());
  REQUIRE(bad.send("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"subscribe\",\"params\":{\"x\":1}}\n"));
  CHECK(error_code_of(bad.read_line(seconds(5))) == ipc::errc::invalid_params);
}

TEST_CASE("under systemd each line on the journal stream starts with its syslog priority") {
  TempDir dir;
  fs::create_directories(dir / "state");
  write_file(dir / "config.toml", symmetric_key_config(dir.path()));
  // The stream systemd names in JOURNAL_STREAM: the file the child's stderr is appended to.
  const fs::path log = dir / "journal.log";
  write_file(log, "");
  struct stat st {};
  REQUIRE(::stat(log.c_str(), &st) == 0);
  auto started = start_until_ready(
      {.argv = {(bin_dir() / "edgeprovd").string(), "--config", (dir / "config.toml").string()},
       .env = {{"JOURNAL_STREAM", std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)}},
       .log_file = log},
      dir / "notify.sock");
  Process& daemon = *started;
  // The first attempt fails (nothing listens) and warns; the warning is written before the state changes.
  watch_status(dir / "edgeprov.sock", [](const json& s) { return s["state"] == "retrying"; }, seconds(10),
               "the first attempt failing");
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(seconds(10)).value_or(ExitStatus{}).code == 0);

  const std::string text = read_file(log);
  INFO(text);
  CHECK(text.starts_with("<6>edgeprovd "));
  CHECK_THAT(text, ContainsSubstring("\n<6>ipc: listening on "));
  CHECK_THAT(text, ContainsSubstring("\n<4>attempt 1 failed: "));
  CHECK_THAT(text, !ContainsSubstring("[info]"));  // no second time stamp or level: the journal adds them
  CHECK_THAT(text, !ContainsSubstring(demo_symmetric_key));
}

TEST_CASE("a second edgeprovd on the same endpoint refuses to start and leaves the first one serving") {
  DaemonFixture daemon;
  Process second(ProcessOptions{
      .argv = {(bin_dir() / "edgeprovd").string(), "--config", daemon.config_file().string()}});
  const auto exit = second.wait(seconds(10));
  REQUIRE(exit.has_value());
  CHECK(exit->code == 1);
  CHECK_THAT(second.output(), ContainsSubstring(daemon.socket().string()));
  CHECK(daemon.ctl({"status"}).status.code == 3);
}

TEST_CASE("a bad configuration stops edgeprovd with the file, line and fix") {
  TempDir dir;
  const auto file = dir / "config.toml";
  write_file(file, "[provisioning]\nsource = \"dps\"\nid_scope = \"0ne00000A0A\"\n\n"
                   "[provisioning.attestation]\nmethod = \"magic\"\n");
  const auto r = run(ProcessOptions{.argv = {(bin_dir() / "edgeprovd").string(), "--config", file.string()}},
                     seconds(10));
  INFO(r.output);
  CHECK(r.status.code == 78);
  // The message is the configuration error as is: "<file>:<line>: <key>: <problem> — <fix>".
  CHECK_THAT(r.output, ContainsSubstring(file.string() + ":6: provisioning.attestation.method"));
  CHECK_THAT(r.output, ContainsSubstring("\"magic\""));
  CHECK_THAT(r.output, ContainsSubstring("\"tpm\""));
  CHECK_FALSE(fs::exists(dir / "edgeprov.sock"));
}

TEST_CASE("a missing configuration file stops edgeprovd and names the file") {
  TempDir dir;
  const auto r = run(ProcessOptions{.argv = {(bin_dir() / "edgeprovd").string(), "--config",
                                             (dir / "absent.toml").string()}},
                     seconds(10));
  CHECK(r.status.code == 78);
  CHECK_THAT(r.output, ContainsSubstring((dir / "absent.toml").string()));
}
