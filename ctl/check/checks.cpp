#include "ctl/check/checks.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

#include "ctl/exit_codes.h"

namespace edgeprov::ctl::check {

namespace {

Result ok(std::string_view id, std::string message) { return {std::string(id), Verdict::ok, std::move(message), {}, {}}; }
Result skipped(std::string_view id, std::string why) { return {std::string(id), Verdict::skipped, std::move(why), {}, {}}; }
Result warning(std::string_view id, std::string message, std::string cause, std::string fix) {
  return {std::string(id), Verdict::warning, std::move(message), std::move(cause), std::move(fix)};
}
Result error(std::string_view id, std::string message, std::string cause, std::string fix) {
  return {std::string(id), Verdict::error, std::move(message), std::move(cause), std::move(fix)};
}

// ---- POSIX permissions, as the kernel decides them for an account -------------------------------------

bool in_group(const Account& who, std::uint32_t gid) {
  return std::find(who.gids.begin(), who.gids.end(), gid) != who.gids.end();
}

// The rwx bits `who` gets on `file` (root gets them all: it bypasses modes for read and search).
unsigned permitted(const FileFacts& file, const Account& who) {
  if (who.uid == 0) return 7;
  if (who.uid == file.uid) return (file.mode >> 6) & 7;
  if (in_group(who, file.gid)) return (file.mode >> 3) & 7;
  return file.mode & 7;
}

std::string mode_text(const FileFacts& file) {
  return fmt::format("{:04o} {}:{}", file.mode, file.owner, file.group);
}

// The first element of `chain` that stops `who` from reading its last element: a directory it may not
// search, or the file it may not read. nullptr when nothing does.
const FileFacts* blocking(const std::vector<FileFacts>& chain, const Account& who, unsigned want_last) {
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const bool last = i + 1 == chain.size();
    const unsigned want = last ? want_last : 1u;
    if ((permitted(chain[i], who) & want) != want) return &chain[i];
  }
  return nullptr;
}

std::string json_text(const nlohmann::json& j, const char* key, std::string fallback = "?") {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return fallback;
  return j[key].get<std::string>();
}

}  // namespace

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::ok: return "ok";
    case Verdict::warning: return "warning";
    case Verdict::error: return "error";
    case Verdict::skipped: return "skipped";
  }
  return "?";
}

// ---- config -------------------------------------------------------------------------------------------

Result check_config_load(const ConfigFacts& facts) {
  constexpr std::string_view id = "config.load";
  if (facts.config) return ok(id, "loaded " + facts.file.string());
  return error(id, facts.file.string() + " does not load", facts.problem, facts.fix);
}

Result check_config_service_access(const ServiceAccessFacts& facts) {
  constexpr std::string_view id = "config.service-access";
  if (!facts.supported)
    return skipped(id, "not on this platform: the service runs as LocalSystem, which may read its files");
  if (!facts.account)
    return skipped(id, fmt::format("there is no `{}` account (the package creates it): edgeprovd runs as whoever "
                                   "starts it",
                                   facts.account_name));
  for (const auto& file : facts.files) {
    if (file.chain.empty() || !file.chain.back().exists) continue;  // missing files are reported where they are used
    const FileFacts& target = file.chain.back();
    const FileFacts* stop = blocking(file.chain, *facts.account, 4);
    if (stop == nullptr) continue;
    if (stop == &target) {
      return error(id, fmt::format("{} cannot read {} ({})", facts.account_name, target.path.string(), file.setting),
                   fmt::format("{} is {}: the service runs as {} and may not read it", target.path.string(),
                               mode_text(target), facts.account_name),
                   fmt::format("give it to the service's account, keeping it private: `sudo chown {} {}` (a file "
                               "written by `sudo edgeprovctl init` already is)",
                               facts.account_name, target.path.string()));
    }
    return error(id, fmt::format("{} cannot reach {} ({})", facts.account_name, target.path.string(), file.setting),
                 fmt::format("the directory {} is {} and {} may not search it", stop->path.string(), mode_text(*stop),
                             facts.account_name),
                 fmt::format("let it through: `sudo chmod o+x {}`, or move the file somewhere it can reach",
                             stop->path.string()));
  }
  return ok(id, fmt::format("{} can read the configuration and the files it names", facts.account_name));
}

