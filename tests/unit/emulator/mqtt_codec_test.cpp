#include <catch2/catch_test_macros.hpp>

#include "emulator/mqtt_codec.h"
#include "emulator/mqtt_server.h"

using namespace edgeprov;
using namespace edgeprov::emulator;
using namespace edgeprov::emulator::mqtt;

namespace {
std::optional<Packet> decode_all(const Bytes& bytes) {
  auto f = frame(bytes, 65536);
  REQUIRE(f.status == Frame::Status::complete);
  REQUIRE(f.size == bytes.size());
  std::string error;
  return decode(bytes, error);
}
}  // namespace

// Byte layouts from the MQTT 3.1.1 specification (sections 3.1–3.14), written out by hand.
TEST_CASE("a CONNECT as the Azure C SDK sends it decodes: MQTT level 4, clean session, keep-alive 0, user and password") {
  Bytes bytes{0x10, 0x1d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xC2, 0x00, 0x00, 0x00, 0x03, 'd', 'e', 'v',
              0x00, 0x07, 's', '/', 'r', 'e', 'g', '/', 'x', 0x00, 0x03, 's', 'a', 's'};
  auto packet = decode_all(bytes);
  REQUIRE(packet);
  auto& c = std::get<Connect>(*packet);
  CHECK(c.protocol_name == "MQTT");
  CHECK(c.protocol_level == 4);
  CHECK(c.clean_session);
  CHECK(c.keep_alive == 0);
  CHECK(c.client_id == "dev");
  CHECK(c.username == "s/reg/x");
  CHECK(c.password == "sas");
  CHECK(encode_connect(c) == bytes);
}

TEST_CASE("a QoS 1 PUBLISH decodes with its packet id and payload, and encodes back") {
  Bytes bytes = encode_publish("$dps/registrations/PUT/iotdps-register/?$rid=1", "{}", 1, 7);
  CHECK(bytes[0] == 0x32);
  auto packet = decode_all(bytes);
  REQUIRE(packet);
  auto& p = std::get<Publish>(*packet);
  CHECK(p.qos == 1);
  CHECK(p.packet_id == 7);
  CHECK(p.topic == "$dps/registrations/PUT/iotdps-register/?$rid=1");
  CHECK(p.payload == "{}");
}

TEST_CASE("SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT decode; the server packets have the specified bytes") {
  Subscribe s{1, {{"$dps/registrations/res/#", 1}}};
  auto packet = decode_all(encode_subscribe(s));
  REQUIRE(packet);
  CHECK(std::get<Subscribe>(*packet).filters == s.filters);
  CHECK(std::holds_alternative<PingReq>(*decode_all({0xC0, 0x00})));
  CHECK(std::holds_alternative<Disconnect>(*decode_all({0xE0, 0x00})));
  CHECK(std::get<Unsubscribe>(*decode_all({0xA2, 0x05, 0x00, 0x02, 0x00, 0x01, 'a'})).filters == std::vector<std::string>{"a"});
  CHECK(encode_connack(false, 0) == Bytes{0x20, 0x02, 0x00, 0x00});
  CHECK(encode_connack(false, 5) == Bytes{0x20, 0x02, 0x00, 0x05});
  CHECK(encode_puback(0x1234) == Bytes{0x40, 0x02, 0x12, 0x34});
  CHECK(encode_suback(1, {1, 0x80}) == Bytes{0x90, 0x04, 0x00, 0x01, 0x01, 0x80});
  CHECK(encode_unsuback(2) == Bytes{0xB0, 0x02, 0x00, 0x02});
  CHECK(encode_pingresp() == Bytes{0xD0, 0x00});
}

TEST_CASE("the remaining length uses up to four 7-bit groups; a fifth is malformed, a partial packet incomplete") {
  std::string payload(200, 'x');
  Bytes big = encode_publish("t", payload);
  CHECK(big[1] == (0x80 | ((203) & 0x7F)));
  CHECK(big[2] == 203 >> 7);
  CHECK(frame(big, 65536).size == big.size());
  CHECK(frame(ByteView(big).first(big.size() - 1), 65536).status == Frame::Status::incomplete);
  CHECK(frame(Bytes{0x30}, 65536).status == Frame::Status::incomplete);
  CHECK(frame(Bytes{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 65536).status == Frame::Status::malformed);
  CHECK(frame(big, 100).status == Frame::Status::malformed);
}

TEST_CASE("malformed packets are refused with a reason") {
  std::string error;
  CHECK_FALSE(decode(Bytes{0xF0, 0x00}, error));                         // reserved type 15
  CHECK_FALSE(decode(Bytes{0x80, 0x00}, error));                         // SUBSCRIBE with flags 0
  CHECK_FALSE(decode(Bytes{0x36, 0x03, 0x00, 0x01, 't'}, error));        // PUBLISH QoS 3
  CHECK_FALSE(decode(Bytes{0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00}, error));  // QoS 1 with packet id 0
  CHECK_FALSE(decode(Bytes{0x30, 0x03, 0x00, 0x01, '#'}, error));        // wildcard in a topic name
  CHECK_FALSE(decode(Bytes{0x10, 0x04, 0x00, 0x04, 'M', 'Q'}, error));   // truncated CONNECT
  CHECK_FALSE(decode(Bytes{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x41, 0x00, 0x00, 0x00, 0x00}, error));  // password without user
  CHECK_FALSE(decode(Bytes{0xC0, 0x01, 0x00}, error));                   // PINGREQ with a body
  CHECK_FALSE(error.empty());
}

TEST_CASE("topic filters match with + and #, and $dps/registrations/res/# matches every reply topic") {
  CHECK(topic_matches("$dps/registrations/res/#", "$dps/registrations/res/202/?$rid=1&retry-after=3"));
  CHECK(topic_matches("a/+/c", "a/b/c"));
  CHECK(topic_matches("a/#", "a"));
  CHECK_FALSE(topic_matches("a/+/c", "a/b/d"));
  CHECK_FALSE(topic_matches("$dps/registrations/res/#", "$dps/registrations/PUT/iotdps-register/?$rid=1"));
}

TEST_CASE("DPS MQTT user names, request topics and reply topics are read and written as §3 gives them") {
  auto user = parse_mqtt_username("0ne00ABC123/registrations/device-001/api-version=2021-06-01&ClientVersion=1.15.0");
  REQUIRE(user);
  CHECK(user->id_scope == "0ne00ABC123");
  CHECK(user->registration_id == "device-001");
  CHECK(user->api_version == "2021-06-01");
  CHECK_FALSE(parse_mqtt_username("0ne00ABC123/devices/device-001"));

  auto reg = parse_mqtt_request_topic("$dps/registrations/PUT/iotdps-register/?$rid=1");
  REQUIRE(reg);
  CHECK(reg->kind == MqttRequestTopic::Kind::register_device);
  CHECK(reg->rid == "1");
  auto status = parse_mqtt_request_topic("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.abc.def");
  REQUIRE(status);
  CHECK(status->kind == MqttRequestTopic::Kind::operation_status);
  CHECK(status->operation_id == "4.abc.def");
  CHECK_FALSE(parse_mqtt_request_topic("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2"));
  CHECK_FALSE(parse_mqtt_request_topic("devices/x/messages/events/"));

  CHECK(mqtt_reply_topic(202, "1", 8) == "$dps/registrations/res/202/?$rid=1&retry-after=8");
  CHECK(mqtt_reply_topic(200, "2", std::nullopt) == "$dps/registrations/res/200/?$rid=2");
}
