// Who may run reprovision and identity: a real edgeprovd on a temp socket, edgeprovctl run as root and as
// `nobody` (a real unprivileged peer, as the kernel reports it). The device cannot provision here: its
// DPS is a loopback port nobody listens on, so these tests never depend on a network.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/integration/ctl/ctl_daemon.h"
#include "tests/support/status_watch.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;

namespace {

std::string nobody_group() {
  const passwd* nobody = ::getpwnam("nobody");
  REQUIRE(nobody);
  const group* primary = ::getgrgid(nobody->pw_gid);
  REQUIRE(primary);
  return primary->gr_name;
}

}  // namespace

TEST_CASE("reprovision by a caller who is not an administrator exits 5 and names the identity needed") {
  REQUIRE(::geteuid() == 0);  // the suite runs as root; `nobody` below needs it
  CtlDaemon daemon({.global_endpoint = unreachable_dps()});
  const auto r = daemon.ctl({"reprovision"}, "nobody");
  INFO(r.output);
  CHECK(r.status.code == 5);
  CHECK_THAT(r.output, ContainsSubstring("method 'reprovision' is for administrators only"));
  CHECK_THAT(r.output, ContainsSubstring("the caller is nobody"));
  CHECK_THAT(r.output, ContainsSubstring("run it as root"));
  CHECK_THAT(daemon.output(), !ContainsSubstring("reprovision requested"));
}

TEST_CASE("identity show and sas-token are refused to a user who is neither an administrator nor an identity principal") {
  CtlDaemon daemon({.global_endpoint = unreachable_dps()});
  for (const auto& command : {std::vector<std::string>{"identity", "show"}, std::vector<std::string>{"identity", "sas-token"}}) {
    const auto r = daemon.ctl(command, "nobody");
    INFO(command[1] << ": " << r.output);
    CHECK(r.status.code == 5);
    CHECK_THAT(r.output, ContainsSubstring("for administrators and [edgeprov.ipc] identity_principals only"));
    CHECK_THAT(r.output, ContainsSubstring("add the caller's user or group to [edgeprov.ipc] identity_principals"));
  }
}

TEST_CASE("a user named in identity_principals may call identity.* (answered: not provisioned yet) but not reprovision") {
  CtlDaemon daemon({.global_endpoint = unreachable_dps(), .identity_principals = {"nobody"}});
  const auto show = daemon.ctl({"identity", "show"}, "nobody");
  INFO(show.output);
  CHECK(show.status.code == 3);
  CHECK_THAT(show.output, ContainsSubstring("'identity.get' needs an assignment and the device has none yet"));
  const auto token = daemon.ctl({"identity", "sas-token"}, "nobody");
  INFO(token.output);
  CHECK(token.status.code == 3);
  CHECK_THAT(token.output, ContainsSubstring("'identity.sasToken' needs an assignment"));
  // Being an identity principal is not being an administrator.
  CHECK(daemon.ctl({"reprovision"}, "nobody").status.code == 5);
}

TEST_CASE("a member of a group named in identity_principals may call identity.*") {
  CtlDaemon daemon({.global_endpoint = unreachable_dps(), .identity_principals = {nobody_group()}});
  const auto r = daemon.ctl({"identity", "show"}, "nobody");
  INFO(r.output);
  CHECK(r.status.code == 3);
  CHECK_THAT(r.output, ContainsSubstring("needs an assignment"));
}

TEST_CASE("an identity principal that is neither a user nor a group stops edgeprovd with exit 78 naming the key") {
  TempDir dir;
  write_file(dir / "config.toml",
             ctl_config(dir.path(), {.global_endpoint = unreachable_dps(),
                                     .identity_principals = {"nobody", "no-such-account-x7"}}));
  Process daemon({.argv = {(bin_dir() / "edgeprovd").string(), "--config", (dir / "config.toml").string()}});
  const auto status = daemon.wait(10s);
  REQUIRE(status);
  CHECK(status->code == 78);
  CHECK_THAT(daemon.output(), ContainsSubstring("edgeprov.ipc.identity_principals"));
  CHECK_THAT(daemon.output(), ContainsSubstring("\"no-such-account-x7\" is neither a user nor a group"));
  CHECK_THAT(daemon.output(), ContainsSubstring("remove it from the list"));
  CHECK_FALSE(std::filesystem::exists(dir / "edgeprov.sock"));
}

