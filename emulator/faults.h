// emulator/faults.h — fault injection for reliability tests: rules added through the admin API that make the
// next N requests (or a share of them), globally or for one registration id, fail in a chosen way. Thread-safe.
#pragma once
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.h"
#include "emulator/provisioning_service.h"
#include "emulator/replies.h"

namespace edgeprov::emulator {

enum class FaultKind {
  throttle,               // 429 + Retry-After
  server_error,           // 500
  service_unavailable,    // 503 + Retry-After
  close_mid_body,         // headers and half the body, then the connection closes
  stall,                  // no answer for stallSeconds, then the connection closes
  malformed_json,         // 200/202 with a truncated JSON body
  missing_fields,         // a reply without the fields clients require (operationId, registrationState…)
  tls_handshake_failure,  // a fatal TLS alert instead of the handshake
  mqtt_drop_after_connack,
  mqtt_never_puback,
};

// Where in a connection a fault can strike.
enum class FaultPoint { handshake, mqtt_connect, mqtt_publish, request };

struct Fault {
  std::string id;
  FaultKind kind = FaultKind::throttle;
  std::optional<std::string> registration_id;
  std::optional<Transport> transport;
  std::optional<int> remaining;  // none: unlimited (with a probability)
  int skip = 0;                  // matching requests still let through before it strikes
  double probability = 1.0;
  int retry_after = 5;
  int stall_seconds = 30;
  int fired = 0;
};

std::string to_string(FaultKind kind);
std::optional<FaultKind> parse_fault_kind(std::string_view text);
nlohmann::json to_json(const Fault& fault);

class FaultTable {
 public:
  // Body: {"type", "count"?, "probability"?, "skip"?, "registrationId"?, "transport"?, "retryAfter"?,
  // "stallSeconds"?}.
  std::optional<Fault> add(const nlohmann::json& body, std::string& error);
  nlohmann::json list() const;
  bool remove(const std::string& id);
  void clear();
  // The fault that strikes this request, if any (consumes one of its count).
  std::optional<Fault> take(FaultPoint point, Transport transport, std::string_view registration_id);

 private:
  mutable std::mutex mutex_;
  std::vector<Fault> faults_;
  int next_id_ = 1;
  std::mt19937_64 random_{std::random_device{}()};
};

// The reply of a fault that is a reply (throttle, server_error, service_unavailable, malformed_json,
// missing_fields); `poll` tells a status poll from a register request.
DeviceReply fault_reply(const Fault& fault, bool poll, SystemTime now);

}  // namespace edgeprov::emulator
