// emulator/quota.h — DPS's rate limits as a pure model: device registrations per instance and status polls per
// device, each enforced with a sliding-window log (docs/dps-emulator.md, "Quotas", says why that window).
// Time is passed in: no clock, no threads, no I/O, so the emulator and the fleet simulation share it.
// Not thread-safe: its owner serialises calls.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "emulator/traffic.h"

namespace edgeprov::emulator {

// At most `limit` requests in any `window`.
struct RateLimit {
  std::uint32_t limit = 1;
  std::chrono::seconds window{60};
  friend bool operator==(const RateLimit&, const RateLimit&) = default;
};
inline constexpr std::uint32_t max_rate_limit = 10'000'000;
inline constexpr std::chrono::seconds max_rate_window{24 * 3600};

// "N/SECONDS" (e.g. "5/10", also "5/10s"); std::nullopt unless 1 <= N <= max_rate_limit and
// 1 <= SECONDS <= max_rate_window.
std::optional<RateLimit> parse_rate_limit(std::string_view text);
std::string to_string(const RateLimit& limit);  // "5/10"

struct QuotaSettings {
  // Register requests across the whole instance (DPS: 1,000 per minute per instance by default, adjustable).
  std::optional<RateLimit> registrations;
  // Status polls per registration id (DPS: 5 per 10 seconds per device, not adjustable).
  std::optional<RateLimit> polls_per_device;
  friend bool operator==(const QuotaSettings&, const QuotaSettings&) = default;
};

enum class QuotaKind { registrations, polls_per_device };
std::string to_string(QuotaKind kind);  // "registrations", "pollsPerDevice"

// The timestamps of the requests a limit let through, oldest first, as long as they are inside its window.
// A request at `now` passes when fewer than `limit` of them lie in (now - window, now].
class SlidingWindowLog {
 public:
  // Records `now` and returns std::nullopt if the request passes; otherwise records nothing and returns the
  // earliest time at which one more request would pass (when the entry that must leave the window has left).
  std::optional<AdmissionTime> admit(const RateLimit& limit, AdmissionTime now);
  // Requests let through in (now - window, now].
  [[nodiscard]] std::size_t count(const RateLimit& limit, AdmissionTime now) const;
  [[nodiscard]] bool idle(const RateLimit& limit, AdmissionTime now) const { return count(limit, now) == 0; }

 private:
  void expire(std::chrono::seconds window, AdmissionTime now);
  std::vector<AdmissionTime> times_;  // ascending; [head_, end) are live
  std::size_t head_ = 0;
};

struct Admitted {};
struct Throttled {
  QuotaKind quota = QuotaKind::registrations;
  RateLimit limit;
  AdmissionTime admitted_from;      // the earliest time this request would have been let through
  std::chrono::seconds retry_after;  // admitted_from - now, rounded up to whole seconds, never below 1
};
using Admission = std::variant<Admitted, Throttled>;

class QuotaModel {
 public:
  explicit QuotaModel(QuotaSettings settings = {});

  [[nodiscard]] const QuotaSettings& settings() const { return settings_; }
  // A limit turned off forgets its history; a limit changed keeps it (the new limit judges the same past).
  void set_settings(const QuotaSettings& settings);

  // Judges one request and, if it passes, counts it. `device` is the registration id as the caller normalises
  // it (the emulator: lowercase). A throttled request is not counted: it does not use up the quota.
  Admission admit(std::string_view device, RequestKind kind, AdmissionTime now);

  [[nodiscard]] std::size_t registrations_in_window(AdmissionTime now) const;
  [[nodiscard]] std::size_t devices_tracked() const { return polls_.size(); }

 private:
  void forget_idle_devices(AdmissionTime now);

  QuotaSettings settings_;
  SlidingWindowLog registrations_;
  std::unordered_map<std::string, SlidingWindowLog> polls_;  // by device
  std::size_t sweep_at_ = 1024;  // forget idle devices when this many are tracked (amortised O(1) per request)
};

}  // namespace edgeprov::emulator
