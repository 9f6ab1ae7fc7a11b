#include <catch2/catch_test_macros.hpp>

#include "dps/mqtt_topic.h"

using namespace edgeprov::dps;

// The MQTT names of DPS (docs/dps-protocol.md §3), as the Azure IoT C SDK writes them.
TEST_CASE("the MQTT user name carries the scope, the registration id, the api-version and the client version") {
  CHECK(mqtt_username("0ne00ABC123", "device-001", "1.15.0") ==
        "0ne00ABC123/registrations/device-001/api-version=2021-06-01&ClientVersion=1.15.0");
}

TEST_CASE("register and status requests are published on the C SDK's topics") {
  CHECK(register_topic(1) == "$dps/registrations/PUT/iotdps-register/?$rid=1");
  CHECK(operation_status_topic(7, "4.abc.def") ==
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7&operationId=4.abc.def");
  CHECK(reply_subscription == "$dps/registrations/res/#");
}

TEST_CASE("an operation id from the server cannot add properties to the status topic") {
  CHECK(operation_status_topic(7, "a&b=c") ==
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7&operationId=a%26b%3dc");
  CHECK(operation_status_topic(7, "5.316aac5bdc130deb.b1e02da8-c3a0-4ff2-a121-7ea7a6b7f550") ==
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7&operationId="
        "5.316aac5bdc130deb.b1e02da8-c3a0-4ff2-a121-7ea7a6b7f550");
}

TEST_CASE("a reply topic without properties gives its status alone") {
  for (const char* topic : {"$dps/registrations/res/500", "$dps/registrations/res/500/"}) {
    const auto reply = parse_reply_topic(topic);
    REQUIRE(reply.has_value());
    CHECK(reply->status == 500);
    CHECK_FALSE(reply->request_id);
    CHECK(reply->retry_after.empty());
  }
}

TEST_CASE("a reply topic gives the status, the $rid and the retry-after") {
  const auto reply = parse_reply_topic("$dps/registrations/res/202/?$rid=1&retry-after=8");
  REQUIRE(reply.has_value());
  CHECK(reply->status == 202);
  CHECK(reply->request_id == 1u);
  CHECK(reply->retry_after == "8");
}

TEST_CASE("a reply topic without retry-after has an empty retry-after") {
  const auto reply = parse_reply_topic("$dps/registrations/res/429/?$rid=12");
  REQUIRE(reply.has_value());
  CHECK(reply->status == 429);
  CHECK(reply->request_id == 12u);
  CHECK(reply->retry_after.empty());
}

TEST_CASE("reply properties may come in any order and unknown ones are ignored") {
  const auto reply = parse_reply_topic("$dps/registrations/res/200/?retry-after=3&foo=bar&$rid=65534");
  REQUIRE(reply.has_value());
  CHECK(reply->request_id == 65534u);
  CHECK(reply->retry_after == "3");
}

TEST_CASE("topics that are not DPS replies are rejected") {
  CHECK_FALSE(parse_reply_topic("$dps/registrations/PUT/iotdps-register/?$rid=1").has_value());
  CHECK_FALSE(parse_reply_topic("$dps/registrations/res/abc/?$rid=1").has_value());
  CHECK_FALSE(parse_reply_topic("$dps/registrations/res/99/?$rid=1").has_value());
  CHECK_FALSE(parse_reply_topic("devices/x/messages").has_value());
  CHECK_FALSE(parse_reply_topic("$dps/registrations/res/").has_value());
  CHECK_FALSE(parse_reply_topic("$dps/registrations/res/2020/?$rid=1").has_value());
  const auto no_rid = parse_reply_topic("$dps/registrations/res/202/?$rid=x1");
  REQUIRE(no_rid.has_value());
  CHECK_FALSE(no_rid->request_id.has_value());
}
