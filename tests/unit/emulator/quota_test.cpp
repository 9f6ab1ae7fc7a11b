// The pure models of DPS's quotas and outages and the traffic counters, on a fake clock.
#include <catch2/catch_test_macros.hpp>

#include "emulator/outage.h"
#include "emulator/quota.h"
#include "emulator/traffic.h"

using namespace edgeprov::emulator;
using namespace std::chrono_literals;

namespace {

// An arbitrary origin: the models only ever compare and subtract time points.
const AdmissionTime t0 = AdmissionTime{} + 1000h;

Throttled throttled(const Admission& admission) {
  REQUIRE(std::holds_alternative<Throttled>(admission));
  return std::get<Throttled>(admission);
}
bool admitted(const Admission& admission) { return std::holds_alternative<Admitted>(admission); }

QuotaModel registrations(std::uint32_t limit, std::chrono::seconds window = 60s) {
  return QuotaModel(QuotaSettings{RateLimit{limit, window}, std::nullopt});
}

}  // namespace

TEST_CASE("rate limits parse as N/SECONDS and refuse zeros, junk and overflow") {
  CHECK(parse_rate_limit("5/10") == RateLimit{5, 10s});
  CHECK(parse_rate_limit("5/10s") == RateLimit{5, 10s});
  CHECK(parse_rate_limit("1000/60") == RateLimit{1000, 60s});
  for (const char* bad : {"", "5", "/10", "5/", "0/10", "5/0", "-5/10", "5/-10", "x/10", "5/10m", "5 /10", "5/10 ",
                          "99999999999/10", "5/86401"}) {
    INFO(bad);
    CHECK_FALSE(parse_rate_limit(bad));
  }
  CHECK(to_string(RateLimit{5, 10s}) == "5/10");
}

TEST_CASE("with no quota set, every request is admitted") {
  QuotaModel quota;
  for (int i = 0; i < 10000; ++i) {
    CHECK(admitted(quota.admit("dev", RequestKind::register_device, t0)));
    CHECK(admitted(quota.admit("dev", RequestKind::operation_status, t0)));
  }
  CHECK(quota.devices_tracked() == 0);
}

TEST_CASE("the registration quota admits N in any window and names the second the oldest one leaves it") {
  QuotaModel quota = registrations(3);
  CHECK(admitted(quota.admit("a", RequestKind::register_device, t0)));
  CHECK(admitted(quota.admit("b", RequestKind::register_device, t0 + 1s)));
  CHECK(admitted(quota.admit("c", RequestKind::register_device, t0 + 2s)));
  CHECK(quota.registrations_in_window(t0 + 2s) == 3);

  const Throttled fourth = throttled(quota.admit("d", RequestKind::register_device, t0 + 3s));
  CHECK(fourth.quota == QuotaKind::registrations);
  CHECK(fourth.limit == RateLimit{3, 60s});
  CHECK(fourth.admitted_from == t0 + 60s);
  CHECK(fourth.retry_after == 57s);

  // The window's edge: the entry at t0 is inside until t0 + 60 s exclusive.
  CHECK(throttled(quota.admit("d", RequestKind::register_device, t0 + 60s - 1ns)).retry_after == 1s);
  CHECK(admitted(quota.admit("d", RequestKind::register_device, t0 + 60s)));
  // Now t0+1, t0+2 and t0+60 are inside: the next slot opens when t0+1 leaves.
  const Throttled next = throttled(quota.admit("e", RequestKind::register_device, t0 + 60s));
  CHECK(next.admitted_from == t0 + 61s);
  CHECK(next.retry_after == 1s);
}

TEST_CASE("Retry-After is the wait rounded up to whole seconds and never 0") {
  QuotaModel quota = registrations(1, 10s);
  REQUIRE(admitted(quota.admit("a", RequestKind::register_device, t0 + 500ms)));
  CHECK(throttled(quota.admit("a", RequestKind::register_device, t0 + 500ms)).retry_after == 10s);
  CHECK(throttled(quota.admit("a", RequestKind::register_device, t0 + 1200ms)).retry_after == 10s);  // 9.3 s
  CHECK(throttled(quota.admit("a", RequestKind::register_device, t0 + 1500ms)).retry_after == 9s);   // exactly 9 s
  CHECK(throttled(quota.admit("a", RequestKind::register_device, t0 + 10499ms)).retry_after == 1s);  // 1 ms
  CHECK(admitted(quota.admit("a", RequestKind::register_device, t0 + 10500ms)));
}

