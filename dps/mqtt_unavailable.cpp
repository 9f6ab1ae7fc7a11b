// The MQTT transport of a build without Paho MQTT (EDGEPROV_WITH_MQTT=OFF: the Windows cross-build, since
// Debian's archive serves no paho.mqtt.c source to build it from). create() refuses with a configuration
// error that says what to do; no MqttTransport object can exist, so its other members are never reached.
// The configuration loader rejects transport = "mqtt" in such a build before anything gets here.
#include "dps/mqtt_transport.h"

namespace edgeprov::dps {

class MqttTransport::Impl {};

std::variant<std::shared_ptr<MqttTransport>, TransportError> MqttTransport::create(boost::asio::any_io_executor,
                                                                                    MqttSettings) {
  return TransportError{TransportErrorKind::configuration,
                        "DPS over MQTT is not available in this build: use transport = \"https\" under "
                        "[edgeprov.dps]",
                        false};
}

MqttTransport::MqttTransport(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
MqttTransport::~MqttTransport() = default;
void MqttTransport::async_register(std::string, MqttHandler) {}
void MqttTransport::async_operation_status(std::string, std::string, MqttHandler) {}
void MqttTransport::set_password(Secret) {}
void MqttTransport::close() {}

}  // namespace edgeprov::dps