// ---- the service --------------------------------------------------------------------------------------

Result check_service_running(const ServiceFacts& facts) {
  constexpr std::string_view id = "service.running";
  if (facts.answered) {
    const auto& service = facts.status.value("service", nlohmann::json::object());
    return ok(id, fmt::format("edgeprovd {} answers at {} (pid {}, up {})", json_text(facts.version, "version"),
                              facts.endpoint, service.value("pid", 0),
                              duration_text(std::chrono::seconds(service.value("uptimeSeconds", 0)))));
  }
  if (facts.connect_error == EACCES || facts.connect_error == EPERM)
    return warning(id, "this user may not reach edgeprovd at " + facts.endpoint, facts.problem,
                   "see ipc.endpoint-permissions below, or run as root");
  if (facts.connect_error == ENOENT || facts.connect_error == ECONNREFUSED || facts.connect_error == 0)
    return warning(id, "edgeprovd does not answer at " + facts.endpoint, facts.problem, facts.start_hint);
  return error(id, "edgeprovd cannot be asked at " + facts.endpoint, facts.problem, facts.start_hint);
}

Result check_service_version(const ServiceFacts& facts) {
  constexpr std::string_view id = "service.version";
  if (!facts.answered) return skipped(id, "edgeprovd did not answer (service.running)");
  const std::string service = json_text(facts.version, "version");
  if (service == facts.client_version) return ok(id, "edgeprovctl and edgeprovd are both " + service);
  return warning(id, fmt::format("edgeprovctl is {}, the running edgeprovd {}", facts.client_version, service),
                 "the service was not restarted after an upgrade, or another build of it runs",
                 "restart it so both are the installed version: `sudo systemctl restart edgeprovd`");
}

Result check_service_provisioning(const ServiceFacts& facts) {
  constexpr std::string_view id = "service.provisioning";
  if (!facts.answered) return skipped(id, "edgeprovd did not answer (service.running)");
  const auto& s = facts.status;
  const std::string state = json_text(s, "state");
  const auto attempt_error = [&] {
    const auto attempt = s.value("lastAttempt", nlohmann::json::object());
    const auto e = attempt.is_object() ? attempt.value("error", nlohmann::json::object()) : nlohmann::json::object();
    return json_text(e, "message", "no error recorded");
  };
  if (state == "provisioned") {
    const auto a = s.value("assignment", nlohmann::json::object());
    // A TPM that fails while provisioned leaves the assignment but not the signing (status tpm.error).
    const auto tpm = s.value("tpm", nlohmann::json::object());
    if (tpm.is_object() && tpm.contains("error") && tpm["error"].is_object()) {
      return warning(id, "provisioned, but the TPM cannot sign now", json_text(tpm["error"], "message"),
                     "see tpm.* below; edgeprovd signs again by itself once the TPM recovers");
    }
    return ok(id, fmt::format("provisioned: device {} on hub {} (from {})", json_text(a, "deviceId"), json_text(a, "hub"),
                              json_text(s, "source")));
  }
  if (state == "failed")
    return error(id, "provisioning failed and waits for an operator", attempt_error(),
                 "fix the cause, then register again: `sudo edgeprovctl reprovision`");
  if (state == "retrying")
    return warning(id, "not provisioned: retrying at " + json_text(s, "nextAttemptAt"), attempt_error(),
                   "edgeprovd retries by itself; fix the cause to make the next attempt succeed");
  return ok(id, fmt::format("{} since {}", state, json_text(s, "since")));
}

