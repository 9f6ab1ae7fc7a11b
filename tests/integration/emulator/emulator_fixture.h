// tests/integration/emulator/emulator_fixture.h — a dps-emulator process on free loopback ports with a temp
// cert dir, and the independent clients the tests judge it with: curl (HTTPS), the openssl command line
// (SAS signatures, certificates) and mosquitto_pub/mosquitto_sub (MQTT).
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/process.h"

namespace edgeprov::test {

inline constexpr const char* id_scope = "0ne00ABC123";

struct HttpResult {
  int status = 0;       // 0 when curl got no HTTP answer
  int curl_exit = 0;
  std::string body;
  std::string headers;  // raw response headers, lowercase names as curl -D writes them (kept as sent)
  std::string output;   // curl's own messages (stderr, -v when asked)
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::optional<std::string> header(const std::string& name) const;
};

struct EmulatorOptions {
  std::string enrollments_toml;            // written to a file and passed with --enrollments
  std::vector<std::string> extra_args;
  std::optional<std::filesystem::path> state_file;
  std::optional<std::filesystem::path> cert_dir;  // default: a fresh one in the fixture's temp dir
};

class Emulator {
 public:
  explicit Emulator(EmulatorOptions options = {});
  ~Emulator();

  unsigned short https_port() const { return https_port_; }
  unsigned short mqtt_port() const { return mqtt_port_; }
  unsigned short admin_port() const { return admin_port_; }
  std::filesystem::path ca() const { return cert_dir_ / "ca.pem"; }
  const TempDir& dir() const { return dir_; }
  std::string output() const { return process_->output(); }
  bool running() { return process_->running(); }
  ExitStatus stop() { return process_->stop(); }

  std::string device_url(const std::string& registration_id, const std::string& rest = "register",
                         const std::string& api_version = "2021-06-01") const;
  // curl against the device API. `args` go before the URL (e.g. -X PUT, -H …, --data-binary …).
  HttpResult curl(std::vector<std::string> args, const std::string& url, std::chrono::seconds timeout = std::chrono::seconds(30)) const;
  HttpResult admin(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) const;
  bool admin_alive() const;
  // GET /stats/wait?{conditions}&timeoutMs=…: returns once the emulator's counters reach the conditions (200) or
  // at the timeout (408). How the tests wait for the emulator to have seen something, instead of sleeping.
  HttpResult wait_stats(const std::string& conditions, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // mosquitto_pub / mosquitto_sub / mosquitto_rr arguments that connect as `registration_id` with `password`.
  std::vector<std::string> mosquitto(const char* tool, const std::string& registration_id, const std::string& password) const;
  // One device session made of a subscriber (the replies) and one mosquitto_pub per request, published once the
  // emulator has counted the subscriber's SUBSCRIBE: the first `replies` replies as "topic payload" lines.
  std::vector<std::string> mqtt_exchange(const std::string& registration_id, const std::string& password,
                                         const std::vector<std::pair<std::string, std::string>>& requests, int replies) const;

 private:
  TempDir dir_;
  std::filesystem::path cert_dir_;
  unsigned short https_port_ = 0, mqtt_port_ = 0, admin_port_ = 0;
  std::unique_ptr<Process> process_;
};

// "{idScope}/registrations/{id}/api-version=2021-06-01&ClientVersion=1.15.0", the MQTT user name of a device.
std::string mqtt_username(const std::string& registration_id);

// "SharedAccessSignature sr=…&sig=…&se=…&skn=registration" signed by `openssl dgst -mac HMAC` as the Azure C SDK
// signs (sr URL-encoded with lowercase hex). `key_b64` is the device key.
std::string openssl_sas(const std::string& key_b64, const std::string& registration_id, long long expiry_unix);
// The same string to sign (sr = "{scope}%2fregistrations%2f{id}"), for a TPM to HMAC.
std::string c_sdk_string_to_sign(const std::string& registration_id, long long expiry_unix);
// base64(HMAC-SHA256(base64decode(group key), registration id)) by the openssl command line (§4.4).
std::string openssl_derived_key(const std::string& group_key_b64, const std::string& registration_id);
long long now_unix();

// Runs `sh -c script` with `env`, failing the test on a non-zero exit; returns the output.
std::string shell(const std::string& script, const std::map<std::string, std::string>& env = {});

}  // namespace edgeprov::test
