// dps/retry.h — when to try DPS again: Retry-After parsing, transient/terminal classification, exponential
// backoff with full jitter and a schedule the service can persist. Pure: time and randomness are passed in.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/time.h"

namespace edgeprov::dps {

// Longest wait a Retry-After can impose. Larger values are clamped to it, not discarded: a server that asks
// for 20 minutes gets 20 minutes, while a broken header cannot park the device for days. (The C SDK
// replaces anything outside [1, 300] s with 1 s, which retries a throttled device sooner than asked.)
inline constexpr std::chrono::seconds max_retry_after{3600};

// A Retry-After header (or MQTT `retry-after` property) as the server wrote it: delta-seconds or an
// HTTP-date (RFC 9110 §10.2.3). Both empty when the header is absent or unusable.
struct RetryAfter {
  std::optional<std::chrono::seconds> delay;  // "120", already clamped to [0, max_retry_after]
  std::optional<SystemTime> date;             // "Sun, 06 Nov 1994 08:49:37 GMT" and the two obsolete forms

  [[nodiscard]] bool present() const { return delay.has_value() || date.has_value(); }
  // The wait it asks for at `now`: the delay, or the time until the date (0 if past, at most
  // max_retry_after); std::nullopt if absent.
  [[nodiscard]] std::optional<std::chrono::seconds> wait_at(SystemTime now) const;

  friend bool operator==(const RetryAfter&, const RetryAfter&) = default;
};

// Optional whitespace around the value is ignored; a value that is neither form is treated as absent.
RetryAfter parse_retry_after(std::string_view header);

// Poll interval while DPS says `assigning` and gives no Retry-After. DPS normally sends one; without it,
// 2 s sits between the C SDK's 1 s and aziot's 5 s. Poll intervals are never shorter than 1 s, even if
// the server says "Retry-After: 0", so a misbehaving server cannot make the device spin.
inline constexpr std::chrono::seconds default_poll_interval{2};
inline constexpr std::chrono::seconds min_poll_interval{1};
std::chrono::seconds poll_interval(const RetryAfter& retry_after, SystemTime now);

// Whether a failure may pass by waiting. HTTP 408, 429 and 5xx are transient (the C SDK also treats
// every code >= 429 that way); so are network errors (no status at all). Everything else — 401, 403,
// 404, other 4xx, unexpected 1xx/3xx — needs an operator or a config change.
enum class FailureClass { transient, terminal };
FailureClass classify_http_status(int status);
inline constexpr FailureClass classify_network_error() { return FailureClass::transient; }

// Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog):
// delay = max(min_delay, Retry-After, uniform(0, min(max_delay, initial_delay * 2^(attempt-1)))).
// There is no attempt limit by default: an unattended device must recover by itself when DPS or the
// network comes back (docs/architecture.md: `retrying` continues with backoff). max_delay bounds the load instead:
// at 5 min, a device that keeps failing sends about 12 requests an hour.
struct BackoffPolicy {
  std::chrono::seconds initial_delay{2};
  std::chrono::seconds max_delay{300};
  std::chrono::seconds min_delay{1};
  std::optional<std::uint32_t> max_attempts;  // std::nullopt: retry for ever
};

// Uniform in [0, 1). The service passes std::mt19937_64 seeded from the OS; tests pass fixed values.
using UnitRandom = std::function<double()>;
UnitRandom seeded_unit_random(std::uint64_t seed);

// Consecutive failed attempts and when the next may start. Persisted so a restart continues the backoff
// instead of hammering DPS; reset by a success.
struct RetrySchedule {
  std::uint32_t attempts = 0;                 // failures since the last success
  std::optional<SystemTime> next_attempt_at;  // std::nullopt: may try now

  [[nodiscard]] bool may_attempt(SystemTime now) const { return !next_attempt_at || now >= *next_attempt_at; }
  friend bool operator==(const RetrySchedule&, const RetrySchedule&) = default;
};

// The backoff bound for the n-th consecutive failure (n >= 1), before jitter: min(max, initial * 2^(n-1)).
std::chrono::seconds backoff_ceiling(const BackoffPolicy& policy, std::uint32_t attempt);

// The schedule after one more transient failure at `now`. std::nullopt when policy.max_attempts is reached.
std::optional<RetrySchedule> schedule_after_failure(const RetrySchedule& current, const BackoffPolicy& policy,
                                                    SystemTime now, const RetryAfter& retry_after,
                                                    const UnitRandom& random);

// {"attempts":3,"nextAttemptAt":"2026-11-29T04:31:10.123Z"} (nextAttemptAt null when free to try).
nlohmann::json to_json(const RetrySchedule& schedule);
// Strict: std::nullopt for anything that is not exactly that shape, so a corrupt file is never trusted.
std::optional<RetrySchedule> retry_schedule_from_json(const nlohmann::json& json);

}  // namespace edgeprov::dps
