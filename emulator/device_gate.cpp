#include "emulator/device_gate.h"

#include <spdlog/spdlog.h>

namespace edgeprov::emulator {

namespace {

// A logfmt value: bare when it is a plain token, else quoted with \" and \\ escaped, so that a registration id
// with spaces or '=' cannot break the line for a parser.
std::string logfmt_value(std::string_view text) {
  bool bare = !text.empty();
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    bare = bare && u > 0x20 && u < 0x7F && c != '"' && c != '=' && c != '\\';
  }
  if (bare) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') out += '\\';
    out += u < 0x20 || u == 0x7F ? '?' : c;
  }
  return out + "\"";
}

std::string retry_after_field(const std::optional<std::chrono::seconds>& retry_after) {
  return retry_after ? " retryAfter=" + std::to_string(retry_after->count()) : std::string();
}

}  // namespace

DeviceReply throttled_reply(const Throttled& t, SystemTime now) {
  const std::string window = std::to_string(t.limit.window.count());
  std::string message =
      t.quota == QuotaKind::registrations
          ? "Operations are being throttled: this DPS instance accepts " + std::to_string(t.limit.limit) +
                " device registrations in any " + window + " seconds"
          : "Operations are being throttled: DPS accepts " + std::to_string(t.limit.limit) +
                " operation status polls per device in any " + window + " seconds";
  message += "; retry after " + std::to_string(t.retry_after.count()) + " seconds";
  DeviceReply reply = error_reply(429, error_code::throttled, message, now, static_cast<int>(t.retry_after.count()));
  reply.outcome = "429 throttled (" + to_string(t.quota) + ")";
  return reply;
}

DeviceReply outage_reply(const Outage& outage, SystemTime now) {
  std::optional<int> retry_after;
  if (outage.retry_after) retry_after = static_cast<int>(outage.retry_after->count());
  DeviceReply reply = error_reply(503, error_code::unavailable,
                                  "Service Unavailable: the service is in an outage (emulator outage " +
                                      std::to_string(outage.id) + "); retry later",
                                  now, retry_after);
  reply.outcome = "503 outage " + std::to_string(outage.id);
  return reply;
}

DeviceGate::DeviceGate(GateOptions options) : options_(std::move(options)), quota_(options_.quotas) {}

GateDecision DeviceGate::admit(Transport transport, RequestKind kind, std::string_view registration_id) {
  const std::string key = registration_key(registration_id);
  GateDecision decision = Pass{};
  std::string event;
  std::function<void()> on_count;
  {
    std::lock_guard lock(mutex_);
    on_count = on_count_;
    const AdmissionTime at = now();
    Outcome outcome = Outcome::accepted;
    if (auto outage = outages_.in_force(at)) {
      outcome = Outcome::refused;
      if (outage->mode == OutageMode::drop) {
        decision = Drop{};
        event = "event=dropped outage=" + std::to_string(outage->id);
      } else {
        decision = Answer{outage_reply(*outage, options_.wall_clock())};
        event = "event=refused outage=" + std::to_string(outage->id) + retry_after_field(outage->retry_after);
      }
    } else if (Admission admission = quota_.admit(key, kind, at); auto* throttled = std::get_if<Throttled>(&admission)) {
      outcome = Outcome::throttled;
      decision = Answer{throttled_reply(*throttled, options_.wall_clock())};
      event = "event=throttled quota=" + to_string(throttled->quota) + " limit=" + to_string(throttled->limit) +
              retry_after_field(throttled->retry_after);
    }
    stats_.record(key, kind, transport, outcome);
  }
  if (!event.empty()) {
    spdlog::info("{} transport={} kind={} registrationId={}", event, to_string(transport), to_string(kind),
                 logfmt_value(registration_id));
  }
  if (on_count) on_count();
  return decision;
}

