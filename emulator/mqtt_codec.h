// emulator/mqtt_codec.h — the MQTT 3.1.1 packets a DPS device exchanges (CONNECT, PUBLISH, PUBACK, SUBSCRIBE,
// UNSUBSCRIBE, PINGREQ, DISCONNECT in; CONNACK, PUBLISH, PUBACK, SUBACK, UNSUBACK, PINGRESP out). Pure and
// strict: anything malformed is reported, never guessed at, and the caller closes the connection.
// Hand-written because no Debian C++ library implements the broker side of MQTT; the subset is small.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/bytes.h"

namespace edgeprov::emulator::mqtt {

struct Connect {
  std::string protocol_name;
  std::uint8_t protocol_level = 0;
  bool clean_session = false;
  std::uint16_t keep_alive = 0;
  std::string client_id;
  std::optional<std::string> username;
  std::optional<std::string> password;
};
struct Publish {
  std::uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  std::string topic;
  std::uint16_t packet_id = 0;
  std::string payload;
};
struct PubAck { std::uint16_t packet_id = 0; };
struct Subscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::pair<std::string, std::uint8_t>> filters;
};
struct Unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;
};
struct PingReq {};
struct Disconnect {};

using Packet = std::variant<Connect, Publish, PubAck, Subscribe, Unsubscribe, PingReq, Disconnect>;

struct Frame {
  enum class Status { incomplete, complete, malformed } status = Status::incomplete;
  std::size_t size = 0;  // whole packet, fixed header included, when complete
};
// Is there a whole packet at the start of `buffer`? Packets larger than `max_size` are malformed.
Frame frame(ByteView buffer, std::size_t max_size);

// Decodes one whole packet (as delimited by frame()). On error returns std::nullopt and says why.
std::optional<Packet> decode(ByteView packet, std::string& error);

Bytes encode_connack(bool session_present, std::uint8_t return_code);
Bytes encode_publish(std::string_view topic, std::string_view payload, std::uint8_t qos = 0, std::uint16_t packet_id = 0);
Bytes encode_puback(std::uint16_t packet_id);
Bytes encode_suback(std::uint16_t packet_id, const std::vector<std::uint8_t>& return_codes);
Bytes encode_unsuback(std::uint16_t packet_id);
Bytes encode_pingresp();

// Client-side packets, for tests and the benchmark.
Bytes encode_connect(const Connect& connect);
Bytes encode_subscribe(const Subscribe& subscribe);

// Does an MQTT topic filter (with + and #) match a topic name?
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace edgeprov::emulator::mqtt
