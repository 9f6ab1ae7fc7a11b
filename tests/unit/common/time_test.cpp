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
