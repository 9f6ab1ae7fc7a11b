// The verdicts of `edgeprovctl check`, from facts made up here: no files, no TPM, no network.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cerrno>

#include "ctl/check/checks.h"
#include "ctl/exit_codes.h"

using namespace edgeprov;
using namespace edgeprov::ctl::check;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;

namespace {

FileFacts file(std::string path, std::uint32_t mode, std::uint32_t uid, std::uint32_t gid, std::string owner,
               std::string group, bool directory = false) {
  FileFacts f;
  f.path = std::move(path);
  f.exists = true;
  f.directory = directory;
  f.mode = mode;
  f.uid = uid;
  f.gid = gid;
  f.owner = std::move(owner);
  f.group = std::move(group);
  return f;
}
FileFacts dir(std::string path, std::uint32_t mode, std::uint32_t gid = 0, std::string group = "root") {
  return file(std::move(path), mode, 0, gid, "root", std::move(group), true);
}

const Account edgeprov_account{.name = "edgeprov", .uid = 998, .gids = {998, 103}};  // 103: tss
const Account alice{.name = "alice", .uid = 1000, .gids = {1000}};
const Account root{.name = "root", .uid = 0, .gids = {0}};

TpmFacts reached_tpm() {
  TpmFacts t;
  t.tcti = "device:/dev/tpmrm0";
  t.through = "edgeprovd";
  t.reached = true;
  t.manufacturer = "IFX";
  t.firmware = "7.85.0.0";
  t.endorsement_key = t.storage_root_key = true;
  t.auth_key_handle = "0x81000100";
  t.lockout = {.counter = 0, .max_tries = 32, .interval_seconds = 7200, .recovery_seconds = 86400};
  return t;
}

DpsFacts answered_dps(SystemTime local, std::string date) {
  DpsFacts d;
  d.server = "global.azure-devices-provisioning.net:443";
  d.trust = "the system trust store";
  d.http_status = 404;
  d.local_time = local;
  d.date_header = std::move(date);
  return d;
}

}  // namespace

// ---- config --------------------------------------------------------------------------------------------

TEST_CASE("a configuration that does not load is an error with its file:line cause and fix") {
  const auto r = check_config_load({.file = "/etc/edgeprov/config.toml", .config = std::nullopt,
                                    .problem = "/etc/edgeprov/config.toml:3: provisioning.id_scope: is missing",
                                    .fix = "set id_scope"});
  CHECK(r.id == "config.load");
  CHECK(r.verdict == Verdict::error);
  CHECK(r.cause == "/etc/edgeprov/config.toml:3: provisioning.id_scope: is missing");
  CHECK(r.fix == "set id_scope");
}

TEST_CASE("the checks that read the configuration are skipped when it did not load; the service's are not") {
  Facts facts;
  facts.config.file = "/etc/edgeprov/config.toml";
  facts.service = ServiceFacts{};
  facts.service->connect_error = ENOENT;
  for (const auto& c : catalogue()) {
    const auto r = evaluate(c.id, facts);
    CHECK(r.id == c.id);
    if (c.id == "config.load") {
      CHECK(r.verdict == Verdict::error);
    } else if (c.id == "service.running") {
      CHECK(r.verdict == Verdict::warning);
    } else {
      CHECK(r.verdict == Verdict::skipped);
    }
    if (c.id.starts_with("tpm.") || c.id.starts_with("dps.") || c.id.starts_with("state."))
      CHECK(r.message == "the configuration did not load (config.load)");
  }
}

TEST_CASE("a private configuration the service's account cannot read is an error that says to chown it") {
  ServiceAccessFacts f{.supported = true, .account_name = "edgeprov", .account = edgeprov_account,
                       .files = {{"the configuration",
                                  {dir("/", 0755), dir("/etc", 0755), dir("/etc/edgeprov", 0755),
                                   file("/etc/edgeprov/config.toml", 0600, 0, 0, "root", "root")}}}};
  const auto r = check_config_service_access(f);
  CHECK(r.verdict == Verdict::error);
  CHECK_THAT(r.cause, ContainsSubstring("0600 root:root"));
  CHECK_THAT(r.fix, ContainsSubstring("sudo chown edgeprov /etc/edgeprov/config.toml"));

  f.files[0].chain.back() = file("/etc/edgeprov/config.toml", 0600, 998, 998, "edgeprov", "edgeprov");
  CHECK(check_config_service_access(f).verdict == Verdict::ok);
}

