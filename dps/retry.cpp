#include "dps/retry.h"

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <random>

namespace edgeprov::dps {
namespace {

using std::chrono::seconds;

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A left-to-right reader for the three HTTP-date forms; each step fails without consuming on a mismatch.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool literal(std::string_view expected) {
    if (!text_.starts_with(expected)) return false;
    text_.remove_prefix(expected.size());
    return true;
  }
  // Exactly `count` digits.
  std::optional<int> digits(std::size_t count) {
    if (text_.size() < count || !all_digits(text_.substr(0, count))) return std::nullopt;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) value = value * 10 + (text_[i] - '0');
    text_.remove_prefix(count);
    return value;
  }
  // One of `names`, returning its index.
  template <std::size_t N>
  std::optional<int> one_of(const std::array<std::string_view, N>& names) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) return static_cast<int>(i);
    }
    return std::nullopt;
  }
  [[nodiscard]] bool done() const { return text_.empty(); }

 private:
  std::string_view text_;
};

constexpr std::array<std::string_view, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> short_days{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days{"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                    "Friday", "Saturday", "Sunday"};

// "06:49:37"
bool read_time(Cursor& c, int& hour, int& minute, int& second) {
  const auto h = c.digits(2);
  if (!h || !c.literal(":")) return false;
  const auto m = c.digits(2);
  if (!m || !c.literal(":")) return false;
  const auto s = c.digits(2);
  if (!s) return false;
  hour = *h, minute = *m, second = *s;
  return true;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<SystemTime> parse_imf_fixdate(std::string_view text) {
  Cursor c(text);
  int hour = 0, minute = 0, second = 0;
  if (!c.one_of(short_days) || !c.literal(", ")) return std::nullopt;
  const auto day = c.digits(2);
  if (!day || !c.literal(" ")) return std::nullopt;
  const auto month = c.one_of(month_names);
  if (!month || !c.literal(" ")) return std::nullopt;
  const auto year = c.digits(4);
  if (!year || !c.literal(" ") || !read_time(c, hour, minute, second) || !c.literal(" GMT") || !c.done()) {
    return std::nullopt;
  }
  return civil_time(*year, *month + 1, *day, hour, minute, second);
}

// Obsolete RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". Two-digit years pivot at 70 (1970..2069).
std::optional<SystemTime> parse_rfc850(std::string_view text) {
  Cursor c(text);
  int hour = 0, minute = 0, second = 0;
  if (!c.one_of(long_days) || !c.literal(", ")) return std::nullopt;
  const auto day = c.digits(2);
  if (!day || !c.literal("-")) return std::nullopt;
  const auto month = c.one_of(month_names);
  if (!month || !c.literal("-")) return std::nullopt;
  const auto yy = c.digits(2);
  if (!yy || !c.literal(" ") || !read_time(c, hour, minute, second) || !c.literal(" GMT") || !c.done()) {
    return std::nullopt;
  }
  return civil_time(*yy >= 70 ? 1900 + *yy : 2000 + *yy, *month + 1, *day, hour, minute, second);
}

// Obsolete asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space).
std::optional<SystemTime> parse_asctime(std::string_view text) {
  Cursor c(text);
  int hour = 0, minute = 0, second = 0;
  if (!c.one_of(short_days) || !c.literal(" ")) return std::nullopt;
  const auto month = c.one_of(month_names);
  if (!month || !c.literal(" ")) return std::nullopt;
  std::optional<int> day;
  if (c.literal(" ")) {
    day = c.digits(1);
  } else {
    day = c.digits(2);
  }
  if (!day || !c.literal(" ") || !read_time(c, hour, minute, second) || !c.literal(" ")) return std::nullopt;
  const auto year = c.digits(4);
  if (!year || !c.done()) return std::nullopt;
  return civil_time(*year, *month + 1, *day, hour, minute, second);
}

seconds clamp_wait(seconds wait) { return std::clamp(wait, seconds{0}, max_retry_after); }

}  // namespace

std::optional<seconds> RetryAfter::wait_at(SystemTime now) const {
  if (delay) return clamp_wait(*delay);
  if (date) {
    // Round up: waiting 0.4 s less than asked would be early.
    return clamp_wait(std::chrono::ceil<seconds>(*date - now));
  }
  return std::nullopt;
}

RetryAfter parse_retry_after(std::string_view header) {
  const std::string_view value = trim_ows(header);
  RetryAfter result;
  if (all_digits(value)) {
    // More digits than max_retry_after has cannot be smaller; avoid overflow by not converting them.
    const std::string_view significant = value.substr(std::min(value.find_first_not_of('0'), value.size()));
    if (significant.size() > 9) {
      result.delay = max_retry_after;
    } else {
      long long count = 0;
      for (char c : significant) count = count * 10 + (c - '0');
      result.delay = clamp_wait(seconds{count});
    }
    return result;
  }
  if (auto date = parse_imf_fixdate(value)) {
    result.date = date;
  } else if (auto date850 = parse_rfc850(value)) {
    result.date = date850;
  } else if (auto date_asc = parse_asctime(value)) {
    result.date = date_asc;
  }
  return result;
}

seconds poll_interval(const RetryAfter& retry_after, SystemTime now) {
  const auto wait = retry_after.wait_at(now);
  return wait ? std::max(*wait, min_poll_interval) : default_poll_interval;
}

FailureClass classify_http_status(int status) {
  if (status == 408 || status == 429 || (status >= 500 && status <= 599)) return FailureClass::transient;
  return FailureClass::terminal;
}

UnitRandom seeded_unit_random(std::uint64_t seed) {
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine] { return std::generate_canonical<double, 53>(*engine); };
}

namespace {

// min(max, first * 2^(attempt-1)); 0 for attempt 0.
seconds doubling(seconds first, seconds max, std::uint32_t attempt) {
  if (attempt == 0) return seconds{0};
  seconds value = first;
  for (std::uint32_t i = 1; i < attempt && value < max; ++i) value *= 2;
  return std::min(value, max);
}

}  // namespace

seconds backoff_ceiling(const BackoffPolicy& policy, std::uint32_t attempt) {
  return doubling(policy.initial_delay, policy.max_delay, attempt);
}

seconds throttle_spread(const BackoffPolicy& policy, std::uint32_t attempt) {
  return doubling(policy.throttle_spread, policy.max_delay, attempt);
}

std::optional<RetrySchedule> schedule_after_failure(const RetrySchedule& current, const BackoffPolicy& policy,
                                                    SystemTime now, const RetryAfter& retry_after,
                                                    const UnitRandom& random) {
  const std::uint32_t attempts = current.attempts + 1;
  if (policy.max_attempts && attempts >= *policy.max_attempts) return std::nullopt;

  // Clamp the injected value so a faulty source cannot produce a negative or an over-long delay.
  const double unit = std::clamp(random ? random() : 0.0, 0.0, 1.0);
  std::chrono::milliseconds delay;
  if (const auto floor = retry_after.wait_at(now)) {
    const auto spread = std::chrono::duration<double>(throttle_spread(policy, attempts));
    delay = std::chrono::duration_cast<std::chrono::milliseconds>(*floor + spread * unit);
  } else {
    const auto ceiling = std::chrono::duration<double>(backoff_ceiling(policy, attempts));
    delay = std::chrono::duration_cast<std::chrono::milliseconds>(ceiling * unit);
  }
  delay = std::max<std::chrono::milliseconds>(delay, policy.min_delay);

  RetrySchedule next;
  next.attempts = attempts;
  next.next_attempt_at = now + delay;
  return next;
}

nlohmann::json to_json(const RetrySchedule& schedule) {
  return {{"attempts", schedule.attempts},
          {"nextAttemptAt", schedule.next_attempt_at ? nlohmann::json(to_rfc3339(*schedule.next_attempt_at, true))
                                                     : nlohmann::json(nullptr)}};
}

std::optional<RetrySchedule> retry_schedule_from_json(const nlohmann::json& json) {
  if (!json.is_object() || json.size() != 2 || !json.contains("attempts") || !json.contains("nextAttemptAt")) {
    return std::nullopt;
  }
  const auto& attempts = json["attempts"];
  const auto& next = json["nextAttemptAt"];
  if (!attempts.is_number_unsigned() || attempts.get<std::uint64_t>() > UINT32_MAX) return std::nullopt;
  RetrySchedule schedule;
  schedule.attempts = static_cast<std::uint32_t>(attempts.get<std::uint64_t>());
  if (next.is_string()) {
    schedule.next_attempt_at = parse_rfc3339(next.get<std::string>());
    if (!schedule.next_attempt_at) return std::nullopt;
  } else if (!next.is_null()) {
    return std::nullopt;
  }
  return schedule;
}

}  // namespace edgeprov::dps