TEST_CASE("a throttled request uses up no quota: one slot opens exactly when the window allows") {
  QuotaModel quota = registrations(2);
  REQUIRE(admitted(quota.admit("a", RequestKind::register_device, t0)));
  REQUIRE(admitted(quota.admit("b", RequestKind::register_device, t0 + 30s)));
  for (int i = 0; i < 500; ++i) CHECK(throttled(quota.admit("x", RequestKind::register_device, t0 + 31s + i * 50ms)).admitted_from == t0 + 60s);
  CHECK(admitted(quota.admit("x", RequestKind::register_device, t0 + 60s)));
  CHECK(throttled(quota.admit("y", RequestKind::register_device, t0 + 60s)).admitted_from == t0 + 90s);
}

TEST_CASE("a burst straddling a minute boundary is not admitted twice, as a fixed window would") {
  QuotaModel quota = registrations(2);
  REQUIRE(admitted(quota.admit("a", RequestKind::register_device, t0 + 59s)));
  REQUIRE(admitted(quota.admit("b", RequestKind::register_device, t0 + 59500ms)));
  // A fixed window starting at t0 + 60 s would admit two more here.
  CHECK(throttled(quota.admit("c", RequestKind::register_device, t0 + 60s)).retry_after == 59s);
  CHECK(throttled(quota.admit("d", RequestKind::register_device, t0 + 61s)).retry_after == 58s);
  CHECK(admitted(quota.admit("c", RequestKind::register_device, t0 + 119s)));
}

TEST_CASE("the polling quota counts each device on its own and leaves registrations alone") {
  QuotaModel quota(QuotaSettings{std::nullopt, RateLimit{5, 10s}});
  for (int i = 0; i < 5; ++i) CHECK(admitted(quota.admit("dev-a", RequestKind::operation_status, t0 + i * 1s)));
  const Throttled sixth = throttled(quota.admit("dev-a", RequestKind::operation_status, t0 + 5s));
  CHECK(sixth.quota == QuotaKind::polls_per_device);
  CHECK(sixth.retry_after == 5s);
  CHECK(admitted(quota.admit("dev-b", RequestKind::operation_status, t0 + 5s)));
  CHECK(admitted(quota.admit("dev-a", RequestKind::register_device, t0 + 5s)));
  CHECK(admitted(quota.admit("dev-a", RequestKind::operation_status, t0 + 10s)));
  CHECK(quota.devices_tracked() == 2);
}

TEST_CASE("a quota turned off forgets its history; a quota lowered judges the same past") {
  QuotaModel quota = registrations(5);
  for (int i = 0; i < 5; ++i) REQUIRE(admitted(quota.admit("a", RequestKind::register_device, t0 + i * 1s)));
  quota.set_settings(QuotaSettings{RateLimit{3, 60s}, std::nullopt});
  // Five are inside; fewer than three remain once the third newest (t0 + 2 s) has left.
  CHECK(throttled(quota.admit("a", RequestKind::register_device, t0 + 10s)).admitted_from == t0 + 62s);
  quota.set_settings({});
  CHECK(admitted(quota.admit("a", RequestKind::register_device, t0 + 10s)));
  quota.set_settings(QuotaSettings{RateLimit{1, 60s}, std::nullopt});
  CHECK(admitted(quota.admit("a", RequestKind::register_device, t0 + 11s)));
  CHECK(throttled(quota.admit("a", RequestKind::register_device, t0 + 12s)).retry_after == 59s);
}

TEST_CASE("devices whose polls have all left the window are forgotten, so memory follows the active fleet") {
  QuotaModel quota(QuotaSettings{std::nullopt, RateLimit{5, 10s}});
  for (int i = 0; i < 1024; ++i) quota.admit("dev-" + std::to_string(i), RequestKind::operation_status, t0);
  CHECK(quota.devices_tracked() == 1024);
  quota.admit("late", RequestKind::operation_status, t0 + 10s);
  CHECK(quota.devices_tracked() == 1);
}

