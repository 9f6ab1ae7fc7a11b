// common/time.h — RFC 3339 UTC timestamps, the only time format on the wire and in `status`; HTTP dates
// (the `Date` header, for clock-skew checks); durations as people read them.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace edgeprov {

using SystemTime = std::chrono::system_clock::time_point;

// "2026-11-29T04:31:10Z" (whole seconds) or with `millis`, "2026-11-29T04:31:10.123Z".
std::string to_rfc3339(SystemTime t, bool millis = false);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)"; anything else is std::nullopt.
std::optional<SystemTime> parse_rfc3339(std::string_view text);

// The IMF-fixdate of HTTP's `Date` header (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string to_http_date(SystemTime t);
// Accepts IMF-fixdate only (what every current server sends); anything else is std::nullopt.
std::optional<SystemTime> parse_http_date(std::string_view text);

// "0 s", "45 s", "16 min 40 s", "2 h", "1 h 5 min", "3 d 4 h": the two largest non-zero units, for messages.
std::string duration_text(std::chrono::seconds duration);

// The UTC instant of a civil date and time of day (second 60 allowed, as a leap second). std::nullopt
// when it is not a calendar date or a time of day, or not in the years 1970 to 2261: SystemTime holds
// nanoseconds in 64 bits, and within those years no date from the wire, nor its distance to now, overflows.
std::optional<SystemTime> civil_time(int year, int month, int day, int hour, int minute, int second);

}  // namespace edgeprov