bool DeviceGate::drop_connection(Transport transport) {
  std::optional<Outage> outage;
  std::function<void()> on_count;
  {
    std::lock_guard lock(mutex_);
    outage = outages_.in_force(now());
    if (!outage || outage->mode != OutageMode::drop) return false;
    stats_.record_dropped_connection(transport);
    on_count = on_count_;
  }
  spdlog::info("event=connection-dropped outage={} transport={}", outage->id, to_string(transport));
  if (on_count) on_count();
  return true;
}

bool DeviceGate::refuse_connect(std::string_view registration_id) {
  std::optional<Outage> outage;
  std::function<void()> on_count;
  {
    std::lock_guard lock(mutex_);
    outage = outages_.in_force(now());
    if (!outage || outage->mode != OutageMode::refuse) return false;
    stats_.record_refused_connection();
    on_count = on_count_;
  }
  spdlog::info("event=connect-refused outage={} transport=mqtt registrationId={}", outage->id, logfmt_value(registration_id));
  if (on_count) on_count();
  return true;
}

void DeviceGate::count_subscription() {
  std::function<void()> on_count;
  {
    std::lock_guard lock(mutex_);
    stats_.record_subscription();
    on_count = on_count_;
  }
  if (on_count) on_count();
}

void DeviceGate::set_on_count(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  on_count_ = std::move(callback);
}

QuotaSettings DeviceGate::quotas() const {
  std::lock_guard lock(mutex_);
  return quota_.settings();
}

void DeviceGate::set_quotas(const QuotaSettings& settings) {
  std::lock_guard lock(mutex_);
  quota_.set_settings(settings);
}

std::size_t DeviceGate::registrations_in_window() const {
  std::lock_guard lock(mutex_);
  return quota_.registrations_in_window(now());
}

OutageView DeviceGate::view(const Outage& outage, AdmissionTime at, SystemTime wall_now) const {
  auto wall = [&](AdmissionTime t) { return wall_now + std::chrono::duration_cast<SystemTime::duration>(t - at); };
  return {outage, wall(outage.start), wall(outage.end), at >= outage.start && at < outage.end};
}

OutageView DeviceGate::add_outage(OutageMode mode, std::optional<SystemTime> start, std::chrono::seconds length,
                                  std::optional<std::chrono::seconds> retry_after) {
  std::lock_guard lock(mutex_);
  const AdmissionTime at = now();
  const SystemTime wall_now = options_.wall_clock();
  AdmissionTime begin = at;
  if (start) begin += std::chrono::duration_cast<AdmissionClock::duration>(*start - wall_now);
  return view(outages_.add(mode, begin, length, retry_after), at, wall_now);
}

bool DeviceGate::cancel_outage(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  return outages_.cancel(id);
}

void DeviceGate::clear_outages() {
  std::lock_guard lock(mutex_);
  outages_.clear();
}

std::vector<OutageView> DeviceGate::outages() {
  std::lock_guard lock(mutex_);
  const AdmissionTime at = now();
  const SystemTime wall_now = options_.wall_clock();
  std::vector<OutageView> out;
  for (const Outage& o : outages_.pending(at)) out.push_back(view(o, at, wall_now));
  return out;
}

void DeviceGate::advance_clock(std::chrono::seconds by) {
  std::lock_guard lock(mutex_);
  offset_ += by;
}

std::chrono::seconds DeviceGate::clock_offset() const {
  std::lock_guard lock(mutex_);
  return std::chrono::duration_cast<std::chrono::seconds>(offset_);
}

TrafficCounts DeviceGate::counts() const {
  std::lock_guard lock(mutex_);
  return stats_.total();
}

TrafficCounts DeviceGate::counts(std::string_view registration_id) const {
  std::lock_guard lock(mutex_);
  return stats_.of(registration_key(registration_id));
}

ConnectionCounts DeviceGate::connections() const {
  std::lock_guard lock(mutex_);
  return stats_.connections();
}

void DeviceGate::reset_counts() {
  std::lock_guard lock(mutex_);
  stats_.reset();
}

}  // namespace edgeprov::emulator
