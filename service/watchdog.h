// service/watchdog.h — systemd's watchdog contract (sd_watchdog_enabled(3)) as pure logic: whether the
// service manager expects keep-alive pings from this process, and how often to send them. No I/O here:
// lifecycle_posix.cpp reads the environment and the daemon's io thread sends the pings.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace edgeprov::service {

// The period of WATCHDOG=1 pings: half of WATCHDOG_USEC (systemd's advice, so one late ping is not yet a
// missed deadline), when WATCHDOG_USEC is a positive integer and WATCHDOG_PID is absent or names
// `own_pid` (a variable inherited from a parent service is not for us); never below 1 ms. Otherwise
// std::nullopt: no pings.
std::optional<std::chrono::microseconds> watchdog_ping_period(std::optional<std::string_view> watchdog_usec,
                                                              std::optional<std::string_view> watchdog_pid,
                                                              std::uint64_t own_pid);

}  // namespace edgeprov::service
