#include "tests/support/provisioning_world.h"

#include "tests/support/notify.h"
#include "tests/support/status_watch.h"

#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "ipc/client.h"

namespace edgeprov::test {

namespace fs = std::filesystem;
using namespace std::chrono;
using nlohmann::json;

namespace {

// Runs `sh -c script` with `env`; throws with the output unless it exits 0.
std::string shell(const std::string& script, std::map<std::string, std::string> env) {
  auto r = run({.argv = {"sh", "-c", script}, .env = std::move(env)}, seconds(60));
  if (!r.status.exited() || r.status.code != 0)
    throw std::runtime_error("command failed (exit " + std::to_string(r.status.code) + "): " + script + "\n" + r.output);
  return r.output;
}

// The end of a log without the per-connection lines that status polling adds, for failure messages.
std::string log_tail(const std::string& log, std::size_t lines = 80) {
  std::vector<std::string> kept;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (line.find("ipc: connection from") == std::string::npos) kept.push_back(line);
  std::string out;
  for (std::size_t i = kept.size() > lines ? kept.size() - lines : 0; i < kept.size(); ++i) out += kept[i] + "\n";
  return out;
}

std::string ctl_command_line(const std::vector<std::string>& args, const std::optional<std::string>& user) {
  std::string line = "$";
  if (user) line += " (as " + *user + ")";
  line += " edgeprovctl";
  for (const auto& a : args) line += " " + a;
  return line;
}

}  // namespace

// ---- DpsEmulator -----------------------------------------------------------------------------------------

DpsEmulator::DpsEmulator(fs::path dir, std::vector<std::string> extra_args)
    : dir_(std::move(dir)), extra_args_(std::move(extra_args)) {
  fs::create_directories(dir_ / "certs");
  const auto ports = free_loopback_ports(3);
  https_port_ = ports[0];
  mqtt_port_ = ports[1];
  admin_port_ = ports[2];
  start();
}

DpsEmulator::~DpsEmulator() {
  if (process_) process_->stop();
}

void DpsEmulator::start() {
  if (running()) return;
  std::vector<std::string> argv{(bin_dir() / "dps-emulator").string(),
                                "--https", fmt::format("127.0.0.1:{}", https_port_),
                                "--mqtt", fmt::format("127.0.0.1:{}", mqtt_port_),
                                "--admin", fmt::format("127.0.0.1:{}", admin_port_),
                                "--id-scope", world_id_scope,
                                "--cert-dir", (dir_ / "certs").string(),
                                "--state-file", (dir_ / "emulator-state.json").string(),
                                "--hub", "hub-a.azure-devices.net", "--hub", "hub-b.azure-devices.net"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  process_ = std::make_unique<Process>(ProcessOptions{.argv = argv, .log_file = log_file()});
  const bool up = wait_for_tcp("127.0.0.1", https_port_, seconds(20)) && wait_for_tcp("127.0.0.1", mqtt_port_, seconds(5)) &&
                  wait_for_tcp("127.0.0.1", admin_port_, seconds(5));
  if (!up) throw std::runtime_error("dps-emulator did not start:\n" + log());
}

void DpsEmulator::stop() {
  if (process_) process_->stop();
  process_.reset();
}

bool DpsEmulator::running() const { return process_ && process_->running(); }

std::string DpsEmulator::global_endpoint() const {
  // "localhost": a name the emulator's server certificate carries, checked like a DPS host name.
  return fmt::format("https://localhost:{}/", https_port_);
}

HttpReply DpsEmulator::admin(const std::string& method, const std::string& path, const json& body) const {
  static int counter = 0;
  const std::string stem = (dir_ / fmt::format("admin{}", ++counter)).string();
  std::vector<std::string> argv{"curl", "-sS", "-o", stem + ".body", "-w", "\n%{http_code}", "-X", method};
  if (!body.is_null()) {
    write_file(stem + ".request", body.dump());
    argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary", "@" + stem + ".request"});
  }
  argv.push_back(fmt::format("http://127.0.0.1:{}{}", admin_port_, path));
  const auto r = run({.argv = argv}, seconds(30));
  HttpReply reply;
  const auto last = r.output.rfind('\n');
  reply.status = std::atoi((last == std::string::npos ? r.output : r.output.substr(last + 1)).c_str());
  reply.output = last == std::string::npos ? std::string{} : r.output.substr(0, last);
  if (fs::exists(stem + ".body")) reply.body = read_file(stem + ".body");
  return reply;
}

json DpsEmulator::add_fault(const json& fault) const {
  const auto r = admin("POST", "/faults", fault);
  if (r.status != 201) throw std::runtime_error(fmt::format("POST /faults {} answered {}: {}", fault.dump(), r.status, r.body));
  return r.json();
}

void DpsEmulator::clear_faults() const {
  const auto r = admin("DELETE", "/faults");
  if (r.status / 100 != 2) throw std::runtime_error(fmt::format("DELETE /faults answered {}: {}", r.status, r.body));
}

std::string DpsEmulator::log() const { return fs::exists(log_file()) ? read_file(log_file()) : std::string{}; }

std::vector<EmulatorRequest> DpsEmulator::requests(const std::string& registration_id) const {
  std::vector<EmulatorRequest> out;
  std::istringstream lines(log());
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string time, level;
    EmulatorRequest r;
    if (!(words >> time >> level >> r.transport >> r.kind >> r.registration_id)) continue;
    if (r.transport != "https" && r.transport != "mqtt") continue;
    if (!registration_id.empty() && r.registration_id != registration_id) continue;
    const auto at = parse_rfc3339(time);
    if (!at) continue;
    r.at = *at;
    std::getline(words >> std::ws, r.outcome);
    r.line = line;
    out.push_back(std::move(r));
  }
  return out;
}

// ---- ProvisioningWorld -----------------------------------------------------------------------------------

ProvisioningWorld::ProvisioningWorld(WorldOptions options) {
  fs::create_directories(state_dir());
  if (options.tpm) swtpm_ = std::make_unique<Swtpm>();
  emulator_ = std::make_unique<DpsEmulator>(dir() / "emulator", std::move(options.emulator_args));
}

ProvisioningWorld::~ProvisioningWorld() {
  if (daemon_) daemon_->stop();
  emulator_.reset();
  swtpm_.reset();
}

Swtpm& ProvisioningWorld::swtpm() {
  if (!swtpm_) throw std::logic_error("this world has no swtpm (WorldOptions::tpm is false)");
  return *swtpm_;
}

ProvisioningWorld::TpmIdentity ProvisioningWorld::tpm_identity() {
  const auto r = ctl({"--json", "tpm", "info", "--tcti", swtpm().tcti()});
  if (r.status.code != 0) throw std::runtime_error("edgeprovctl tpm info failed:\n" + r.output);
  const auto j = json::parse(r.output);
  return {j.at("registrationId").get<std::string>(), j.at("endorsementKey").get<std::string>()};
}

namespace {
void put_enrollment(const DpsEmulator& emulator, const std::string& path, const json& body) {
  const auto r = emulator.admin("PUT", path, body);
  if (r.status != 200 && r.status != 201)
    throw std::runtime_error(fmt::format("PUT {} answered {}: {}", path, r.status, r.body));
}
}  // namespace

void ProvisioningWorld::enroll_tpm(const TpmIdentity& tpm, const json& extra) {
  json body{{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", tpm.endorsement_key}}}}},
            {"capabilities", {{"iotEdge", true}}}};
  body.update(extra);
  put_enrollment(*emulator_, "/enrollments/" + tpm.registration_id, body);
}

void ProvisioningWorld::enroll_symmetric_key(const std::string& registration_id, const std::string& primary_key,
                                             const json& extra) {
  json body{{"attestation", {{"type", "symmetricKey"}, {"symmetricKey", {{"primaryKey", primary_key}}}}},
            {"capabilities", {{"iotEdge", true}}}};
  body.update(extra);
  put_enrollment(*emulator_, "/enrollments/" + registration_id, body);
}

void ProvisioningWorld::enroll_symmetric_key_group(const std::string& group_id, const std::string& group_key) {
  put_enrollment(*emulator_, "/enrollmentGroups/" + group_id,
                 {{"attestation", {{"type", "symmetricKey"}, {"symmetricKey", {{"primaryKey", group_key}}}}},
                  {"capabilities", {{"iotEdge", true}}}});
}

void ProvisioningWorld::enroll_x509(const std::string& registration_id, const fs::path& certificate) {
  put_enrollment(*emulator_, "/enrollments/" + registration_id,
                 {{"attestation",
                   {{"type", "x509"},
                    {"x509", {{"clientCertificates", {{"primary", {{"certificate", read_file(certificate)}}}}}}}}}});
}

void ProvisioningWorld::enroll_x509_group(const std::string& group_id, const fs::path& ca_certificate) {
  put_enrollment(*emulator_, "/enrollmentGroups/" + group_id,
                 {{"attestation",
                   {{"type", "x509"},
                    {"x509", {{"signingCertificates", {{"primary", {{"certificate", read_file(ca_certificate)}}}}}}}}}});
}

void ProvisioningWorld::set_enrollment_status(const std::string& registration_id, const std::string& provisioning_status) {
  const auto current = emulator_->admin("GET", "/enrollments/" + registration_id);
  if (current.status != 200)
    throw std::runtime_error(fmt::format("GET /enrollments/{} answered {}: {}", registration_id, current.status, current.body));
  json body = current.json();
  body["provisioningStatus"] = provisioning_status;
  for (const char* server_field : {"etag", "createdDateTimeUtc", "lastUpdatedDateTimeUtc"}) body.erase(server_field);
  put_enrollment(*emulator_, "/enrollments/" + registration_id, body);
}

X509Files ProvisioningWorld::make_ca(const std::string& name) {
  X509Files f{dir() / (name + ".pem"), dir() / (name + ".key")};
  shell(R"(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$KEY" -out "$CERT" \
  -subj "/CN=$NAME" -days 2 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>&1)",
        {{"KEY", f.key.string()}, {"CERT", f.certificate.string()}, {"NAME", name}});
  return f;
}

X509Files ProvisioningWorld::make_device_certificate(const std::string& cn, const std::optional<X509Files>& ca) {
  X509Files f{dir() / (cn + ".pem"), dir() / (cn + ".key")};
  if (ca) {
    shell(R"(set -e
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$KEY" -out "$CERT.csr" -subj "/CN=$CN" 2>&1
openssl x509 -req -in "$CERT.csr" -CA "$CA" -CAkey "$CAKEY" -CAcreateserial -out "$CERT" -days 2 2>&1)",
          {{"KEY", f.key.string()}, {"CERT", f.certificate.string()}, {"CN", cn},
           {"CA", ca->certificate.string()}, {"CAKEY", ca->key.string()}});
  } else {
    shell(R"(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$KEY" -out "$CERT" \
  -subj "/CN=$CN" -days 2 2>&1)",
          {{"KEY", f.key.string()}, {"CERT", f.certificate.string()}, {"CN", cn}});
  }
  return f;
}

