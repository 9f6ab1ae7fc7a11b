// edgeprovctl check against real things: swtpm, the dps-emulator, edgeprovd, an HTTPS server whose clock
// is set here, and broken configurations. The verdicts are read from --json.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/time.h"
#include "tests/integration/dps_transport/test_pki.h"
#include "tests/integration/dps_transport/test_servers.h"
#include "tests/support/provisioning_world.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct CheckRun {
  int exit_code = -1;
  std::map<std::string, json> checks;  // id → {"result", "message", "cause", "fix"}
  std::string output;
  std::string result(const std::string& id) const {
    const auto it = checks.find(id);
    return it == checks.end() ? "absent" : it->second["result"].get<std::string>();
  }
  std::string text(const std::string& id, const char* field) const {
    const auto it = checks.find(id);
    return it == checks.end() || !it->second[field].is_string() ? "" : it->second[field].get<std::string>();
  }
};

CheckRun parse(const RunResult& r) {
  INFO("edgeprovctl check: " << r.output);
  REQUIRE(r.status.exited());
  CheckRun run{.exit_code = r.status.code, .checks = {}, .output = r.output};
  const auto j = json::parse(r.output);
  for (const auto& c : j["checks"]) run.checks[c["id"].get<std::string>()] = c;
  return run;
}

CheckRun check(ProvisioningWorld& world, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--config", world.config_file().string(), "--json", "check"};
  args.insert(args.end(), extra.begin(), extra.end());
  return parse(world.ctl(args));
}

CheckRun check_config(const fs::path& config, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {(bin_dir() / "edgeprovctl").string(), "--config", config.string(), "--json", "check"};
  args.insert(args.end(), extra.begin(), extra.end());
  return parse(run({.argv = args}, 60s));
}

// A symmetric-key device reaching DPS at `endpoint` (through `proxy` when set) and trusting `ca`; nothing
// of it runs.
fs::path write_device_config(const TempDir& dir, const std::string& endpoint, const fs::path& ca,
                             const std::string& proxy = {}) {
  const auto file = dir / "config.toml";
  write_file(file, fmt::format(R"([provisioning]
source = "dps"
global_endpoint = "{}"
id_scope = "0ne00000C0C"

[provisioning.attestation]
method = "symmetric_key"
registration_id = "check-device"
symmetric_key = {{ value = "Y2hlY2stZGV2aWNlLWtleS1mb3ItdGVzdHMtb25seSE=" }}

[edgeprov.dps]
trusted_ca = "{}"
{}
[edgeprov.ipc]
endpoint = "{}"

[edgeprov.state]
dir = "{}"
)",
                               endpoint, ca.string(), proxy.empty() ? "" : fmt::format("proxy = \"{}\"\n", proxy),
                               (dir / "edgeprov.sock").string(), (dir / "state").string()));
  return file;
}

// A device key made up for these tests (base64 of 32 bytes).
constexpr const char* device_key = "Y2hlY2stc3RhdGUta2V5LWZvci10ZXN0cy1vbmx5LTEyMzQ=";

bool service_account_exists() { return run({.argv = {"getent", "passwd", "edgeprov"}}).status.code == 0; }

}  // namespace