Result check_endpoint_permissions(const EndpointFacts& facts) {
  constexpr std::string_view id = "ipc.endpoint-permissions";
  if (!facts.supported)
    return skipped(id, "a named pipe: what each caller may do is decided per method from its token");
  const FileFacts& dir = facts.directory;
  if (!dir.exists) return skipped(id, "no directory " + dir.path.string() + " (edgeprovd is not running)");
  // Who may connect is decided by the directory: the socket inside is 0666, the methods judge the caller.
  std::string who;
  if ((dir.mode & 01) != 0) {
    who = "any local user";
  } else if ((dir.mode & 010) != 0) {
    who = "root and the members of group " + dir.group;
  } else {
    who = "root and " + dir.owner + " only";
  }
  const auto can_reach = [&](const Account& a) { return (permitted(dir, a) & 1) != 0; };
  if (!can_reach(facts.caller)) {
    const std::string fix =
        (dir.mode & 010) != 0
            ? fmt::format("run as root, or join group {0}: `sudo usermod -aG {0} {1}`, then log in again", dir.group,
                          facts.caller.name)
            : fmt::format("run as root, or let a group search {}", dir.path.string());
    return warning(id, fmt::format("{} may not reach {} ({} may)", facts.caller.name, facts.endpoint, who),
                   fmt::format("{} is {}: local readers of status reach the endpoint through its group",
                               dir.path.string(), mode_text(dir)),
                   fix);
  }
  if (!facts.socket.exists) return skipped(id, "no socket at " + facts.endpoint + " (edgeprovd is not running)");
  if (!facts.socket.socket)
    return error(id, facts.endpoint + " is not a socket",
                 "something else holds the endpoint's path, so edgeprovd cannot listen there",
                 "remove it if nothing needs it, or set another [edgeprov.ipc] endpoint");
  if ((facts.socket.mode & 0666) != 0666)
    return warning(id, fmt::format("the socket is {}, not 0666", mode_text(facts.socket)),
                   "edgeprovd makes its socket connectable by all who may reach its directory; someone changed it",
                   "restart edgeprovd, which makes the socket again");
  for (const auto& [name, principal] : facts.identity_principals) {
    if (principal && !can_reach(*principal))
      return warning(id, fmt::format("identity principal {} cannot reach {}", name, facts.endpoint),
                     fmt::format("[edgeprov.ipc] identity_principals lets {} call identity.*, but {} is {}", name,
                                 dir.path.string(), mode_text(dir)),
                     fmt::format("add it to group {0}: `sudo usermod -aG {0} {1}`", dir.group, name));
  }
  return ok(id, fmt::format("{} may connect ({} {}); each method then decides by the caller's identity", who,
                            dir.path.string(), mode_text(dir)));
}

// ---- the TPM ------------------------------------------------------------------------------------------

void read_tpm_info(const nlohmann::json& info, TpmFacts& facts) {
  const auto object = [](const nlohmann::json& j, const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_object() ? j[key] : nlohmann::json::object();
  };
  const auto flag = [](const nlohmann::json& j, const char* key) { return j.value(key, false); };
  const auto number = [](const nlohmann::json& j, const char* key) { return j.value(key, std::uint32_t{0}); };
  const auto tpm = object(info, "tpm");
  facts.manufacturer = json_text(tpm, "manufacturer");
  facts.firmware = json_text(tpm, "firmwareVersion");
  const auto lockout = object(tpm, "lockout");
  facts.lockout = {.counter = number(lockout, "counter"),
                   .max_tries = number(lockout, "maxTries"),
                   .interval_seconds = number(lockout, "intervalSeconds"),
                   .recovery_seconds = number(lockout, "recoverySeconds"),
                   .in_lockout = flag(lockout, "inLockout"),
                   .lockout_auth_set = flag(lockout, "lockoutAuthSet")};
  const auto handles = object(info, "handles");
  facts.endorsement_key = flag(object(handles, "endorsementKey"), "present");
  facts.storage_root_key = flag(object(handles, "storageRootKey"), "present");
  facts.auth_key = flag(object(handles, "authKey"), "present");
  facts.auth_key_handle = json_text(object(handles, "authKey"), "handle");
  const auto cert = object(info, "ekCertificate");
  facts.ek_certificate = flag(cert, "present");
  if (cert.contains("matchesEndorsementKey") && cert["matchesEndorsementKey"].is_boolean())
    facts.ek_certificate_matches = cert["matchesEndorsementKey"].get<bool>();
  facts.ek_certificate_issuer = json_text(cert, "issuer", "");
  facts.ek_certificate_problem = json_text(cert, "problem", "");
  facts.registration_id = json_text(info, "registrationId", "");
}

Result check_tpm_reachable(const TpmFacts& facts) {
  constexpr std::string_view id = "tpm.reachable";
  if (!facts.applicable) return skipped(id, "the attestation is not tpm: edgeprov does not use the TPM");
  if (!facts.reached) return error(id, "the TPM cannot be used through " + facts.tcti, facts.problem, facts.fix);
  return ok(id, fmt::format("{}: {} firmware {}, asked through {}", facts.tcti, facts.manufacturer, facts.firmware,
                            facts.through));
}