TEST_CASE("a key file behind a directory the service may not search names that directory") {
  ServiceAccessFacts f{.supported = true, .account_name = "edgeprov", .account = edgeprov_account,
                       .files = {{"[provisioning.attestation] symmetric_key uri",
                                  {dir("/", 0755), dir("/root", 0700), file("/root/key", 0644, 0, 0, "root", "root")}}}};
  const auto r = check_config_service_access(f);
  CHECK(r.verdict == Verdict::error);
  CHECK_THAT(r.cause, ContainsSubstring("/root is 0700 root:root"));
  CHECK_THAT(r.fix, ContainsSubstring("sudo chmod o+x /root"));
}

TEST_CASE("without the service's account (no package), config.service-access is skipped") {
  CHECK(check_config_service_access({.supported = true, .account_name = "edgeprov", .account = std::nullopt, .files = {}})
            .verdict == Verdict::skipped);
}

// ---- the service ---------------------------------------------------------------------------------------

TEST_CASE("a service that does not run is a warning with the way to start it; one that answers is ok") {
  ServiceFacts f;
  f.endpoint = "/run/edgeprov/edgeprov.sock";
  f.connect_error = ENOENT;
  f.problem = "edgeprovd is not running: no socket at /run/edgeprov/edgeprov.sock";
  f.start_hint = "start it: `sudo systemctl enable --now edgeprovd`";
  f.client_version = "0.1.0";
  auto r = check_service_running(f);
  CHECK(r.verdict == Verdict::warning);
  CHECK(r.fix == f.start_hint);
  CHECK(check_service_version(f).verdict == Verdict::skipped);
  CHECK(check_service_provisioning(f).verdict == Verdict::skipped);

  f.answered = true;
  f.version = {{"version", "0.1.0"}};
  f.status = {{"state", "provisioned"},
              {"source", "cache"},
              {"assignment", {{"hub", "hub-a.azure-devices.net"}, {"deviceId", "edge-01"}}},
              {"service", {{"pid", 42}, {"uptimeSeconds", 3700}}}};
  r = check_service_running(f);
  CHECK(r.verdict == Verdict::ok);
  CHECK(r.message == "edgeprovd 0.1.0 answers at /run/edgeprov/edgeprov.sock (pid 42, up 1 h 1 min)");
  CHECK(check_service_version(f).verdict == Verdict::ok);
  CHECK(check_service_provisioning(f).message == "provisioned: device edge-01 on hub hub-a.azure-devices.net (from cache)");
}

TEST_CASE("a service of another version than the client is a warning to restart it") {
  ServiceFacts f;
  f.answered = true;
  f.client_version = "0.2.0";
  f.version = {{"version", "0.1.0"}};
  const auto r = check_service_version(f);
  CHECK(r.verdict == Verdict::warning);
  CHECK(r.message == "edgeprovctl is 0.2.0, the running edgeprovd 0.1.0");
  CHECK_THAT(r.fix, ContainsSubstring("systemctl restart edgeprovd"));
}

TEST_CASE("failed provisioning is an error with the attempt's message; retrying is a warning; a TPM error while provisioned a warning") {
  ServiceFacts f;
  f.answered = true;
  f.status = {{"state", "failed"}, {"lastAttempt", {{"error", {{"message", "DPS answered 401: …"}}}}}};
  auto r = check_service_provisioning(f);
  CHECK(r.verdict == Verdict::error);
  CHECK(r.cause == "DPS answered 401: …");
  f.status["state"] = "retrying";
  f.status["nextAttemptAt"] = "2026-12-04T05:00:00Z";
  CHECK(check_service_provisioning(f).verdict == Verdict::warning);
  f.status = {{"state", "provisioned"}, {"tpm", {{"error", {{"message", "the TPM is in dictionary-attack lockout"}}}}}};
  r = check_service_provisioning(f);
  CHECK(r.verdict == Verdict::warning);
  CHECK(r.cause == "the TPM is in dictionary-attack lockout");
}