TEST_CASE("a request stamped earlier than the last one still counts in its place") {
  QuotaModel quota = registrations(2);
  REQUIRE(admitted(quota.admit("a", RequestKind::register_device, t0 + 5s)));
  REQUIRE(admitted(quota.admit("b", RequestKind::register_device, t0 + 4s)));
  CHECK(throttled(quota.admit("c", RequestKind::register_device, t0 + 6s)).admitted_from == t0 + 64s);
}

TEST_CASE("an outage is in force from its start until just before its end") {
  OutageSchedule outages;
  const Outage& o = outages.add(OutageMode::refuse, t0 + 10s, 60s, 5s);
  CHECK(o.id == 1);
  CHECK(o.retry_after == 5s);
  CHECK_FALSE(outages.in_force(t0 + 10s - 1ns));
  CHECK(outages.in_force(t0 + 10s)->id == 1);
  CHECK(outages.in_force(t0 + 70s - 1ns));
  CHECK_FALSE(outages.in_force(t0 + 70s));
}

TEST_CASE("overlapping outages: a drop wins over a refusal, and of two alike the one that ends last") {
  OutageSchedule outages;
  outages.add(OutageMode::refuse, t0, 100s);
  outages.add(OutageMode::drop, t0 + 10s, 10s);
  outages.add(OutageMode::refuse, t0 + 20s, 200s);
  CHECK(outages.in_force(t0 + 5s)->id == 1);
  CHECK(outages.in_force(t0 + 15s)->mode == OutageMode::drop);
  CHECK(outages.in_force(t0 + 25s)->id == 3);
  CHECK(outages.in_force(t0 + 150s)->id == 3);
}

TEST_CASE("outages are cancelled by id, ids are never reused, and ended ones are forgotten") {
  OutageSchedule outages;
  outages.add(OutageMode::refuse, t0 + 50s, 10s);
  outages.add(OutageMode::drop, t0, 10s);
  CHECK(outages.cancel(1));
  CHECK_FALSE(outages.cancel(1));
  CHECK_FALSE(outages.cancel(7));
  CHECK(outages.add(OutageMode::refuse, t0 + 30s, 10s).id == 3);
  auto pending = outages.pending(t0 + 5s);
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].id == 2);  // by start
  CHECK(pending[1].id == 3);
  CHECK(outages.pending(t0 + 10s).size() == 1);
  outages.clear();
  CHECK_FALSE(outages.in_force(t0 + 35s));
  CHECK(parse_outage_mode("drop") == OutageMode::drop);
  CHECK(parse_outage_mode("refuse") == OutageMode::refuse);
  CHECK_FALSE(parse_outage_mode("Drop"));
}

TEST_CASE("traffic counters add up by kind, transport and registration, and reset") {
  TrafficStats stats;
  stats.record("dev-1", RequestKind::register_device, Transport::https, Outcome::accepted);
  stats.record("dev-1", RequestKind::register_device, Transport::mqtt, Outcome::throttled);
  stats.record("dev-1", RequestKind::operation_status, Transport::mqtt, Outcome::refused);
  stats.record("dev-2", RequestKind::operation_status, Transport::https, Outcome::accepted);
  stats.record_dropped_connection(Transport::mqtt);
  stats.record_refused_connection();
  stats.record_subscription();
  CHECK(stats.total().all() == OutcomeCounts{2, 1, 1});
  CHECK(stats.total().of(RequestKind::register_device) == OutcomeCounts{1, 1, 0});
  CHECK(stats.total().of(RequestKind::operation_status, Transport::https) == OutcomeCounts{1, 0, 0});
  CHECK(stats.of("dev-1").all().total() == 3);
  CHECK(stats.of("dev-1").of(RequestKind::operation_status, Transport::mqtt).refused == 1);
  CHECK(stats.of("dev-3").all().total() == 0);
  CHECK(stats.connections() == ConnectionCounts{0, 1, 1, 1});
  CHECK(stats.registrations_seen() == 2);
  stats.reset();
  CHECK(stats.total().all().total() == 0);
  CHECK(stats.of("dev-1").all().total() == 0);
  CHECK(registration_key("Dev-ABC.1") == "dev-abc.1");
}
