#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <vector>

#include "dps/retry.h"

using namespace edgeprov;
using namespace edgeprov::dps;
using std::chrono::seconds;
using namespace std::chrono_literals;

namespace {

SystemTime at(std::int64_t unix_seconds) { return SystemTime{seconds{unix_seconds}}; }

// `date -u -d 'Sun, 06 Nov 1994 08:49:37 GMT' +%s` -> 784111777
constexpr std::int64_t rfc_example = 784111777;

UnitRandom fixed(double value) {
  return [value] { return value; };
}

}  // namespace

TEST_CASE("a Retry-After of delta-seconds is a delay of that many seconds") {
  CHECK(parse_retry_after("7").delay == 7s);
  CHECK(parse_retry_after(" 7\t").delay == 7s);
  CHECK(parse_retry_after("0").delay == 0s);
  CHECK(parse_retry_after("0007").delay == 7s);
  CHECK_FALSE(parse_retry_after("7").date);
}

TEST_CASE("a Retry-After above one hour is clamped to one hour, not replaced") {
  CHECK(parse_retry_after("7200").delay == 3600s);
  CHECK(parse_retry_after("99999999999999999999999").delay == 3600s);
  CHECK(parse_retry_after("3600").delay == 3600s);
}

TEST_CASE("a Retry-After that is neither a number nor an HTTP-date is treated as absent") {
  for (const char* bad : {"", "  ", "-5", "5abc", "+5", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37",
                          "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT"}) {
    INFO(bad);
    CHECK_FALSE(parse_retry_after(bad).present());
  }
}

TEST_CASE("a Retry-After HTTP-date is read in all three RFC 9110 forms") {
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT").date == at(rfc_example));
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT").date == at(rfc_example));
  CHECK(parse_retry_after("Sun Nov  6 08:49:37 1994").date == at(rfc_example));
  // date -u -d '2026-11-29 04:31:10' +%s -> 1795926670
  CHECK(parse_retry_after("Sun, 29 Nov 2026 04:31:10 GMT").date == at(1795926670));
  // Two-digit years below 70 are 20xx: date -u -d '2069-01-01' +%s -> 3124224000
  CHECK(parse_retry_after("Tuesday, 01-Jan-69 00:00:00 GMT").date == at(3124224000));
}

TEST_CASE("an HTTP-date Retry-After waits until that date, rounded up, between 0 and one hour") {
  const RetryAfter ten_seconds_after = parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT");
  CHECK(ten_seconds_after.wait_at(at(rfc_example)) == 10s);
  CHECK(ten_seconds_after.wait_at(at(rfc_example) + 500ms) == 10s);
  CHECK(ten_seconds_after.wait_at(at(rfc_example + 60)) == 0s);
  CHECK(ten_seconds_after.wait_at(at(rfc_example - 86400)) == 3600s);
  CHECK_FALSE(RetryAfter{}.wait_at(at(rfc_example)));
}

TEST_CASE("polls follow Retry-After, default to 2 seconds and never go below 1 second") {
  CHECK(poll_interval(parse_retry_after("8"), at(0)) == 8s);
  CHECK(poll_interval(parse_retry_after(""), at(0)) == 2s);
  CHECK(poll_interval(parse_retry_after("0"), at(0)) == 1s);
}

TEST_CASE("408, 429, 5xx and network errors are transient; other statuses are terminal") {
  for (int status : {408, 429, 500, 502, 503, 504, 599}) {
    INFO(status);
    CHECK(classify_http_status(status) == FailureClass::transient);
  }
  for (int status : {200, 202, 301, 400, 401, 403, 404, 409, 412, 600}) {
    INFO(status);
    CHECK(classify_http_status(status) == FailureClass::terminal);
  }
  CHECK(classify_network_error() == FailureClass::transient);
}