TEST_CASE("an endpoint in a 0750 directory of group edgeprov: members may connect, others are told to join") {
  EndpointFacts f;
  f.endpoint = "/run/edgeprov/edgeprov.sock";
  f.socket = file("/run/edgeprov/edgeprov.sock", 0666, 998, 998, "edgeprov", "edgeprov");
  f.socket.socket = true;
  f.directory = file("/run/edgeprov", 0750, 998, 998, "edgeprov", "edgeprov", true);
  f.status_group = "edgeprov";
  f.caller = root;
  auto r = check_endpoint_permissions(f);
  CHECK(r.verdict == Verdict::ok);
  CHECK_THAT(r.message, ContainsSubstring("root and the members of group edgeprov may connect"));

  f.caller = alice;
  f.socket.exists = false;  // alice cannot even see it: stat fails with EACCES
  f.socket.error = EACCES;
  r = check_endpoint_permissions(f);
  CHECK(r.verdict == Verdict::warning);
  CHECK(r.message == "alice may not reach /run/edgeprov/edgeprov.sock (root and the members of group edgeprov may)");
  CHECK_THAT(r.fix, ContainsSubstring("sudo usermod -aG edgeprov alice"));
  f.socket.exists = true;
  f.socket.error = 0;

  f.caller = Account{.name = "monitor", .uid = 1001, .gids = {1001, 998}};
  CHECK(check_endpoint_permissions(f).verdict == Verdict::ok);

  f.identity_principals = {{"iotedge", Account{.name = "iotedge", .uid = 997, .gids = {997}}}, {"edgeAgent", std::nullopt}};
  r = check_endpoint_permissions(f);
  CHECK(r.verdict == Verdict::warning);
  CHECK(r.message == "identity principal iotedge cannot reach /run/edgeprov/edgeprov.sock");
  CHECK_THAT(r.fix, ContainsSubstring("sudo usermod -aG edgeprov iotedge"));
}

TEST_CASE("a world-searchable endpoint directory lets any local user connect; a missing socket is skipped") {
  EndpointFacts f;
  f.endpoint = "/tmp/x/edgeprov.sock";
  f.socket = file(f.endpoint, 0666, 0, 0, "root", "root");
  f.socket.socket = true;
  f.directory = dir("/tmp/x", 0755);
  f.caller = alice;
  CHECK_THAT(check_endpoint_permissions(f).message, ContainsSubstring("any local user may connect"));
  f.socket.exists = false;
  CHECK(check_endpoint_permissions(f).verdict == Verdict::skipped);
  f.directory.exists = false;
  CHECK(check_endpoint_permissions(f).verdict == Verdict::skipped);
  f.directory.exists = true;
  f.socket.exists = true;
  f.socket.socket = false;
  CHECK(check_endpoint_permissions(f).verdict == Verdict::error);
}

// ---- the TPM -------------------------------------------------------------------------------------------

TEST_CASE("a TPM in lockout is an error that says when it recovers; a counted failure is a warning") {
  auto t = reached_tpm();
  CHECK(check_tpm_lockout(t).verdict == Verdict::ok);
  CHECK(check_tpm_lockout(t).message == "0 of 32 failed authorizations; one is forgotten per 2 h powered on");
  t.lockout.counter = 1;
  auto r = check_tpm_lockout(t);
  CHECK(r.verdict == Verdict::warning);
  CHECK_THAT(r.cause, ContainsSubstring("without an orderly TPM shutdown"));
  t.lockout.counter = 32;
  t.lockout.in_lockout = true;
  r = check_tpm_lockout(t);
  CHECK(r.verdict == Verdict::error);
  CHECK(r.message == "in dictionary-attack lockout (32 of 32 failed authorizations); usable again in at most 2 h of "
                     "powered-on time");
  CHECK_THAT(r.fix, ContainsSubstring("tpm2_dictionarylockout --clear-lockout"));
}