Result check_tpm_access(const TpmDeviceFacts& facts) {
  constexpr std::string_view id = "tpm.access";
  if (!facts.uses_tpm) return skipped(id, "the attestation is not tpm: edgeprov does not use the TPM");
  if (!facts.applicable) return skipped(id, "the TCTI is not a device node: " + facts.tcti);
  if (!facts.supported) return skipped(id, "not on this platform: TBS decides who may use the TPM");
  const FileFacts& node = facts.node;
  if (!node.exists)
    return error(id, node.path.string() + " does not exist",
                 node.error != 0 ? fmt::format("{} cannot be inspected: {}", node.path.string(), error_text(node.error))
                                 : "the kernel offers no TPM at that node",
                 "enable the TPM 2.0 in the firmware setup (TPM, PTT or fTPM) and check that the kernel sees it (`ls "
                 "/sys/class/tpm`); if the TPM is elsewhere, set [tpm] tcti");
  if (!node.character_device)
    return error(id, node.path.string() + " is not a device node", "the TCTI names a file that is not a TPM",
                 "set [tpm] tcti to the TPM's device, e.g. \"device:/dev/tpmrm0\"");
  if (facts.account && (permitted(node, *facts.account) & 6) != 6)
    return error(id, fmt::format("{} may not open {} ({})", facts.account_name, node.path.string(), mode_text(node)),
                 fmt::format("the service runs as {}, which is neither its owner nor in group {}", facts.account_name,
                             node.group),
                 fmt::format("add it to the group: `sudo usermod -aG {} {}`, then `sudo systemctl restart edgeprovd`",
                             node.group, facts.account_name));
  if ((permitted(node, facts.caller) & 6) != 6)
    return warning(id, fmt::format("{} may not open {} ({})", facts.caller.name, node.path.string(), mode_text(node)),
                   "edgeprovctl opens the TPM itself when the service does not run (tpm info, check)",
                   fmt::format("run as root, or join the group: `sudo usermod -aG {0} {1}`, then log in again",
                               node.group, facts.caller.name));
  return ok(id, fmt::format("{} is {}{}", node.path.string(), mode_text(node),
                            facts.account ? fmt::format("; {} may open it", facts.account_name) : std::string()));
}

Result check_tpm_keys(const TpmFacts& facts) {
  constexpr std::string_view id = "tpm.keys";
  if (!facts.applicable) return skipped(id, "the attestation is not tpm");
  if (!facts.reached) return skipped(id, "the TPM was not reached (tpm.reachable)");
  const auto state = [](bool present, const char* name) {
    return present ? fmt::format("{} persisted", name)
                   : fmt::format("{} not persisted yet (edgeprovd creates it from the TCG template)", name);
  };
  return ok(id, state(facts.endorsement_key, "EK 0x81010001") + ", " + state(facts.storage_root_key, "SRK 0x81000001"));
}

Result check_tpm_auth_key(const TpmFacts& facts) {
  constexpr std::string_view id = "tpm.auth-key";
  if (!facts.applicable) return skipped(id, "the attestation is not tpm");
  if (!facts.reached) return skipped(id, "the TPM was not reached (tpm.reachable)");
  if (facts.auth_key) return ok(id, "the DPS key is persisted at " + facts.auth_key_handle);
  if (facts.provisioned)
    return error(id, "no DPS key at " + facts.auth_key_handle + " although the device is provisioned",
                 "the hub key DPS gave this device is gone from the TPM (cleared, or evicted by another program), so "
                 "hub SAS tokens cannot be signed",
                 "register again so DPS imports a new key: `sudo edgeprovctl reprovision`");
  return ok(id, "no DPS key at " + facts.auth_key_handle + " yet: DPS sends it at the first registration");
}

