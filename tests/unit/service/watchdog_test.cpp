#include <catch2/catch_test_macros.hpp>

#include "service/watchdog.h"

using namespace edgeprov::service;
using namespace std::chrono_literals;

TEST_CASE("with WATCHDOG_USEC set and no WATCHDOG_PID, pings come at half the interval") {
  CHECK(watchdog_ping_period("30000000", std::nullopt, 4242) == 15s);
  CHECK(watchdog_ping_period("1", std::nullopt, 4242) == 1ms);  // the floor: never a busy loop
}

TEST_CASE("WATCHDOG_PID naming this process keeps the pings; another pid turns them off") {
  CHECK(watchdog_ping_period("2000000", "4242", 4242) == 1s);
  CHECK_FALSE(watchdog_ping_period("2000000", "4243", 4242));
  CHECK_FALSE(watchdog_ping_period("2000000", "", 4242));
  CHECK_FALSE(watchdog_ping_period("2000000", "42x", 4242));
}

TEST_CASE("no, zero or malformed WATCHDOG_USEC means no watchdog") {
  CHECK_FALSE(watchdog_ping_period(std::nullopt, std::nullopt, 4242));
  CHECK_FALSE(watchdog_ping_period("0", std::nullopt, 4242));
  CHECK_FALSE(watchdog_ping_period("-5", std::nullopt, 4242));
  CHECK_FALSE(watchdog_ping_period("30s", std::nullopt, 4242));
  CHECK_FALSE(watchdog_ping_period("", std::nullopt, 4242));
}