TEST_CASE("the DPS key missing on a provisioned device is an error; before provisioning it is expected") {
  auto t = reached_tpm();
  CHECK(check_tpm_auth_key(t).verdict == Verdict::ok);
  t.provisioned = true;
  const auto r = check_tpm_auth_key(t);
  CHECK(r.verdict == Verdict::error);
  CHECK_THAT(r.fix, ContainsSubstring("edgeprovctl reprovision"));
  t.auth_key = true;
  CHECK(check_tpm_auth_key(t).message == "the DPS key is persisted at 0x81000100");
}

TEST_CASE("an EK certificate for another key is a warning; no certificate is fine") {
  auto t = reached_tpm();
  CHECK(check_tpm_ek_certificate(t).verdict == Verdict::ok);
  t.ek_certificate = true;
  t.ek_certificate_issuer = "CN=Infineon OPTIGA(TM) RSA Manufacturing CA 003";
  t.ek_certificate_matches = true;
  CHECK(check_tpm_ek_certificate(t).verdict == Verdict::ok);
  t.ek_certificate_matches = false;
  const auto r = check_tpm_ek_certificate(t);
  CHECK(r.verdict == Verdict::warning);
  CHECK_THAT(r.fix, ContainsSubstring("tpm2_evictcontrol -C o -c 0x81010001"));
}

TEST_CASE("a TPM that cannot be reached is an error with its cause and fix, and the TPM checks after it are skipped") {
  TpmFacts t;
  t.tcti = "swtpm:host=127.0.0.1,port=2321";
  t.problem = "lost the connection to the TPM";
  t.fix = "check that the simulator runs";
  const auto r = check_tpm_reachable(t);
  CHECK(r.verdict == Verdict::error);
  CHECK(r.cause == t.problem);
  CHECK(r.fix == t.fix);
  CHECK(check_tpm_keys(t).verdict == Verdict::skipped);
  CHECK(check_tpm_lockout(t).verdict == Verdict::skipped);
  t.applicable = false;
  CHECK(check_tpm_reachable(t).verdict == Verdict::skipped);
}

TEST_CASE("a TPM node the service's account may not open is an error naming the group to join") {
  TpmDeviceFacts f;
  f.tcti = "device:/dev/tpmrm0";
  f.node = file("/dev/tpmrm0", 0660, 0, 103, "tss", "tss");
  f.node.character_device = true;
  f.caller = root;
  f.account_name = "edgeprov";
  f.account = Account{.name = "edgeprov", .uid = 998, .gids = {998}};
  auto r = check_tpm_access(f);
  CHECK(r.verdict == Verdict::error);
  CHECK_THAT(r.fix, ContainsSubstring("sudo usermod -aG tss edgeprov"));
  f.account = edgeprov_account;
  CHECK(check_tpm_access(f).verdict == Verdict::ok);
  f.caller = alice;
  r = check_tpm_access(f);
  CHECK(r.verdict == Verdict::warning);
  CHECK_THAT(r.fix, ContainsSubstring("sudo usermod -aG tss alice"));
  f.node.exists = false;
  CHECK(check_tpm_access(f).verdict == Verdict::error);
}

// ---- DPS -----------------------------------------------------------------------------------------------

TEST_CASE("a DNS failure fails dps.dns and skips the steps after it") {
  DpsFacts d;
  d.server = "nowhere.invalid:443";
  d.failure = dps::TransportError{.kind = dps::TransportErrorKind::resolve, .message = "cannot resolve nowhere.invalid",
                                  .transient = true};
  CHECK(check_dps_dns(d).verdict == Verdict::error);
  CHECK(check_dps_dns(d).cause == "cannot resolve nowhere.invalid");
  CHECK(check_dps_tcp(d).verdict == Verdict::skipped);
  CHECK(check_dps_tls(d).verdict == Verdict::skipped);
  CHECK(check_dps_clock_skew(d).verdict == Verdict::skipped);
  CHECK(check_dps_tcp(d).message == "dps.dns failed");
}

