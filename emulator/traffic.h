// emulator/traffic.h — device traffic at the emulated DPS's front door: which transport, which request, what
// became of it, and the counters of that, in total and per registration id. Pure and small (no I/O, no
// clock, no locks): the emulator counts with it and the fleet simulation can count with the same types.
// Not thread-safe: its owner serialises calls.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edgeprov::emulator {

// The time quotas and outages are judged by: monotonic, so a wall-clock step never opens or closes a window.
// The fleet simulation passes virtual time points of the same type.
using AdmissionClock = std::chrono::steady_clock;
using AdmissionTime = AdmissionClock::time_point;

// DPS compares registration ids without regard to ASCII case: the emulator keys everything by this.
std::string registration_key(std::string_view registration_id);

enum class Transport { https, mqtt };
std::string to_string(Transport transport);  // "https", "mqtt"

// The two device requests DPS meters separately: the register PUT and the operation-status poll.
enum class RequestKind { register_device, operation_status };
std::string to_string(RequestKind kind);  // "register", "poll"

// accepted: let through to the service (whatever it then answered); throttled: 429 from a quota;
// refused: 503 or a dropped connection during an outage.
enum class Outcome { accepted, throttled, refused };
std::string to_string(Outcome outcome);  // "accepted", "throttled", "refused"

struct OutcomeCounts {
  std::uint64_t accepted = 0, throttled = 0, refused = 0;
  [[nodiscard]] std::uint64_t total() const { return accepted + throttled + refused; }
  [[nodiscard]] std::uint64_t of(Outcome outcome) const;
  OutcomeCounts& operator+=(const OutcomeCounts& other);
  friend bool operator==(const OutcomeCounts&, const OutcomeCounts&) = default;
};

// Counts by request kind and transport.
class TrafficCounts {
 public:
  void add(RequestKind kind, Transport transport, Outcome outcome);
  [[nodiscard]] const OutcomeCounts& of(RequestKind kind, Transport transport) const;
  [[nodiscard]] OutcomeCounts of(RequestKind kind) const;  // both transports
  [[nodiscard]] OutcomeCounts all() const;
  friend bool operator==(const TrafficCounts&, const TrafficCounts&) = default;

 private:
  std::array<std::array<OutcomeCounts, 2>, 2> counts_{};  // [kind][transport]
};

// Connections closed or refused before any request could be read (outages), and MQTT sessions subscribed to
// the reply topic (ready for requests: what a test waits for before it publishes).
struct ConnectionCounts {
  std::uint64_t https_dropped = 0, mqtt_dropped = 0;  // closed at once, before TLS
  std::uint64_t mqtt_refused = 0;                      // CONNACK 3 "server unavailable"
  std::uint64_t mqtt_subscribed = 0;
  friend bool operator==(const ConnectionCounts&, const ConnectionCounts&) = default;
};

class TrafficStats {
 public:
  // `registration_key` is the registration id as the caller normalises it (the emulator: lowercase).
  void record(std::string_view registration_key, RequestKind kind, Transport transport, Outcome outcome);
  void record_dropped_connection(Transport transport);
  void record_refused_connection();
  void record_subscription();

  [[nodiscard]] const TrafficCounts& total() const { return total_; }
  [[nodiscard]] TrafficCounts of(std::string_view registration_key) const;  // zeros for an id never seen
  [[nodiscard]] const ConnectionCounts& connections() const { return connections_; }
  [[nodiscard]] std::size_t registrations_seen() const { return by_registration_.size(); }
  void reset();

 private:
  TrafficCounts total_;
  ConnectionCounts connections_;
  std::unordered_map<std::string, TrafficCounts> by_registration_;
};

}  // namespace edgeprov::emulator