RunResult ProvisioningWorld::init(const Device& device) {
  std::vector<std::string> args{"--config", config_file().string(), "init",
                                "--scope-id", world_id_scope,
                                "--global-endpoint", emulator_->global_endpoint(),
                                "--trusted-ca", emulator_->ca().string(),
                                "--state-dir", state_dir().string(),
                                "--log-level", device.log_level,
                                "--force"};
  if (device.transport != "https") args.insert(args.end(), {"--transport", device.transport});
  if (!device.registration_id.empty()) args.insert(args.end(), {"--registration-id", device.registration_id});
  std::optional<std::string> stdin_text;
  switch (device.attestation) {
    case Attestation::tpm:
      args.insert(args.end(), {"--attestation", "tpm", "--tcti", swtpm().tcti()});
      break;
    case Attestation::symmetric_key:
      // On stdin, as the documentation recommends: the key stays out of the command line.
      args.insert(args.end(), {"--attestation", "symmetric-key", "--symmetric-key", "-"});
      stdin_text = device.symmetric_key + "\n";
      break;
    case Attestation::x509:
      args.insert(args.end(), {"--attestation", "x509", "--identity-cert", device.identity_cert.string(),
                               "--identity-pk", device.identity_pk.string()});
      break;
  }
  args.insert(args.begin(), {"--endpoint", socket().string()});
  args.insert(args.begin(), (bin_dir() / "edgeprovctl").string());
  auto r = run({.argv = args, .stdin_text = stdin_text}, seconds(30));
  args.erase(args.begin());
  ctl_transcript_ += ctl_command_line(args, std::nullopt) + "\n" + r.output + "\n";
  if (r.status.code != 0) throw std::runtime_error(ctl_command_line(args, std::nullopt) + "\nfailed:\n" + r.output);
  std::string text = read_file(config_file());
  std::string dps_keys = fmt::format("mqtt_port = {}\n", emulator_->mqtt_port());
  if (!device.symmetric_key_source.empty())
    dps_keys += fmt::format("symmetric_key_source = \"{}\"\n", device.symmetric_key_source);
  if (const auto table = text.find("\n[edgeprov.dps]\n"); table != std::string::npos) {
    text.insert(table + std::string("\n[edgeprov.dps]\n").size(), dps_keys);
  } else {
    text += "\n[edgeprov.dps]\n" + dps_keys;
  }
  // A top-level key: it must come before the first table.
  if (!device.reprovisioning_mode.empty())
    text = fmt::format("auto_reprovisioning_mode = \"{}\"\n", device.reprovisioning_mode) + text;
  write_file(config_file(), text);
  return r;
}

