// emulator/device_gate.h — what stands between a device request and the provisioning service: the outages and
// DPS's quotas in force, and the traffic counters, behind one mutex and on the emulator's admission clock
// (monotonic, plus an offset the admin API can advance so that tests need not wait out a window). Decides and
// counts; never touches a socket. Logs one key=value line per throttled, refused or dropped request, for fleet
// tooling to parse (docs/dps-emulator.md, "Counters and log lines"); never a token or a key.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "common/time.h"
#include "emulator/outage.h"
#include "emulator/quota.h"
#include "emulator/replies.h"
#include "emulator/traffic.h"

namespace edgeprov::emulator {

struct GateOptions {
  QuotaSettings quotas;
  std::function<AdmissionTime()> clock = [] { return AdmissionClock::now(); };
  std::function<SystemTime()> wall_clock = [] { return std::chrono::system_clock::now(); };  // reply timestamps
};

// What the transport does with a request.
struct Pass {};                  // on to the fault table and the provisioning service
struct Answer {                  // a 429 (quota) or 503 (outage), ready to send
  DeviceReply reply;
};
struct Drop {};                  // close the connection without an answer (drop outage)
using GateDecision = std::variant<Pass, Answer, Drop>;

// An outage as the admin API shows it: the model's outage and its times on the wall clock.
struct OutageView {
  Outage outage;
  SystemTime start, end;
  bool in_force = false;
};

class DeviceGate {
 public:
  explicit DeviceGate(GateOptions options = {});

  // Judges and counts one register request or status poll: an outage first, then the quota of its kind.
  GateDecision admit(Transport transport, RequestKind kind, std::string_view registration_id);
  // A new connection: true while a drop outage is in force (counted; the caller closes it before TLS).
  bool drop_connection(Transport transport);
  // An MQTT CONNECT: true while a refuse outage is in force (counted; the caller answers CONNACK 3).
  bool refuse_connect(std::string_view registration_id);
  // An MQTT session subscribed to the reply topic.
  void count_subscription();

  // Admin API.
  QuotaSettings quotas() const;
  void set_quotas(const QuotaSettings& settings);
  std::size_t registrations_in_window() const;
  // `start` std::nullopt: now. A start in the past counts from then (the outage may already be over).
  OutageView add_outage(OutageMode mode, std::optional<SystemTime> start, std::chrono::seconds length,
                        std::optional<std::chrono::seconds> retry_after);
  bool cancel_outage(std::uint64_t id);
  void clear_outages();
  std::vector<OutageView> outages();  // in force or to come
  void advance_clock(std::chrono::seconds by);
  std::chrono::seconds clock_offset() const;

  TrafficCounts counts() const;
  TrafficCounts counts(std::string_view registration_id) const;
  ConnectionCounts connections() const;
  void reset_counts();
  // Called after every counted request or connection, outside the lock (wakes the admin API's waiters).
  void set_on_count(std::function<void()> callback);

 private:
  AdmissionTime now() const { return options_.clock() + offset_; }  // under mutex_
  OutageView view(const Outage& outage, AdmissionTime now, SystemTime wall_now) const;

  GateOptions options_;
  mutable std::mutex mutex_;
  AdmissionClock::duration offset_{0};
  QuotaModel quota_;
  OutageSchedule outages_;
  TrafficStats stats_;
  std::function<void()> on_count_;
};

// DPS's answers to a throttled request and to a request during an outage.
DeviceReply throttled_reply(const Throttled& throttled, SystemTime now);
DeviceReply outage_reply(const Outage& outage, SystemTime now);

}  // namespace edgeprov::emulator