TEST_CASE("an untrusted certificate fails dps.tls after DNS and TCP passed") {
  DpsFacts d;
  d.server = "127.0.0.1:8443";
  d.trust = "the system trust store";
  d.failure = dps::TransportError{.kind = dps::TransportErrorKind::certificate_verification,
                                  .message = "the certificate of 127.0.0.1:8443 is not trusted", .transient = false};
  CHECK(check_dps_dns(d).verdict == Verdict::ok);
  CHECK(check_dps_tcp(d).verdict == Verdict::ok);
  CHECK(check_dps_tls(d).verdict == Verdict::error);
  CHECK_THAT(check_dps_tls(d).fix, ContainsSubstring("trusted_ca"));
  CHECK(check_dps_clock_skew(d).verdict == Verdict::skipped);
}

TEST_CASE("a bad proxy setting fails dps.tcp, a bad CA file dps.tls, before any traffic") {
  DpsFacts d;
  d.server = "global.azure-devices-provisioning.net:443";
  d.failure = dps::TransportError{.kind = dps::TransportErrorKind::configuration, .message = "bad proxy", .transient = false};
  d.failed_at = DpsStage::proxy_settings;
  CHECK(check_dps_dns(d).verdict == Verdict::ok);
  CHECK(check_dps_tcp(d).verdict == Verdict::error);
  d.failed_at = DpsStage::tls_settings;
  CHECK(check_dps_tcp(d).verdict == Verdict::ok);
  CHECK(check_dps_tls(d).verdict == Verdict::error);
}

TEST_CASE("clock skew: within a minute ok, up to five minutes a warning, beyond an error, either way") {
  // date -u -d @1795928345 '+%a, %d %b %Y %H:%M:%S GMT'
  const SystemTime server{std::chrono::seconds{1795928345}};
  const std::string date = "Sun, 29 Nov 2026 04:59:05 GMT";
  CHECK(check_dps_clock_skew(answered_dps(server + 300ms, date)).verdict == Verdict::ok);
  CHECK(check_dps_clock_skew(answered_dps(server + 59s, date)).verdict == Verdict::ok);
  auto r = check_dps_clock_skew(answered_dps(server + 2min, date));
  CHECK(r.verdict == Verdict::warning);
  CHECK_THAT(r.message, ContainsSubstring("this clock is 1 min 59 s ahead of"));
  r = check_dps_clock_skew(answered_dps(server - 10min, date));
  CHECK(r.verdict == Verdict::error);
  CHECK_THAT(r.message, ContainsSubstring("this clock is 10 min behind"));
  CHECK_THAT(r.cause, ContainsSubstring("SAS tokens"));
  CHECK(check_dps_clock_skew(answered_dps(server, "")).verdict == Verdict::warning);
  CHECK(check_dps_clock_skew(answered_dps(server, "yesterday")).verdict == Verdict::warning);
}

// ---- persisted state -----------------------------------------------------------------------------------

TEST_CASE("a state file written for another id scope is a warning saying what happens next") {
  StateFacts f;
  f.file = "/var/lib/edgeprov/provisioning.json";
  f.read = StateFacts::Read::read;
  f.state = service::PersistedState{};
  f.state->settings = {.global_endpoint = "https://global.azure-devices-provisioning.net/", .id_scope = "0ne0000AAAA",
                       .registration_id = "dev-1", .attestation = "tpm"};
  f.expected = f.state->settings;
  CHECK(check_state_consistent(f).verdict == Verdict::ok);
  f.expected.id_scope = "0ne0000BBBB";
  auto r = check_state_consistent(f);
  CHECK(r.verdict == Verdict::warning);
  CHECK_THAT(r.cause, ContainsSubstring("id_scope \"0ne0000AAAA\" (configured: \"0ne0000BBBB\")"));
  CHECK_THAT(r.fix, ContainsSubstring("at its next start"));
  f.service_answered = true;
  CHECK_THAT(check_state_consistent(f).fix, ContainsSubstring("restart edgeprovd"));
  // An unknown registration id (TPM unread) is not a difference.
  f.expected = f.state->settings;
  f.expected.registration_id.clear();
  CHECK(check_state_consistent(f).verdict == Verdict::ok);
}

TEST_CASE("no state file is fine; one only the service may read is skipped; a corrupt one a warning") {
  StateFacts f;
  f.file = "/var/lib/edgeprov/provisioning.json";
  CHECK(check_state_consistent(f).verdict == Verdict::ok);
  f.read = StateFacts::Read::not_allowed;
  CHECK(check_state_consistent(f).verdict == Verdict::skipped);
  f.read = StateFacts::Read::invalid;
  f.problem = "version 7 is not 1";
  CHECK(check_state_consistent(f).verdict == Verdict::warning);
}