TEST_CASE("reprovision against a DPS that cannot be reached exits 1 with the error and when the next attempt is") {
  CtlDaemon daemon({.global_endpoint = unreachable_dps()});
  const auto r = daemon.ctl({"reprovision"});
  INFO(r.output << daemon.output());
  CHECK(r.status.code == 1);
  CHECK_THAT(r.output, ContainsSubstring("edgeprovctl: reprovision failed: "));
  CHECK_THAT(r.output, ContainsSubstring("  error kind network\n"));
  CHECK_THAT(r.output, ContainsSubstring("edgeprovd tries again at "));
}

TEST_CASE("reprovision exits 7 when the attempt failed in the TPM, naming the TCTI to fix") {
  const auto tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(free_loopback_port());
  CtlDaemon daemon({.global_endpoint = unreachable_dps(), .tpm_tcti = tcti});
  const auto r = daemon.ctl({"reprovision"});
  INFO(r.output << daemon.output());
  CHECK(r.status.code == 7);
  CHECK_THAT(r.output, ContainsSubstring("edgeprovctl: reprovision failed: "));
  CHECK_THAT(r.output, ContainsSubstring("  error kind tpm"));
  CHECK_THAT(r.output, ContainsSubstring(tcti));
}

TEST_CASE("reprovision --json prints the -32022 error for scripts") {
  CtlDaemon daemon({.global_endpoint = unreachable_dps()});
  const auto r = daemon.ctl({"reprovision", "--json"});
  INFO(r.output);
  CHECK(r.status.code == 1);
  const auto line = r.output.substr(r.output.find("{\"code\""));
  const auto error = nlohmann::json::parse(line.substr(0, line.find('\n')));
  CHECK(error["code"] == -32022);
  CHECK(error["data"]["state"] == "retrying");
  CHECK(error["data"]["error"]["kind"] == "network");
  CHECK(error["data"]["nextAttemptAt"].is_string());
}

TEST_CASE("wait --timeout 1 against a service that cannot provision exits 8 and says what state it is in") {
  CtlDaemon daemon({.global_endpoint = unreachable_dps()});
  const auto started = std::chrono::steady_clock::now();
  const auto r = daemon.ctl({"wait", "--timeout", "1"});
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(r.output);
  CHECK(r.status.code == 8);
  CHECK(took >= 1s);
  CHECK_THAT(r.output, ContainsSubstring("edgeprovctl: not provisioned within 1 s: state "));
}

TEST_CASE("wait with no service at the endpoint exits 8 once the timeout has passed, saying nothing answered") {
  TempDir dir;
  const auto socket = dir / "nothing-here.sock";
  const auto started = std::chrono::steady_clock::now();
  const auto r = edgeprovctl({"--endpoint", socket.string(), "wait", "--timeout", "1.5"});
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(r.output);
  CHECK(r.status.code == 8);
  CHECK(took >= 1500ms);
  CHECK_THAT(r.output, ContainsSubstring("nothing answered at " + socket.string() + " within 1.5 s"));
  CHECK_THAT(r.output, ContainsSubstring("systemctl start edgeprovd"));
}

TEST_CASE("status while retrying shows the failed attempt and when the next one is due") {
  CtlDaemon daemon({.global_endpoint = unreachable_dps()});
  // Each attempt fails at once (connection refused); the backoff between attempts is at least 1 s, so
  // edgeprovctl asks well inside it once the service says it is retrying.
  watch_status(daemon.socket(), [](const nlohmann::json& s) { return s["state"] == "retrying"; }, 10s,
               "the first attempt failing");
  const RunResult r = daemon.ctl({"status"});
  INFO(r.output);
  CHECK(r.status.code == 3);
  CHECK_THAT(r.output, ContainsSubstring("state            retrying since "));
  CHECK_THAT(r.output, ContainsSubstring(" error: network — "));
  CHECK_THAT(r.output, ContainsSubstring("next attempt     "));
}
