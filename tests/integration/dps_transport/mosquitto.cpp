#include "tests/integration/dps_transport/mosquitto.h"

#include <unistd.h>

#include <stdexcept>

namespace edgeprov::test {

Mosquitto::Mosquitto(const std::filesystem::path& dir, MosquittoOptions options) {
  const auto ports = free_loopback_ports(2);
  tls_port_ = ports[0];
  plain_port_ = ports[1];
  std::string config;
  // Running as root, mosquitto would switch to the "mosquitto" user, which cannot read the test's files.
  if (geteuid() == 0) config += "user root\n";
  config += "per_listener_settings false\npersistence false\nlog_dest stderr\nlog_type all\n";
  config += "connection_messages true\n";
  if (options.users.empty()) {
    config += "allow_anonymous true\n";
  } else {
    const auto password_file = dir / "mosquitto.passwd";
    bool first = true;
    for (const auto& [user, password] : options.users) {
      std::vector<std::string> argv{"mosquitto_passwd", "-b"};
      if (first) argv.push_back("-c");
      argv.insert(argv.end(), {password_file.string(), user, password});
      const auto result = run(ProcessOptions{.argv = argv});
      if (result.status.code != 0) throw std::runtime_error("mosquitto_passwd failed: " + result.output);
      first = false;
    }
    config += "allow_anonymous false\npassword_file " + password_file.string() + "\n";
  }
  config += "listener " + std::to_string(tls_port_) + " 127.0.0.1\n";
  config += "cafile " + options.ca.string() + "\n";
  config += "certfile " + options.identity.cert.string() + "\n";
  config += "keyfile " + options.identity.key.string() + "\n";
  config += std::string("require_certificate ") + (options.require_certificate ? "true" : "false") + "\n";
  config += "listener " + std::to_string(plain_port_) + " 127.0.0.1\n";
  const auto config_file = dir / "mosquitto.conf";
  write_file(config_file, config);
  process_ = std::make_unique<Process>(ProcessOptions{.argv = {"mosquitto", "-c", config_file.string()}});
  if (!wait_for_tcp("127.0.0.1", tls_port_, std::chrono::seconds(10)) ||
      !wait_for_tcp("127.0.0.1", plain_port_, std::chrono::seconds(10))) {
    throw std::runtime_error("mosquitto did not start:\n" + process_->output());
  }
}

DpsResponder::DpsResponder(unsigned short plain_port, std::optional<std::pair<std::string, std::string>> credentials,
                           Answer answer)
    : client_("tcp://127.0.0.1:" + std::to_string(plain_port), "dps-responder",
              static_cast<mqtt::iclient_persistence*>(nullptr)),
      answer_(std::move(answer)) {
  client_.set_message_callback([this](mqtt::const_message_ptr message) {
    Publication request{message->get_topic(), message->get_payload_str()};
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    for (const auto& reply : answer_(request.topic, request.payload)) {
      client_.publish(reply.topic, reply.payload.data(), reply.payload.size(), 1, false);
    }
  });
  mqtt::connect_options options;
  options.set_mqtt_version(MQTTVERSION_3_1_1);
  options.set_clean_session(true);
  if (credentials) {
    options.set_user_name(credentials->first);
    options.set_password(credentials->second);
  }
  client_.connect(options)->wait();
  client_.subscribe("$dps/registrations/PUT/#", 1)->wait();
  client_.subscribe("$dps/registrations/GET/#", 1)->wait();
}

DpsResponder::~DpsResponder() {
  try {
    client_.disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
  }
}

std::vector<Publication> DpsResponder::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::string DpsResponder::request_id(const std::string& topic) {
  const auto start = topic.find("$rid=");
  if (start == std::string::npos) return "";
  const auto end = topic.find('&', start);
  return topic.substr(start + 5, end == std::string::npos ? std::string::npos : end - start - 5);
}

}  // namespace edgeprov::test