// ---- the run as a whole --------------------------------------------------------------------------------

TEST_CASE("exit codes: 0 when nothing is wrong, 10 with warnings only, 11 with any error") {
  std::vector<Result> results = {{"a", Verdict::ok, "", "", ""}, {"b", Verdict::skipped, "", "", ""}};
  CHECK(exit_code_of(results) == 0);
  results.push_back({"c", Verdict::warning, "", "", ""});
  CHECK(exit_code_of(results) == ctl::exit_code::check_warnings);
  CHECK(ctl::exit_code::check_warnings == 10);
  results.push_back({"d", Verdict::error, "", "", ""});
  CHECK(exit_code_of(results) == ctl::exit_code::check_errors);
  CHECK(ctl::exit_code::check_errors == 11);
}

TEST_CASE("check --only selects whole groups or single ids, never a prefix of a word") {
  const auto ids = [](const std::vector<Check>& checks) {
    std::vector<std::string> out;
    for (const auto& c : checks) out.emplace_back(c.id);
    return out;
  };
  CHECK(ids(select({"config"})) == std::vector<std::string>{"config.load", "config.service-access"});
  CHECK(ids(select({"tpm.lockout", "dps.tls"})) == std::vector<std::string>{"tpm.lockout", "dps.tls"});
  CHECK(select({"tp"}).empty());
  CHECK(select({}).size() == catalogue().size());
}

TEST_CASE("check --json lists every check with its result and counts them") {
  const std::vector<Result> results = {{"config.load", Verdict::ok, "loaded x", "", ""},
                                       {"tpm.lockout", Verdict::error, "locked", "why", "what"}};
  const auto j = results_json(results);
  CHECK(j["checks"][0] == nlohmann::json{{"id", "config.load"}, {"result", "ok"}, {"message", "loaded x"},
                                         {"cause", nullptr}, {"fix", nullptr}});
  CHECK(j["checks"][1]["cause"] == "why");
  CHECK(j["summary"] == nlohmann::json{{"ok", 1}, {"warning", 0}, {"error", 1}, {"skipped", 0}});
  const auto text = results_text(results);
  CHECK_THAT(text, ContainsSubstring("error    tpm.lockout  locked\n"));
  CHECK_THAT(text, ContainsSubstring("cause: why\n"));
  CHECK_THAT(text, ContainsSubstring("1 ok, 0 warnings, 1 error, 0 skipped"));
}

TEST_CASE("tpm.info's answer is read into the TPM facts") {
  const nlohmann::json info = {
      {"registrationId", "abc"},
      {"tpm", {{"manufacturer", "IBM"}, {"firmwareVersion", "1.2.3.4"},
               {"lockout", {{"inLockout", true}, {"counter", 3}, {"maxTries", 3}, {"intervalSeconds", 1000},
                            {"recoverySeconds", 1000}, {"lockoutAuthSet", false}}}}},
      {"handles", {{"endorsementKey", {{"present", true}}}, {"storageRootKey", {{"present", false}}},
                   {"authKey", {{"handle", "0x81000100"}, {"present", true}}}}},
      {"ekCertificate", {{"present", true}, {"matchesEndorsementKey", false}, {"issuer", "CN=x"}}}};
  TpmFacts t;
  read_tpm_info(info, t);
  CHECK(t.manufacturer == "IBM");
  CHECK(t.lockout == tpm::DictionaryAttackState{.counter = 3, .max_tries = 3, .interval_seconds = 1000,
                                                .recovery_seconds = 1000, .in_lockout = true, .lockout_auth_set = false});
  CHECK(t.endorsement_key);
  CHECK_FALSE(t.storage_root_key);
  CHECK(t.auth_key);
  CHECK(t.auth_key_handle == "0x81000100");
  CHECK(t.ek_certificate);
  CHECK(t.ek_certificate_matches == false);
  CHECK(t.registration_id == "abc");
}
