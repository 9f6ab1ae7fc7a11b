// emulator/outage.h — scheduled outages of the emulated DPS as a pure model: windows [start, end) during which
// all device traffic is refused (503, MQTT CONNACK 3) or its connections are dropped. Time is passed in; no
// clock, no I/O. Not thread-safe: its owner serialises calls.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/traffic.h"

namespace edgeprov::emulator {

enum class OutageMode {
  refuse,  // every request answered 503 (errorCode 503000); MQTT CONNECT answered CONNACK 3 "server unavailable"
  drop,    // new connections closed at once, before TLS; a request on an open connection closes it unanswered
};
std::string to_string(OutageMode mode);  // "refuse", "drop"
std::optional<OutageMode> parse_outage_mode(std::string_view text);

struct Outage {
  std::uint64_t id = 0;
  OutageMode mode = OutageMode::refuse;
  AdmissionTime start, end;                         // in force in [start, end)
  std::optional<std::chrono::seconds> retry_after;  // Retry-After on its 503s; none unless asked for
};

class OutageSchedule {
 public:
  // Ids count up from 1 and are never reused.
  const Outage& add(OutageMode mode, AdmissionTime start, AdmissionClock::duration length,
                    std::optional<std::chrono::seconds> retry_after = std::nullopt);
  bool cancel(std::uint64_t id);
  void clear() { outages_.clear(); }

  // The outage in force at `now`, if any. When several overlap, a drop outage wins over a refuse one (it is the
  // harsher), and between two of a kind the one that ends last.
  [[nodiscard]] std::optional<Outage> in_force(AdmissionTime now) const;
  // The outages in force or still to come at `now`, in order of start; those that ended are forgotten.
  std::vector<Outage> pending(AdmissionTime now);

 private:
  std::vector<Outage> outages_;
  std::uint64_t next_id_ = 1;
};

}  // namespace edgeprov::emulator
