#include "tests/integration/emulator/emulator_fixture.h"

#include <catch2/catch_test_macros.hpp>

namespace edgeprov::test {

using namespace std::chrono_literals;

std::optional<std::string> HttpResult::header(const std::string& name) const {
  std::string lower_name = name;
  for (auto& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t at = 0;
  while (at < headers.size()) {
    auto end = headers.find('\n', at);
    std::string line = headers.substr(at, end == std::string::npos ? std::string::npos : end - at);
    at = end == std::string::npos ? headers.size() : end + 1;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key != lower_name) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
    return value;
  }
  return std::nullopt;
}

Emulator::Emulator(EmulatorOptions options) {
  cert_dir_ = options.cert_dir.value_or(dir_ / "certs");
  auto ports = free_loopback_ports(3);
  https_port_ = ports[0];
  mqtt_port_ = ports[1];
  admin_port_ = ports[2];
  std::vector<std::string> argv{(bin_dir() / "dps-emulator").string(),
                                "--https", "127.0.0.1:" + std::to_string(https_port_),
                                "--mqtt", "127.0.0.1:" + std::to_string(mqtt_port_),
                                "--admin", "127.0.0.1:" + std::to_string(admin_port_),
                                "--id-scope", id_scope,
                                "--cert-dir", cert_dir_.string(),
                                "--hub", "hub-a.azure-devices.net", "--hub", "hub-b.azure-devices.net"};
  if (!options.enrollments_toml.empty()) {
    write_file(dir_ / "enrollments.toml", options.enrollments_toml);
    argv.insert(argv.end(), {"--enrollments", (dir_ / "enrollments.toml").string()});
  }
  if (options.state_file) argv.insert(argv.end(), {"--state-file", options.state_file->string()});
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  process_ = std::make_unique<Process>(ProcessOptions{.argv = argv, .log_file = dir_ / "emulator.log"});
  bool up = wait_for_tcp("127.0.0.1", https_port_, 15s) && wait_for_tcp("127.0.0.1", mqtt_port_, 5s) &&
            wait_for_tcp("127.0.0.1", admin_port_, 5s);
  if (!up) FAIL("dps-emulator did not start:\n" << process_->output());
}

Emulator::~Emulator() = default;

std::string Emulator::device_url(const std::string& registration_id, const std::string& rest, const std::string& api_version) const {
  return "https://localhost:" + std::to_string(https_port_) + "/" + id_scope + "/registrations/" + registration_id + "/" + rest +
         "?api-version=" + api_version;
}

HttpResult Emulator::curl(std::vector<std::string> args, const std::string& url, std::chrono::seconds timeout) const {
  static int counter = 0;
  std::string stem = (dir_ / ("curl" + std::to_string(++counter))).string();
  std::vector<std::string> argv{"curl", "-sS", "--cacert", ca().string(), "-D", stem + ".headers", "-o", stem + ".body",
                                "-w", "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  auto r = run({.argv = argv}, timeout);
  HttpResult result;
  result.curl_exit = r.status.exited() ? r.status.code : -1;
  auto last = r.output.rfind('\n');
  std::string code = last == std::string::npos ? r.output : r.output.substr(last + 1);
  result.status = std::atoi(code.c_str());
  result.output = last == std::string::npos ? std::string{} : r.output.substr(0, last);
  if (std::filesystem::exists(stem + ".body")) result.body = read_file(stem + ".body");
  if (std::filesystem::exists(stem + ".headers")) result.headers = read_file(stem + ".headers");
  return result;
}

HttpResult Emulator::admin(const std::string& method, const std::string& path, const nlohmann::json& body) const {
  std::vector<std::string> args{"-X", method};
  if (!body.is_null()) {
    write_file(dir_ / "admin-body.json", body.dump());
    args.insert(args.end(), {"-H", "Content-Type: application/json", "--data-binary", "@" + (dir_ / "admin-body.json").string()});
  }
  return curl(args, "http://127.0.0.1:" + std::to_string(admin_port_) + path);
}

bool Emulator::admin_alive() const { return admin("GET", "/").status == 200; }

HttpResult Emulator::wait_stats(const std::string& conditions, std::chrono::milliseconds timeout) const {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout) + 10s;
  return curl({}, "http://127.0.0.1:" + std::to_string(admin_port_) + "/stats/wait?" + conditions +
                      "&timeoutMs=" + std::to_string(timeout.count()),
              seconds);
}

std::string mqtt_username(const std::string& registration_id) {
  return std::string(id_scope) + "/registrations/" + registration_id + "/api-version=2021-06-01&ClientVersion=1.15.0";
}

std::vector<std::string> Emulator::mosquitto(const char* tool, const std::string& registration_id,
                                             const std::string& password) const {
  return {tool, "-V", "mqttv311", "-h", "localhost", "-p", std::to_string(mqtt_port_), "--cafile", ca().string(),
          "-i", registration_id, "-u", mqtt_username(registration_id), "-P", password};
}

std::vector<std::string> Emulator::mqtt_exchange(const std::string& registration_id, const std::string& password,
                                                 const std::vector<std::pair<std::string, std::string>>& requests,
                                                 int replies) const {
  static int counter = 0;
  auto subscribed = admin("GET", "/stats").json()["connections"]["mqtt"]["subscribed"].get<std::uint64_t>();
  auto sub_argv = mosquitto("mosquitto_sub", registration_id, password);
  sub_argv.insert(sub_argv.end(), {"-t", "$dps/registrations/res/#", "-q", "1", "-v", "-C", std::to_string(replies), "-W", "10"});
  Process subscriber({.argv = sub_argv, .log_file = dir_ / ("sub-" + std::to_string(++counter) + ".log")});
  auto ready = wait_stats("connections.mqtt.subscribed=" + std::to_string(subscribed + 1));
  INFO(subscriber.output());
  REQUIRE(ready.status == 200);
  for (const auto& [topic, payload] : requests) {
    auto pub = mosquitto("mosquitto_pub", registration_id, password);
    pub.insert(pub.end(), {"-t", topic, "-q", "1", "-m", payload});
    auto r = run({.argv = pub}, 10s);
    INFO(r.output);
    CHECK(r.status.code == 0);
  }
  subscriber.wait(12s);
  std::vector<std::string> lines;
  std::string out = subscriber.output(), line;
  for (char c : out) {
    if (c == '\n') {
      if (line.rfind("$dps/", 0) == 0) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  return lines;
}

std::string shell(const std::string& script, const std::map<std::string, std::string>& env) {
  auto r = run({.argv = {"sh", "-c", script}, .env = env});
  INFO(script << "\n" << r.output);
  REQUIRE(r.status.exited());
  REQUIRE(r.status.code == 0);
  return r.output;
}

long long now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string c_sdk_string_to_sign(const std::string& registration_id, long long expiry_unix) {
  return std::string(id_scope) + "%2fregistrations%2f" + registration_id + "\n" + std::to_string(expiry_unix);
}

std::string openssl_sas(const std::string& key_b64, const std::string& registration_id, long long expiry_unix) {
  return shell(R"(set -e
hex=$(printf %s "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
sig=$(printf '%s\n%s' "$SR" "$SE" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$hex -binary | base64 | sed 's/+/%2b/g; s/\//%2f/g; s/=/%3d/g')
printf 'SharedAccessSignature sr=%s&sig=%s&se=%s&skn=registration' "$SR" "$sig" "$SE")",
               {{"KEY", key_b64},
                {"SR", std::string(id_scope) + "%2fregistrations%2f" + registration_id},
                {"SE", std::to_string(expiry_unix)}});
}

std::string openssl_derived_key(const std::string& group_key_b64, const std::string& registration_id) {
  return shell(R"(set -e
hex=$(printf %s "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
printf %s "$ID" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$hex -binary | base64 | tr -d '\n')",
               {{"KEY", group_key_b64}, {"ID", registration_id}});
}

}  // namespace edgeprov::test
