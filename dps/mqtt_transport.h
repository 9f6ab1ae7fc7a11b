// dps/mqtt_transport.h — moves DPS requests over MQTT 3.1.1 on TLS (Paho MQTT C++), the way the Azure
// IoT C SDK does (docs/dps-protocol.md §3): the register and status requests are PUBLISHes with a $rid,
// the replies arrive on $dps/registrations/res/{status}/?$rid=…&retry-after=… and are matched by $rid.
// Paho runs its own threads; every result is delivered on the caller's io_context, never on Paho's.
// It never interprets a DPS reply and never logs the password (the SAS token).
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/asio/any_io_executor.hpp>

#include "common/secret.h"
#include "dps/tls.h"
#include "dps/transport.h"

namespace edgeprov::dps {

struct MqttSettings {
  Endpoint server;                  // dps_server(global_endpoint, Transport::mqtt, mqtt_port)
  TlsSettings tls;                  // trust, and the client certificate for X.509 attestation
  std::string id_scope;
  std::string registration_id;      // also the MQTT client id
  std::optional<Secret> password;   // the DPS SAS token (symmetric key); absent with a client certificate
  std::string client_version;       // "ClientVersion=" in the user name; empty = edgeprov's version
  std::chrono::milliseconds timeout{std::chrono::seconds(70)};  // cloud_timeout_sec: connect, and each reply
  std::size_t reply_limit = default_reply_limit;
};

struct MqttReply {
  int status = 0;            // from the reply topic: $dps/registrations/res/{status}/
  std::string retry_after;   // the topic's retry-after property as sent ("" when absent)
  std::string body;
};

using MqttResult = std::variant<MqttReply, TransportError>;
using MqttHandler = std::function<void(MqttResult)>;

class MqttTransport {
 public:
  // Checks the TLS files; no network yet. Handlers run on `executor`.
  static std::variant<std::shared_ptr<MqttTransport>, TransportError> create(boost::asio::any_io_executor executor,
                                                                              MqttSettings settings);
  ~MqttTransport();
  MqttTransport(const MqttTransport&) = delete;
  MqttTransport& operator=(const MqttTransport&) = delete;

  // PUBLISH $dps/registrations/PUT/iotdps-register/?$rid={n} with `body` and wait for its reply.
  // Connects (and subscribes) first when needed; a dropped connection is reopened on the next request.
  void async_register(std::string body, MqttHandler handler);
  // PUBLISH $dps/registrations/GET/iotdps-get-operationstatus/?$rid={n}&operationId={id}.
  void async_operation_status(std::string operation_id, std::string body, MqttHandler handler);

  // The SAS token for the next CONNECT (a token re-minted before the old one expires).
  void set_password(Secret password);

  // Disconnects; requests waiting for a reply complete with a `closed` error.
  void close();

  class Impl;

 private:
  explicit MqttTransport(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgeprov::dps