TEST_CASE("check on a provisioned TPM device with its service running: every check passes, the TPM asked through edgeprovd") {
  ProvisioningWorld world;
  world.enroll_tpm(world.tpm_identity());
  world.init({.attestation = Attestation::tpm});
  world.start_daemon();
  world.wait_for_state("provisioned", 60s);

  const auto r = check(world);
  for (const char* id : {"config.load", "service.running", "service.version", "service.provisioning",
                         "ipc.endpoint-permissions", "tpm.reachable", "tpm.keys", "tpm.auth-key", "tpm.lockout",
                         "tpm.ek-certificate", "dps.dns", "dps.tcp", "dps.tls", "dps.clock-skew", "state.consistent"}) {
    INFO(id << ": " << r.checks.at(id).dump());
    CHECK(r.result(id) == "ok");
  }
  CHECK(r.result("tpm.access") == "skipped");  // a swtpm TCTI has no device node
  CHECK_THAT(r.text("tpm.reachable", "message"), ContainsSubstring("asked through edgeprovd"));
  CHECK_THAT(r.text("tpm.auth-key", "message"), ContainsSubstring("0x81000100"));
  CHECK_THAT(r.text("dps.tls", "message"), ContainsSubstring(world.emulator().ca().string()));
  CHECK_THAT(r.text("dps.clock-skew", "message"), ContainsSubstring("this clock is within"));
  CHECK_THAT(r.text("state.consistent", "message"), ContainsSubstring("written for these settings"));
  if (!service_account_exists()) {
    CHECK(r.result("config.service-access") == "skipped");
    CHECK(r.exit_code == 0);
  }

  // The text form: one line per check, a summary.
  const auto text = world.ctl({"--config", world.config_file().string(), "check", "--only", "tpm"});
  CHECK(text.status.code == 0);
  CHECK_THAT(text.output, ContainsSubstring("ok       tpm.lockout"));
  CHECK_THAT(text.output, ContainsSubstring("5 ok, 0 warnings, 0 errors, 1 skipped"));  // tpm.access: no node
}

TEST_CASE("check finds a TPM locked out by power losses, through edgeprovd and on its own once the service is stopped") {
  ProvisioningWorld world;
  world.enroll_tpm(world.tpm_identity());
  world.init({.attestation = Attestation::tpm});
  REQUIRE(world.swtpm().tpm2({"tpm2_dictionarylockout", "--setup-parameters", "--max-tries=2", "--recovery-time=1000",
                              "--lockout-recovery-time=600"}).status.code == 0);
  world.start_daemon();
  world.wait_for_state("provisioned", 60s);
  for (int i = 0; i < 2; ++i) {
    world.call("identity.sign", json{{"data", "aGVsbG8="}});
    world.swtpm().kill();
    world.swtpm().restart();
  }

  auto r = check(world, {"--only", "tpm"});
  CHECK(r.result("tpm.reachable") == "ok");
  CHECK(r.result("tpm.lockout") == "error");
  CHECK(r.text("tpm.lockout", "message") ==
        "in dictionary-attack lockout (2 of 2 failed authorizations); usable again in at most 16 min 40 s of "
        "powered-on time");
  CHECK_THAT(r.text("tpm.lockout", "fix"), ContainsSubstring("tpm2_dictionarylockout --clear-lockout"));
  CHECK(r.exit_code == 11);

  world.stop_daemon();
  world.swtpm().kill();  // the stopped service's connection goes with it; the swtpm serves one client
  world.swtpm().restart();
  r = check(world, {"--only", "tpm", "--only", "service"});
  CHECK(r.result("service.running") == "warning");
  CHECK(r.result("tpm.reachable") == "ok");
  CHECK_THAT(r.text("tpm.reachable", "message"), ContainsSubstring("asked through edgeprovctl"));
  CHECK(r.result("tpm.lockout") == "error");
  CHECK(r.result("tpm.auth-key") == "ok");  // the key is there; it is only locked
  CHECK(r.exit_code == 11);

  // Cleared with tpm2-tools, the TPM passes again.
  REQUIRE(world.swtpm().tpm2({"tpm2_dictionarylockout", "--clear-lockout"}).status.code == 0);
  r = check(world, {"--only", "tpm.lockout"});
  CHECK(r.result("tpm.lockout") == "ok");
  CHECK(r.exit_code == 0);
}