TEST_CASE("the backoff ceiling doubles from 2 seconds up to 5 minutes and stays there") {
  const BackoffPolicy policy;
  std::vector<seconds> ceilings;
  for (std::uint32_t attempt = 1; attempt <= 10; ++attempt) ceilings.push_back(backoff_ceiling(policy, attempt));
  CHECK(ceilings == std::vector<seconds>{2s, 4s, 8s, 16s, 32s, 64s, 128s, 256s, 300s, 300s});
  CHECK(backoff_ceiling(policy, 4'000'000'000u) == 300s);
}

TEST_CASE("a failure schedules the next attempt a jittered fraction of the ceiling later") {
  const BackoffPolicy policy;
  const RetrySchedule third_failure_before{2, at(100)};
  const auto next = schedule_after_failure(third_failure_before, policy, at(1000), RetryAfter{}, fixed(0.5));
  REQUIRE(next);
  CHECK(next->attempts == 3);
  CHECK(next->next_attempt_at == at(1004));  // ceiling 8 s × 0.5
}

TEST_CASE("full jitter never waits less than the 1 second minimum") {
  const auto next = schedule_after_failure({}, BackoffPolicy{}, at(1000), RetryAfter{}, fixed(0.0));
  REQUIRE(next);
  CHECK(next->attempts == 1);
  CHECK(next->next_attempt_at == at(1001));
}

TEST_CASE("full jitter stays below the 5 minute cap however many failures came before") {
  const auto next = schedule_after_failure({50, std::nullopt}, BackoffPolicy{}, at(1000), RetryAfter{}, fixed(0.999));
  REQUIRE(next);
  CHECK(next->next_attempt_at == at(1000) + 299700ms);
}

TEST_CASE("a 429 with Retry-After: 30 is retried 30 seconds later and a jittered share of a minute more") {
  // Every device DPS turned away was told the same moment: coming back spread over the minute after it (DPS
  // meters registrations per minute) keeps them from colliding again.
  const auto at_least = schedule_after_failure({}, BackoffPolicy{}, at(1000), parse_retry_after("30"), fixed(0.0));
  const auto halfway = schedule_after_failure({}, BackoffPolicy{}, at(1000), parse_retry_after("30"), fixed(0.5));
  const auto at_most = schedule_after_failure({}, BackoffPolicy{}, at(1000), parse_retry_after("30"), fixed(0.999));
  REQUIRE(at_least);
  REQUIRE(halfway);
  REQUIRE(at_most);
  CHECK(at_least->next_attempt_at == at(1030));
  CHECK(halfway->next_attempt_at == at(1060));
  CHECK(at_most->next_attempt_at == at(1030) + 59940ms);
  CHECK(halfway->attempts == 1);
}

TEST_CASE("the spread after a Retry-After doubles with each failure, up to the 5 minute cap") {
  const BackoffPolicy policy;
  std::vector<seconds> spreads;
  for (std::uint32_t attempt = 1; attempt <= 5; ++attempt) spreads.push_back(throttle_spread(policy, attempt));
  CHECK(spreads == std::vector<seconds>{60s, 120s, 240s, 300s, 300s});
  CHECK(throttle_spread(policy, 4'000'000'000u) == 300s);
  const auto eighth = schedule_after_failure({7, std::nullopt}, policy, at(1000), parse_retry_after("3"), fixed(0.5));
  REQUIRE(eighth);
  CHECK(eighth->next_attempt_at == at(1153));  // 3 s, then 300 s × 0.5
}

TEST_CASE("a Retry-After is never shortened: not by the jitter, and a 0 still waits the 1 second minimum") {
  for (double unit : {0.0, 0.3, 0.999}) {
    const auto next = schedule_after_failure({2, std::nullopt}, BackoffPolicy{}, at(1000), parse_retry_after("45"),
                                             fixed(unit));
    REQUIRE(next);
    CHECK(*next->next_attempt_at >= at(1045));
  }
  const auto zero = schedule_after_failure({}, BackoffPolicy{}, at(1000), parse_retry_after("0"), fixed(0.0));
  REQUIRE(zero);
  CHECK(zero->next_attempt_at == at(1001));
}

TEST_CASE("a random source out of range is clamped between 0 and 1") {
  const auto high = schedule_after_failure({2, std::nullopt}, BackoffPolicy{}, at(0), RetryAfter{}, fixed(7.0));
  const auto low = schedule_after_failure({2, std::nullopt}, BackoffPolicy{}, at(0), RetryAfter{}, fixed(-3.0));
  REQUIRE(high);
  REQUIRE(low);
  CHECK(high->next_attempt_at == at(8));
  CHECK(low->next_attempt_at == at(1));
}

TEST_CASE("with max_attempts 3 the third failure ends the retries") {
  BackoffPolicy policy;
  policy.max_attempts = 3;
  auto first = schedule_after_failure({}, policy, at(0), RetryAfter{}, fixed(0.5));
  REQUIRE(first);
  auto second = schedule_after_failure(*first, policy, at(10), RetryAfter{}, fixed(0.5));
  REQUIRE(second);
  CHECK(second->attempts == 2);
  CHECK_FALSE(schedule_after_failure(*second, policy, at(20), RetryAfter{}, fixed(0.5)));
}

TEST_CASE("by default retries never end") {
  RetrySchedule schedule;
  for (int i = 0; i < 1000; ++i) {
    auto next = schedule_after_failure(schedule, BackoffPolicy{}, at(i * 1000), RetryAfter{}, fixed(0.5));
    REQUIRE(next);
    schedule = *next;
  }
  CHECK(schedule.attempts == 1000);
  CHECK(schedule.next_attempt_at == at(999 * 1000 + 150));
}

TEST_CASE("an attempt may start once the next attempt time has come") {
  const RetrySchedule schedule{1, at(100)};
  CHECK_FALSE(schedule.may_attempt(at(99)));
  CHECK(schedule.may_attempt(at(100)));
  CHECK(RetrySchedule{}.may_attempt(at(0)));
}

TEST_CASE("a schedule is written as attempts and an RFC 3339 next attempt time") {
  const RetrySchedule schedule{3, at(1795926670) + 123ms};
  CHECK(to_json(schedule).dump() == R"({"attempts":3,"nextAttemptAt":"2026-11-29T04:31:10.123Z"})");
  CHECK(to_json(RetrySchedule{}).dump() == R"({"attempts":0,"nextAttemptAt":null})");
}

TEST_CASE("a schedule read back after a restart continues the backoff") {
  const RetrySchedule before{4, at(1795926670) + 250ms};
  const auto text = to_json(before).dump();
  const auto restored = retry_schedule_from_json(nlohmann::json::parse(text));
  REQUIRE(restored);
  CHECK(*restored == before);
  const auto next = schedule_after_failure(*restored, BackoffPolicy{}, at(2000), RetryAfter{}, fixed(0.5));
  REQUIRE(next);
  CHECK(next->attempts == 5);
  CHECK(next->next_attempt_at == at(2016));  // ceiling 32 s × 0.5
}

TEST_CASE("a corrupt persisted schedule is refused, never trusted") {
  for (const char* bad : {R"([])", R"({})", R"({"attempts":1})", R"({"attempts":-1,"nextAttemptAt":null})",
                          R"({"attempts":"1","nextAttemptAt":null})", R"({"attempts":1.5,"nextAttemptAt":null})",
                          R"({"attempts":1,"nextAttemptAt":"tomorrow"})", R"({"attempts":1,"nextAttemptAt":5})",
                          R"({"attempts":4294967296,"nextAttemptAt":null})",
                          R"({"attempts":1,"nextAttemptAt":null,"extra":true})"}) {
    INFO(bad);
    CHECK_FALSE(retry_schedule_from_json(nlohmann::json::parse(bad)));
  }
}

TEST_CASE("the seeded random source is reproducible and stays at or above 0 and below 1") {
  auto a = seeded_unit_random(42), b = seeded_unit_random(42), c = seeded_unit_random(43);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const double x = a();
    CHECK(x == b());
    CHECK(x >= 0.0);
    CHECK(x < 1.0);
    differs = differs || x != c();
  }
  CHECK(differs);
}

TEST_CASE("a Retry-After HTTP-date in a year the clock cannot hold is treated as absent, not overflowed") {
  // Found by fuzzing (tests/fuzz, dps_https_reply): "Sun, 06 Nov 0997 08:49:37 GMT" overflowed.
  CHECK_FALSE(parse_retry_after("Sun, 06 Nov 0997 08:49:37 GMT").present());
  CHECK_FALSE(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT").present());
  CHECK_FALSE(parse_retry_after("Sun Nov  6 08:49:37 0001").present());
  // The latest date held still gives a wait, clamped to the longest there is.
  const auto far = parse_retry_after("Tue, 31 Dec 2261 23:59:59 GMT");
  REQUIRE(far.date);
  CHECK(far.wait_at(at(rfc_example)) == max_retry_after);
}
