// A mosquitto broker for the MQTT transport tests, standing in for DPS's MQTT front end: a TLS listener
// (the port the transport uses) and a plain loopback listener for the test's DPS-side responder, which
// answers $dps requests the way DPS does. Tests only.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <mqtt/async_client.h>

#include "tests/integration/dps_transport/test_pki.h"
#include "tests/support/process.h"

namespace edgeprov::test {

struct MosquittoOptions {
  std::filesystem::path ca;
  CertKey identity;                            // the broker's server certificate
  bool require_certificate = false;            // clients must present a certificate signed by `ca`
  std::map<std::string, std::string> users;    // user name → password; empty: anonymous clients allowed
};

class Mosquitto {
 public:
  Mosquitto(const std::filesystem::path& dir, MosquittoOptions options);
  unsigned short tls_port() const { return tls_port_; }
  unsigned short plain_port() const { return plain_port_; }
  std::string log() const { return process_->output(); }
  void stop() { process_->stop(); }

 private:
  unsigned short tls_port_ = 0, plain_port_ = 0;
  std::unique_ptr<Process> process_;
};

// Plays DPS: subscribes to $dps/registrations/PUT/# and GET/#, records each request and publishes what
// `answer` returns for it.
struct Publication {
  std::string topic, payload;
};
class DpsResponder {
 public:
  using Answer = std::function<std::vector<Publication>(const std::string& topic, const std::string& payload)>;
  DpsResponder(unsigned short plain_port, std::optional<std::pair<std::string, std::string>> credentials,
               Answer answer);
  ~DpsResponder();
  std::vector<Publication> requests() const;

  // The $rid of a request topic ("…?$rid=7&operationId=…" → "7").
  static std::string request_id(const std::string& topic);

 private:
  mqtt::async_client client_;
  Answer answer_;
  mutable std::mutex mutex_;
  std::vector<Publication> requests_;
};

}  // namespace edgeprov::test