TEST_CASE("check names the broken line of a configuration and skips what needs it") {
  TempDir dir;
  const auto file = dir / "config.toml";
  write_file(file, "[provisioning]\nsource = \"dps\"\nid_scope = 42\n");
  const auto r = check_config(file);
  CHECK(r.exit_code == 11);
  CHECK(r.result("config.load") == "error");
  CHECK_THAT(r.text("config.load", "cause"), ContainsSubstring(file.string() + ":3:"));
  CHECK(r.result("tpm.reachable") == "skipped");
  CHECK(r.result("dps.dns") == "skipped");
  CHECK(r.result("service.running") == "warning");  // judged without the configuration: nothing answers
}

TEST_CASE("check tells which step to DPS fails: DNS, TCP, or TLS with the configured CA") {
  TempDir dir;
  fs::create_directories(dir / "pki");
  const auto pki = make_test_pki(dir / "pki");

  SECTION("a name that does not resolve") {
    const auto r = check_config(write_device_config(dir, "https://edgeprov-check.invalid/", pki.ca), {"--only", "dps"});
    CHECK(r.result("dps.dns") == "error");
    CHECK(r.result("dps.tcp") == "skipped");
    CHECK(r.result("dps.clock-skew") == "skipped");
    CHECK(r.exit_code == 11);
  }
  SECTION("a port nobody listens on") {
    const auto r = check_config(
        write_device_config(dir, fmt::format("https://127.0.0.1:{}/", free_loopback_port()), pki.ca), {"--only", "dps"});
    CHECK(r.result("dps.dns") == "ok");
    CHECK(r.result("dps.tcp") == "error");
    CHECK_THAT(r.text("dps.tcp", "cause"), ContainsSubstring("127.0.0.1"));
    CHECK(r.result("dps.tls") == "skipped");
  }
  SECTION("a server certificate the configured CA did not sign") {
    TestHttpsServer server({.identity = pki.untrusted_server});
    const auto r = check_config(
        write_device_config(dir, fmt::format("https://localhost:{}/", server.port()), pki.ca), {"--only", "dps"});
    CHECK(r.result("dps.tcp") == "ok");
    CHECK(r.result("dps.tls") == "error");
    CHECK_THAT(r.text("dps.tls", "fix"), ContainsSubstring("trusted_ca"));
  }
  SECTION("a CA file that does not exist") {
    const auto r = check_config(write_device_config(dir, "https://localhost:1/", dir / "missing.pem"), {"--only", "dps"});
    CHECK(r.result("dps.tls") == "error");
    CHECK_THAT(r.text("dps.tls", "cause"), ContainsSubstring("missing.pem"));
  }
}

TEST_CASE("check compares this clock with the server's Date header") {
  TempDir dir;
  fs::create_directories(dir / "pki");
  const auto pki = make_test_pki(dir / "pki");
  const auto server_with = [&](std::optional<std::chrono::seconds> offset) {
    return std::make_unique<TestHttpsServer>(HttpsServerOptions{
        .identity = pki.server, .client_ca = std::nullopt, .close_after_responses = 0, .stall = false,
        .reply = [offset](const SeenRequest&) {
          ServerReply reply{.status = 404, .headers = {}, .body = "{}"};
          if (offset) reply.headers["Date"] = to_http_date(std::chrono::system_clock::now() + *offset);
          return reply;
        }});
  };
  const auto run_against = [&](TestHttpsServer& server) {
    return check_config(write_device_config(dir, fmt::format("https://localhost:{}/", server.port()), pki.ca),
                        {"--only", "dps"});
  };
  {
    auto server = server_with(0s);
    const auto r = run_against(*server);
    CHECK(r.result("dps.tls") == "ok");
    CHECK(r.result("dps.clock-skew") == "ok");
    CHECK(r.exit_code == 0);
  }
  {
    auto server = server_with(std::chrono::seconds(-600));  // the server's clock 10 min behind: ours is ahead
    const auto r = run_against(*server);
    CHECK(r.result("dps.clock-skew") == "error");
    CHECK_THAT(r.text("dps.clock-skew", "message"), ContainsSubstring("ahead of"));
    CHECK(r.exit_code == 11);
  }
  {
    auto server = server_with(std::chrono::seconds(120));
    const auto r = run_against(*server);
    CHECK(r.result("dps.clock-skew") == "warning");
    CHECK_THAT(r.text("dps.clock-skew", "message"), ContainsSubstring("behind"));
    CHECK(r.exit_code == 10);
  }
  {
    auto server = server_with(std::nullopt);
    CHECK(run_against(*server).result("dps.clock-skew") == "warning");
  }
}