void ProvisioningWorld::start_daemon() {
  if (daemon_running()) throw std::logic_error("edgeprovd already runs");
  // edgeprovd says READY=1 (sd_notify) once its endpoint listens: wait for that, not for a socket file.
  daemon_ = start_until_ready({.argv = {(bin_dir() / "edgeprovd").string(), "--config", config_file().string()},
                               .log_file = daemon_log_file()},
                              dir() / "notify.sock");
}

ExitStatus ProvisioningWorld::stop_daemon() {
  if (!daemon_) throw std::logic_error("edgeprovd was not started");
  const auto status = daemon_->stop();
  daemon_.reset();
  return status;
}

bool ProvisioningWorld::daemon_running() { return daemon_ && daemon_->running(); }

std::string ProvisioningWorld::daemon_log() const {
  return fs::exists(daemon_log_file()) ? read_file(daemon_log_file()) : std::string{};
}

json ProvisioningWorld::call(const std::string& method, const json& params, milliseconds timeout) {
  ipc::Client client(socket().string(), timeout);
  return client.call(method, params);
}

RunResult ProvisioningWorld::ctl(std::vector<std::string> args, std::optional<std::string> user, milliseconds timeout) {
  args.insert(args.begin(), {"--endpoint", socket().string()});
  const std::string line = ctl_command_line(args, user);
  args.insert(args.begin(), (bin_dir() / "edgeprovctl").string());
  auto r = run(ProcessOptions{.argv = std::move(args), .run_as_user = std::move(user)}, timeout);
  ctl_transcript_ += line + "\n" + r.output + "\n";
  return r;
}

json ProvisioningWorld::wait_for(const std::function<bool(const json&)>& accept, milliseconds timeout,
                                 const std::string& what) {
  try {
    return watch_status(socket(), accept, timeout, what,
                        [this](const json& s) { observations_.push_back({steady_clock::now(), s}); });
  } catch (const std::runtime_error& e) {
    if (daemon_ && !daemon_->running())
      throw std::runtime_error(fmt::format("edgeprovd exited while waiting for {}: {}\nedgeprovd's log:\n{}", what,
                                           e.what(), log_tail(daemon_log())));
    throw std::runtime_error(fmt::format("{}\nedgeprovd's log:\n{}", e.what(), log_tail(daemon_log())));
  }
}

json ProvisioningWorld::wait_for_state(const std::string& state, milliseconds timeout) {
  return wait_for([&](const json& s) { return s.value("state", "") == state; }, timeout, "state " + state);
}

std::vector<std::string> lines_containing(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  if (needle.empty()) return out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (line.find(needle) != std::string::npos) out.push_back(line);
  return out;
}

}  // namespace edgeprov::test