Result check_tpm_lockout(const TpmFacts& facts) {
  constexpr std::string_view id = "tpm.lockout";
  if (!facts.applicable) return skipped(id, "the attestation is not tpm");
  if (!facts.reached) return skipped(id, "the TPM was not reached (tpm.reachable)");
  const auto& da = facts.lockout;
  if (da.in_lockout) {
    const auto wait = tpm::time_until_usable(da);
    return error(id,
                 fmt::format("in dictionary-attack lockout ({} of {} failed authorizations); {}", da.counter,
                             da.max_tries,
                             wait ? "usable again in at most " + duration_text(*wait) + " of powered-on time"
                                  : std::string("it does not end by itself")),
                 tpm::lockout_problem(da), tpm::lockout_fix(da));
  }
  if (da.interval_seconds == 0) return ok(id, "dictionary-attack protection is off (lockout interval 0)");
  const std::string interval = duration_text(std::chrono::seconds(da.interval_seconds));
  if (da.counter > 0)
    return warning(id, fmt::format("{} of {} failed authorizations counted", da.counter, da.max_tries),
                   fmt::format("the TPM counts failed authorizations, and every reset or power loss without an orderly "
                               "TPM shutdown after the DPS key was used; at {} it locks the key; it forgets one per {} "
                               "powered on",
                               da.max_tries, interval),
                   "shut the device down cleanly; if it loses power by design, raise the limit "
                   "(`tpm2_dictionarylockout --setup-parameters --max-tries=N --recovery-time=SECONDS`) or reset the "
                   "count (`tpm2_dictionarylockout --clear-lockout`), both with the lockout password if one is set");
  return ok(id, fmt::format("0 of {} failed authorizations; one is forgotten per {} powered on", da.max_tries, interval));
}

Result check_tpm_ek_certificate(const TpmFacts& facts) {
  constexpr std::string_view id = "tpm.ek-certificate";
  if (!facts.applicable) return skipped(id, "the attestation is not tpm");
  if (!facts.reached) return skipped(id, "the TPM was not reached (tpm.reachable)");
  if (!facts.ek_certificate)
    return ok(id, "no EK certificate in NV 0x01c00002 (simulated and some firmware TPMs have none; DPS does not "
                  "need one)");
  if (!facts.ek_certificate_problem.empty() && !facts.ek_certificate_matches)
    return warning(id, "the EK certificate in NV 0x01c00002 could not be compared with the EK",
                   facts.ek_certificate_problem,
                   "nothing edgeprov needs: DPS TPM attestation uses the EK itself, not its certificate");
  if (!facts.ek_certificate_matches) return ok(id, "an EK certificate is in NV 0x01c00002; the EK is not persisted yet");
  if (*facts.ek_certificate_matches)
    return ok(id, "the EK certificate in NV 0x01c00002 (issuer " + facts.ek_certificate_issuer + ") matches the EK");
  return warning(id, "the EK certificate in NV 0x01c00002 is for another key than the EK at 0x81010001",
                 "the key persisted at 0x81010001 was not made from the TCG EK template and the manufacturer's seed, "
                 "so it is not the key the certificate (issuer " + facts.ek_certificate_issuer + ") vouches for",
                 "if the DPS enrollment should hold the certified EK, remove the other key (`tpm2_evictcontrol -C o "
                 "-c 0x81010001`): edgeprovd then recreates the standard EK; print it with `edgeprovctl tpm info`");
}

// ---- DPS ----------------------------------------------------------------------------------------------

namespace {

// The exchange's steps in order; a failure stops at one of them.
enum class Step { dns, tcp, tls, http, none };

Step failed_step(const DpsFacts& facts) {
  if (!facts.failure) return Step::none;
  using K = dps::TransportErrorKind;
  switch (facts.failure->kind) {
    case K::configuration: return facts.failed_at == DpsStage::proxy_settings ? Step::tcp : Step::tls;
    case K::resolve: return Step::dns;
    case K::connect:
    case K::proxy:
    case K::timeout:
    case K::closed: return Step::tcp;
    case K::tls_handshake:
    case K::certificate_verification: return Step::tls;
    case K::too_large:
    case K::refused:
    case K::protocol: return Step::http;
  }
  return Step::http;
}

std::string_view step_name(Step step) {
  switch (step) {
    case Step::dns: return "dps.dns";
    case Step::tcp: return "dps.tcp";
    case Step::tls: return "dps.tls";
    default: return "dps.clock-skew";
  }
}

// The common part of the three network checks: ok / error at this step / skipped after an earlier one.
std::optional<Result> network_verdict(std::string_view id, Step mine, const DpsFacts& facts, std::string_view fix) {
  const Step failed = failed_step(facts);
  if (failed == mine)
    return error(id, "cannot reach DPS at " + facts.server, facts.failure->message, std::string(fix));
  if (failed < mine) return skipped(id, fmt::format("{} failed", step_name(failed)));
  return std::nullopt;
}

std::string host_of(const std::string& server) {
  const auto colon = server.rfind(':');
  std::string host = colon == std::string::npos ? server : server.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host;
}

}  // namespace

