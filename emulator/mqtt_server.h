// emulator/mqtt_server.h — the DPS device API over MQTT 3.1.1/TLS (docs/dps-protocol.md §3): CONNECT with the
// registration id as client id and the SAS as password, SUBSCRIBE $dps/registrations/res/#, register and
// status PUBLISHes answered on $dps/registrations/res/{status}/?$rid=…[&retry-after=…]. A malformed packet
// closes the connection. Every request passes the gate (outages, quotas, counters) first; during an outage that
// refuses, CONNECT gets CONNACK 3 "server unavailable". Replies reach every subscribed connection of the same
// registration id, so a mosquitto_sub/mosquitto_pub pair can act as one device. One log line per request, no
// secrets.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "emulator/device_gate.h"
#include "emulator/faults.h"
#include "emulator/provisioning_service.h"

namespace edgeprov::emulator {

struct MqttUsername {
  std::string id_scope, registration_id, api_version;
};
// "{idScope}/registrations/{registrationId}/api-version=…[&ClientVersion=…]"
std::optional<MqttUsername> parse_mqtt_username(std::string_view username);

struct MqttRequestTopic {
  enum class Kind { register_device, operation_status } kind = Kind::register_device;
  std::string rid, operation_id;
};
// "$dps/registrations/PUT/iotdps-register/?$rid=…" or "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=…&operationId=…"
std::optional<MqttRequestTopic> parse_mqtt_request_topic(std::string_view topic);
// "$dps/registrations/res/{status}/?$rid={rid}[&retry-after={n}]"
std::string mqtt_reply_topic(int status, std::string_view rid, std::optional<int> retry_after);

class MqttServer {
 public:
  MqttServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
             std::shared_ptr<boost::asio::ssl::context> tls, ProvisioningService& service, FaultTable& faults,
             DeviceGate& gate);
  ~MqttServer();
  MqttServer(const MqttServer&) = delete;
  MqttServer& operator=(const MqttServer&) = delete;
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace edgeprov::emulator
