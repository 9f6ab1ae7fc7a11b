// A DPS reply over MQTT as the device reads it: the input is the PUBLISH's topic, a newline, then its
// payload. The topic is taken apart by dps::parse_reply_topic as the MQTT transport does; a reply topic's
// status, retry-after and payload then go to dps::parse_http_reply (no Content-Type over MQTT), as
// dps/registration.cpp interprets them, for a symmetric-key device registering.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dps/mqtt_topic.h"
#include "dps/reply.h"
#include "tests/fuzz/fuzz_check.h"

using namespace edgeprov;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view topic = input.substr(0, newline);
  const std::string_view payload = newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
  const auto reply_topic = dps::parse_reply_topic(topic);
  if (!reply_topic) return 0;
  FUZZ_CHECK(reply_topic->status >= 100 && reply_topic->status <= 599);
  dps::ReplyContext context;
  context.id_scope = "0ne00FUZZ01";
  context.registration_id = "fuzz-device";
  context.attestation = dps::AttestationMethod::symmetric_key;
  dps::Reply reply = dps::parse_http_reply(reply_topic->status, reply_topic->retry_after, "", payload, context);
  if (const auto* rejected = std::get_if<dps::Rejected>(&reply)) FUZZ_CHECK(!rejected->message.empty());
  return 0;
}
