#include "service/watchdog.h"

#include <algorithm>
#include <charconv>

namespace edgeprov::service {
namespace {

std::optional<std::uint64_t> positive_integer(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::chrono::microseconds> watchdog_ping_period(std::optional<std::string_view> watchdog_usec,
                                                              std::optional<std::string_view> watchdog_pid,
                                                              std::uint64_t own_pid) {
  if (!watchdog_usec) return std::nullopt;
  if (watchdog_pid) {
    const auto pid = positive_integer(*watchdog_pid);
    if (!pid || *pid != own_pid) return std::nullopt;
  }
  const auto usec = positive_integer(*watchdog_usec);
  if (!usec) return std::nullopt;
  // A floor of 1 ms: an absurdly short interval must not turn the io thread into a busy loop.
  return std::max(std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(*usec / 2)),
                  std::chrono::microseconds(1000));
}

}  // namespace edgeprov::service
