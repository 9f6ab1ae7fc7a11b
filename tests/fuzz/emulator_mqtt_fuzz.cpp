// The emulator's MQTT 3.1.1 codec as its broker reads a connection: the input is the bytes a client
// sent, delimited into packets by mqtt::frame and each decoded. A packet that decodes must encode back
// to a packet that decodes to the same values (PUBLISH, SUBSCRIBE, CONNECT), and topic filters from
// SUBSCRIBE are matched against the topics DPS uses.
#include <cstddef>
#include <cstdint>
#include <string>

#include "emulator/mqtt_codec.h"
#include "tests/fuzz/fuzz_check.h"

using namespace edgeprov;
namespace mqtt = edgeprov::emulator::mqtt;

namespace {

constexpr std::size_t max_packet = 64 * 1024;

std::optional<mqtt::Packet> decode_whole(const Bytes& bytes) {
  const auto framed = mqtt::frame(bytes, max_packet);
  FUZZ_CHECK(framed.status == mqtt::Frame::Status::complete);
  FUZZ_CHECK(framed.size == bytes.size());
  std::string error;
  return mqtt::decode(bytes, error);
}

void round_trip(const mqtt::Packet& packet) {
  if (const auto* publish = std::get_if<mqtt::Publish>(&packet); publish && publish->qos <= 1) {
    const auto again = decode_whole(mqtt::encode_publish(publish->topic, publish->payload, publish->qos,
                                                         publish->packet_id));
    FUZZ_CHECK(again);
    const auto& same = std::get<mqtt::Publish>(*again);
    FUZZ_CHECK(same.topic == publish->topic && same.payload == publish->payload && same.qos == publish->qos);
    if (publish->qos > 0) FUZZ_CHECK(same.packet_id == publish->packet_id);
  }
  if (const auto* subscribe = std::get_if<mqtt::Subscribe>(&packet)) {
    const auto again = decode_whole(mqtt::encode_subscribe(*subscribe));
    FUZZ_CHECK(again);
    const auto& same = std::get<mqtt::Subscribe>(*again);
    FUZZ_CHECK(same.packet_id == subscribe->packet_id && same.filters == subscribe->filters);
    for (const auto& [filter, qos] : subscribe->filters) {
      (void)mqtt::topic_matches(filter, "$dps/registrations/res/202/?$rid=1&retry-after=3");
      (void)mqtt::topic_matches(filter, filter);
    }
  }
  if (const auto* connect = std::get_if<mqtt::Connect>(&packet)) {
    const auto again = decode_whole(mqtt::encode_connect(*connect));
    FUZZ_CHECK(again);
    const auto& same = std::get<mqtt::Connect>(*again);
    FUZZ_CHECK(same.client_id == connect->client_id && same.username == connect->username &&
               same.password == connect->password && same.keep_alive == connect->keep_alive);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView rest(data, size);
  while (!rest.empty()) {
    const auto framed = mqtt::frame(rest, max_packet);
    if (framed.status != mqtt::Frame::Status::complete) return 0;  // incomplete: wait; malformed: close
    FUZZ_CHECK(framed.size >= 2 && framed.size <= rest.size() && framed.size <= max_packet);
    std::string error;
    const auto packet = mqtt::decode(rest.first(framed.size), error);
    if (!packet) {
      FUZZ_CHECK(!error.empty());
      return 0;  // the broker closes the connection
    }
    round_trip(*packet);
    rest = rest.subspan(framed.size);
  }
  return 0;
}