TEST_CASE("check reaches DPS through the configured proxy, and names the step a refusing proxy stops") {
  TempDir dir;
  fs::create_directories(dir / "pki");
  const auto pki = make_test_pki(dir / "pki");
  TestHttpsServer server({.identity = pki.server});
  TestConnectProxy proxy("alice", "pr0xy-s3cret");
  const auto endpoint = fmt::format("https://localhost:{}/", server.port());
  const auto proxy_url = [&](const std::string& password) {
    return fmt::format("http://alice:{}@127.0.0.1:{}", password, proxy.port());
  };

  auto r = check_config(write_device_config(dir, endpoint, pki.ca, proxy_url("pr0xy-s3cret")), {"--only", "dps"});
  CHECK(r.result("dps.dns") == "ok");
  CHECK_THAT(r.text("dps.dns", "message"), ContainsSubstring("the proxy"));
  CHECK(r.result("dps.tcp") == "ok");
  CHECK_THAT(r.text("dps.tcp", "message"),
             ContainsSubstring(fmt::format("through the proxy http://127.0.0.1:{}", proxy.port())));
  CHECK(r.result("dps.tls") == "ok");  // TLS end to end through the tunnel, verified against the configured CA
  CHECK(proxy.tunnels() == 1);
  CHECK(proxy.targets() == std::vector<std::string>{fmt::format("localhost:{}", server.port())});
  CHECK_THAT(r.output, !ContainsSubstring("pr0xy-s3cret"));

  r = check_config(write_device_config(dir, endpoint, pki.ca, proxy_url("wr0ng-s3cret")), {"--only", "dps"});
  CHECK(proxy.refusals() == 1);
  CHECK(r.result("dps.tcp") == "error");
  CHECK_THAT(r.text("dps.tcp", "cause"), ContainsSubstring("407"));
  CHECK_THAT(r.text("dps.tcp", "fix"), ContainsSubstring("proxy"));
  CHECK(r.result("dps.tls") == "skipped");
  CHECK(r.exit_code == 11);
  CHECK_THAT(r.output, !ContainsSubstring("wr0ng-s3cret"));
}

TEST_CASE("check finds an assignment persisted for other settings than the configuration's") {
  ProvisioningWorld world({.tpm = false, .emulator_args = {}});
  world.enroll_symmetric_key("check-state", device_key);
  world.init({.attestation = Attestation::symmetric_key, .registration_id = "check-state",
              .symmetric_key = device_key});
  world.start_daemon();
  world.wait_for_state("provisioned", 30s);
  REQUIRE(world.stop_daemon().code == 0);
  auto r = check(world, {"--only", "state"});
  CHECK(r.result("state.consistent") == "ok");

  // The operator points the device at another id scope: the persisted assignment no longer matches.
  const auto perms = fs::status(world.config_file()).permissions();
  auto text = read_file(world.config_file());
  const auto at = text.find(world_id_scope);
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string(world_id_scope).size(), "0ne0000BBBB");
  write_file(world.config_file(), text);
  fs::permissions(world.config_file(), perms);
  r = check(world, {"--only", "state"});
  CHECK(r.result("state.consistent") == "warning");
  CHECK_THAT(r.text("state.consistent", "cause"),
             ContainsSubstring(fmt::format("id_scope \"{}\" (configured: \"0ne0000BBBB\")", world_id_scope)));
  CHECK_THAT(r.text("state.consistent", "fix"), ContainsSubstring("at its next start"));
  CHECK(r.exit_code == 10);
}