Result check_dps_dns(const DpsFacts& facts) {
  constexpr std::string_view id = "dps.dns";
  if (auto v = network_verdict(id, Step::dns, facts,
                               "check the name in [provisioning] global_endpoint (or the proxy's) and this machine's "
                               "DNS (/etc/resolv.conf, `resolvectl status`)"))
    return *v;
  if (!facts.proxy.empty())
    return ok(id, fmt::format("the proxy {} resolves (it resolves {} itself)", facts.proxy, host_of(facts.server)));
  return ok(id, host_of(facts.server) + " resolves");
}

Result check_dps_tcp(const DpsFacts& facts) {
  constexpr std::string_view id = "dps.tcp";
  if (auto v = network_verdict(id, Step::tcp, facts,
                               "check the network and firewalls between this device and DPS (outbound 443, and "
                               "8883 for MQTT), and [edgeprov.dps] proxy or HTTPS_PROXY"))
    return *v;
  if (!facts.proxy.empty()) return ok(id, fmt::format("connected to {} through the proxy {}", facts.server, facts.proxy));
  return ok(id, "connected to " + facts.server);
}

Result check_dps_tls(const DpsFacts& facts) {
  constexpr std::string_view id = "dps.tls";
  if (auto v = network_verdict(id, Step::tls, facts,
                               "check [edgeprov.dps] trusted_ca (absent for the public DPS: the system trust store), "
                               "that nothing intercepts TLS on the way, and this machine's clock"))
    return *v;
  return ok(id, fmt::format("TLS with {} verified against {}", facts.server, facts.trust));
}

Result check_dps_clock_skew(const DpsFacts& facts) {
  constexpr std::string_view id = "dps.clock-skew";
  const Step failed = failed_step(facts);
  if (failed == Step::http)
    return error(id, facts.server + " did not answer HTTP", facts.failure->message,
                 "check that [provisioning] global_endpoint names a DPS endpoint");
  if (failed != Step::none) return skipped(id, fmt::format("{} failed", step_name(failed)));
  const std::string clock_fix =
      "turn on time synchronization (`timedatectl set-ntp true`, or chrony) and check `timedatectl status`";
  if (facts.date_header.empty())
    return warning(id, facts.server + " sent no Date header", "the server's clock could not be compared with this one",
                   clock_fix);
  const auto server_time = parse_http_date(facts.date_header);
  if (!server_time)
    return warning(id, fmt::format("{} sent a Date header that is not an HTTP date: \"{}\"", facts.server, facts.date_header),
                   "the server's clock could not be compared with this one", clock_fix);
  // Date has whole seconds and is taken before the answer is sent: the server's clock was in
  // [date, date + 1 s) when this one read local_time.
  const auto skew = std::chrono::duration_cast<std::chrono::seconds>(*server_time + std::chrono::milliseconds(500) -
                                                                     facts.local_time);
  const auto size = std::chrono::abs(skew);
  const std::string direction = skew.count() > 0 ? "behind" : "ahead of";
  const std::string line = fmt::format("this clock is {} {} {}'s ({})", duration_text(size), direction, facts.server,
                                       facts.date_header);
  if (size < skew_warning)
    return ok(id, fmt::format("this clock is within {} of {}'s ({})", duration_text(std::max(size, std::chrono::seconds(1))),
                              facts.server, facts.date_header));
  if (size < skew_error)
    return warning(id, line, "the clock drifts: time synchronization is off or not working", clock_fix);
  return error(id, line,
               "SAS tokens are given lifetimes from this clock (40 min to DPS, 1 h to the hub), so behind by that "
               "much they arrive expired, and certificates' validity is judged by it",
               "set the time and keep it set: " + clock_fix);
}

