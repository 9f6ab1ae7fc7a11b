#include "emulator/traffic.h"

namespace edgeprov::emulator {

std::string registration_key(std::string_view registration_id) {
  std::string key(registration_id);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

std::string to_string(Transport transport) { return transport == Transport::https ? "https" : "mqtt"; }

std::string to_string(RequestKind kind) { return kind == RequestKind::register_device ? "register" : "poll"; }

std::string to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::accepted: return "accepted";
    case Outcome::throttled: return "throttled";
    case Outcome::refused: return "refused";
  }
  return "unknown";
}

std::uint64_t OutcomeCounts::of(Outcome outcome) const {
  switch (outcome) {
    case Outcome::accepted: return accepted;
    case Outcome::throttled: return throttled;
    case Outcome::refused: return refused;
  }
  return 0;
}

OutcomeCounts& OutcomeCounts::operator+=(const OutcomeCounts& other) {
  accepted += other.accepted;
  throttled += other.throttled;
  refused += other.refused;
  return *this;
}

void TrafficCounts::add(RequestKind kind, Transport transport, Outcome outcome) {
  OutcomeCounts& counts = counts_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(transport)];
  switch (outcome) {
    case Outcome::accepted: ++counts.accepted; break;
    case Outcome::throttled: ++counts.throttled; break;
    case Outcome::refused: ++counts.refused; break;
  }
}

const OutcomeCounts& TrafficCounts::of(RequestKind kind, Transport transport) const {
  return counts_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(transport)];
}

OutcomeCounts TrafficCounts::of(RequestKind kind) const {
  OutcomeCounts sum = of(kind, Transport::https);
  sum += of(kind, Transport::mqtt);
  return sum;
}

OutcomeCounts TrafficCounts::all() const {
  OutcomeCounts sum = of(RequestKind::register_device);
  sum += of(RequestKind::operation_status);
  return sum;
}

void TrafficStats::record(std::string_view registration_key, RequestKind kind, Transport transport, Outcome outcome) {
  total_.add(kind, transport, outcome);
  by_registration_.try_emplace(std::string(registration_key)).first->second.add(kind, transport, outcome);
}

void TrafficStats::record_dropped_connection(Transport transport) {
  ++(transport == Transport::https ? connections_.https_dropped : connections_.mqtt_dropped);
}

void TrafficStats::record_refused_connection() { ++connections_.mqtt_refused; }

void TrafficStats::record_subscription() { ++connections_.mqtt_subscribed; }

TrafficCounts TrafficStats::of(std::string_view registration_key) const {
  auto it = by_registration_.find(std::string(registration_key));
  return it == by_registration_.end() ? TrafficCounts{} : it->second;
}

void TrafficStats::reset() {
  total_ = {};
  connections_ = {};
  by_registration_.clear();
}

}  // namespace edgeprov::emulator
