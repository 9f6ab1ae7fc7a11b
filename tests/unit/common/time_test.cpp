#include <catch2/catch_test_macros.hpp>

#include "common/time.h"

using namespace edgeprov;
using namespace std::chrono;

TEST_CASE("timestamps are written as RFC 3339 UTC") {
  // date -u -d @1795928345 +%Y-%m-%dT%H:%M:%SZ
  const SystemTime t{seconds{1795928345}};
  CHECK(to_rfc3339(t) == "2026-11-29T04:59:05Z");
  CHECK(to_rfc3339(t + milliseconds{7}, true) == "2026-11-29T04:59:05.007Z");
}

TEST_CASE("RFC 3339 parsing honours fractions and offsets and rejects junk") {
  CHECK(parse_rfc3339("2026-11-29T04:59:05Z") == SystemTime{seconds{1795928345}});
  CHECK(parse_rfc3339("2026-11-29T05:59:05+01:00") == SystemTime{seconds{1795928345}});
  CHECK(parse_rfc3339("2026-11-29T04:59:05.5Z") == SystemTime{seconds{1795928345}} + milliseconds{500});
  // DPS writes seven fractional digits: "2026-11-29T04:59:05.1234567Z".
  CHECK(parse_rfc3339("2026-11-29T04:59:05.1234567Z").has_value());
  CHECK_FALSE(parse_rfc3339("2026-11-29 04:59:05Z"));
  CHECK_FALSE(parse_rfc3339("2026-02-30T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-11-29T04:59:05"));
  CHECK_FALSE(parse_rfc3339("2026-11-29T04:59:05Zjunk"));
}

TEST_CASE("HTTP dates are written and read as IMF-fixdate") {
  // date -u -d @1795928345 '+%a, %d %b %Y %H:%M:%S GMT'
  const SystemTime t{seconds{1795928345}};
  CHECK(to_http_date(t + milliseconds{999}) == "Sun, 29 Nov 2026 04:59:05 GMT");
  CHECK(parse_http_date("Sun, 29 Nov 2026 04:59:05 GMT") == t);
  // RFC 9110's own example, 784111777 seconds after the epoch.
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == SystemTime{seconds{784111777}});
}

TEST_CASE("HTTP dates that are not IMF-fixdate, or name the wrong weekday, are refused") {
  CHECK_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));  // RFC 850, obsolete
  CHECK_FALSE(parse_http_date("Sun Nov  6 08:49:37 1994"));        // asctime, obsolete
  CHECK_FALSE(parse_http_date("Mon, 06 Nov 1994 08:49:37 GMT"));   // 6 Nov 1994 was a Sunday
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  CHECK_FALSE(parse_http_date("Sun, 31 Nov 1994 08:49:37 GMT"));
  CHECK_FALSE(parse_http_date(""));
}

TEST_CASE("durations read as the two largest units") {
  CHECK(duration_text(seconds{0}) == "0 s");
  CHECK(duration_text(seconds{45}) == "45 s");
  CHECK(duration_text(seconds{1000}) == "16 min 40 s");
  CHECK(duration_text(seconds{7200}) == "2 h");
  CHECK(duration_text(seconds{3900}) == "1 h 5 min");
  CHECK(duration_text(seconds{3 * 86400 + 4 * 3600 + 59}) == "3 d 4 h");
  CHECK(duration_text(seconds{-90}) == "-1 min 30 s");
}

TEST_CASE("a timestamp outside 1970 to 2261 is refused rather than overflowing the clock's 64-bit nanoseconds") {
  // Found by fuzzing (tests/fuzz): year 0997 overflowed the conversion to nanoseconds.
  CHECK_FALSE(parse_rfc3339("0997-11-06T08:49:37Z"));
  CHECK_FALSE(parse_rfc3339("1969-12-31T23:59:59Z"));
  CHECK_FALSE(parse_rfc3339("2262-04-11T23:47:16Z"));
  CHECK_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == SystemTime{});
  CHECK(parse_rfc3339("1970-01-01T00:30:00+01:00") == SystemTime{} - minutes{30});
  // date -u -d '2261-12-31T23:59:59Z' +%s -> 9214646399
  CHECK(parse_rfc3339("2261-12-31T23:59:59Z") == SystemTime{seconds{9214646399}});
  CHECK(civil_time(2026, 11, 29, 4, 59, 5) == SystemTime{seconds{1795928345}});
  CHECK_FALSE(civil_time(2026, 13, 1, 0, 0, 0));
  CHECK_FALSE(civil_time(2026, 2, 29, 0, 0, 0));
  CHECK_FALSE(civil_time(2026, 1, 1, 24, 0, 0));
}