// ---- persisted state ----------------------------------------------------------------------------------

Result check_state_consistent(const StateFacts& facts) {
  constexpr std::string_view id = "state.consistent";
  const std::string file = facts.file.string();
  switch (facts.read) {
    case StateFacts::Read::absent:
      return ok(id, "no persisted assignment (" + file + "): edgeprovd registers when it starts");
    case StateFacts::Read::not_allowed:
      return skipped(id, file + " is readable by the service's account only: run as root to check it");
    case StateFacts::Read::unreadable:
      return error(id, "cannot read " + file, facts.problem, "check the disk and the file's permissions");
    case StateFacts::Read::invalid:
      return warning(id, file + " is not a valid state file", facts.problem,
                     "nothing to do: at its next start edgeprovd sets it aside (provisioning.json.rejected-<time>) and "
                     "registers again");
    case StateFacts::Read::read: break;
  }
  const auto& written = facts.state->settings;
  const auto& expected = facts.expected;
  std::vector<std::string> differences;
  const auto compare = [&](const char* what, const std::string& was, const std::string& is) {
    if (was != is) differences.push_back(fmt::format("{} \"{}\" (configured: \"{}\")", what, was, is));
  };
  compare("global_endpoint", written.global_endpoint, expected.global_endpoint);
  compare("id_scope", written.id_scope, expected.id_scope);
  compare("attestation", written.attestation, expected.attestation);
  if (!expected.registration_id.empty()) compare("registration id", written.registration_id, expected.registration_id);
  if (!differences.empty()) {
    std::string list;
    for (const auto& d : differences) list += (list.empty() ? "" : ", ") + d;
    return warning(id, file + " was written for other settings", "it was written for " + list,
                   facts.service_answered
                       ? "restart edgeprovd to apply the configuration: it then sets the file aside and registers "
                         "with the configured settings (`sudo systemctl restart edgeprovd`)"
                       : "nothing to do if the configuration is right: at its next start edgeprovd sets the file aside "
                         "and registers with the configured settings");
  }
  const std::string compared = expected.registration_id.empty()
                                   ? " (registration id not compared: the TPM was not read)"
                                   : std::string();
  if (!facts.state->assignment) return ok(id, file + " holds a retry schedule, no assignment; written for these settings" + compared);
  const auto& a = *facts.state->assignment;
  return ok(id, fmt::format("{}: device {} on hub {}, assigned {}; written for these settings{}", file, a.device_id,
                            a.hub, to_rfc3339(a.assigned_at), compared));
}

// ---- the catalogue ------------------------------------------------------------------------------------

namespace {
constexpr unsigned bit(Need n) { return static_cast<unsigned>(n); }
}  // namespace

const std::vector<Check>& catalogue() {
  static const std::vector<Check> checks = {
      {"config.load", bit(Need::config)},
      {"config.service-access", bit(Need::config) | bit(Need::service_access)},
      // The service and its endpoint are judged without a configuration too (the default endpoint).
      {"service.running", bit(Need::service)},
      {"service.version", bit(Need::service)},
      {"service.provisioning", bit(Need::service)},
      {"ipc.endpoint-permissions", bit(Need::endpoint)},
      {"tpm.reachable", bit(Need::config) | bit(Need::tpm)},
      {"tpm.access", bit(Need::config) | bit(Need::tpm_device)},
      {"tpm.keys", bit(Need::config) | bit(Need::tpm)},
      {"tpm.auth-key", bit(Need::config) | bit(Need::tpm)},
      {"tpm.lockout", bit(Need::config) | bit(Need::tpm)},
      {"tpm.ek-certificate", bit(Need::config) | bit(Need::tpm)},
      {"dps.dns", bit(Need::config) | bit(Need::dps)},
      {"dps.tcp", bit(Need::config) | bit(Need::dps)},
      {"dps.tls", bit(Need::config) | bit(Need::dps)},
      {"dps.clock-skew", bit(Need::config) | bit(Need::dps)},
      {"state.consistent", bit(Need::config) | bit(Need::state)},
  };
  return checks;
}

