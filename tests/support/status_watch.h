// tests/support/status_watch.h — waits for edgeprovd's status to satisfy a condition by subscribing
// (`subscribe`, then `status.changed` notifications): the test follows the service's own events instead
// of polling `status` in a loop.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace edgeprov::test {

// Returns the first status (the current one, then each change) for which `accept` holds. Throws
// std::runtime_error naming `what`, the states seen and the last status when `timeout` passes first, or
// when the service cannot be reached. `seen` (optional) is called with every status received.
nlohmann::json watch_status(const std::filesystem::path& socket,
                            const std::function<bool(const nlohmann::json&)>& accept, std::chrono::milliseconds timeout,
                            const std::string& what,
                            const std::function<void(const nlohmann::json&)>& seen = {});

}  // namespace edgeprov::test