std::vector<Check> select(const std::vector<std::string>& only) {
  std::vector<Check> out;
  for (const auto& check : catalogue()) {
    const bool wanted = only.empty() || std::any_of(only.begin(), only.end(), [&](const std::string& s) {
                          return check.id == s || (check.id.starts_with(s) && check.id.size() > s.size() &&
                                                   check.id[s.size()] == '.');
                        });
    if (wanted) out.push_back(check);
  }
  return out;
}

Result evaluate(std::string_view id, const Facts& f) {
  if (id == "config.load") return check_config_load(f.config);
  const auto check = std::find_if(catalogue().begin(), catalogue().end(), [&](const Check& c) { return c.id == id; });
  if (check == catalogue().end()) return skipped(id, "unknown check");
  if ((check->needs & bit(Need::config)) != 0 && !f.config.config)
    return skipped(id, "the configuration did not load (config.load)");
  const auto need = [&](const auto& facts, auto&& verdict) -> Result {
    if (!facts) return skipped(id, "its facts were not gathered");
    return verdict(*facts);
  };
  if (id == "config.service-access") return need(f.service_access, check_config_service_access);
  if (id == "service.running") return need(f.service, check_service_running);
  if (id == "service.version") return need(f.service, check_service_version);
  if (id == "service.provisioning") return need(f.service, check_service_provisioning);
  if (id == "ipc.endpoint-permissions") return need(f.endpoint, check_endpoint_permissions);
  if (id == "tpm.reachable") return need(f.tpm, check_tpm_reachable);
  if (id == "tpm.access") return need(f.tpm_device, check_tpm_access);
  if (id == "tpm.keys") return need(f.tpm, check_tpm_keys);
  if (id == "tpm.auth-key") return need(f.tpm, check_tpm_auth_key);
  if (id == "tpm.lockout") return need(f.tpm, check_tpm_lockout);
  if (id == "tpm.ek-certificate") return need(f.tpm, check_tpm_ek_certificate);
  if (id == "dps.dns") return need(f.dps, check_dps_dns);
  if (id == "dps.tcp") return need(f.dps, check_dps_tcp);
  if (id == "dps.tls") return need(f.dps, check_dps_tls);
  if (id == "dps.clock-skew") return need(f.dps, check_dps_clock_skew);
  if (id == "state.consistent") return need(f.state, check_state_consistent);
  return skipped(id, "unknown check");
}

int exit_code_of(const std::vector<Result>& results) {
  const auto any = [&](Verdict v) {
    return std::any_of(results.begin(), results.end(), [v](const Result& r) { return r.verdict == v; });
  };
  if (any(Verdict::error)) return exit_code::check_errors;
  if (any(Verdict::warning)) return exit_code::check_warnings;
  return exit_code::ok;
}

nlohmann::json results_json(const std::vector<Result>& results) {
  nlohmann::json checks = nlohmann::json::array();
  std::map<std::string, int> counts = {{"ok", 0}, {"warning", 0}, {"error", 0}, {"skipped", 0}};
  for (const auto& r : results) {
    const std::string verdict(to_string(r.verdict));
    ++counts[verdict];
    nlohmann::json entry = {{"id", r.id}, {"result", verdict}, {"message", r.message}};
    entry["cause"] = r.cause.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.cause);
    entry["fix"] = r.fix.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.fix);
    checks.push_back(std::move(entry));
  }
  return {{"checks", checks}, {"summary", counts}};
}

std::string results_text(const std::vector<Result>& results) {
  std::size_t width = 0;
  for (const auto& r : results) width = std::max(width, r.id.size());
  std::string out;
  int counts[4] = {};
  for (const auto& r : results) {
    ++counts[static_cast<int>(r.verdict)];
    out += fmt::format("{:<8} {:<{}}  {}\n", to_string(r.verdict), r.id, width, r.message);
    const std::string indent(8 + 1 + width + 2, ' ');
    if (!r.cause.empty()) out += indent + "cause: " + r.cause + "\n";
    if (!r.fix.empty()) out += indent + "fix:   " + r.fix + "\n";
  }
  out += fmt::format("\n{} ok, {} warning{}, {} error{}, {} skipped\n", counts[0], counts[1], counts[1] == 1 ? "" : "s",
                     counts[2], counts[2] == 1 ? "" : "s", counts[3]);
  return out;
}

}  // namespace edgeprov::ctl::check
