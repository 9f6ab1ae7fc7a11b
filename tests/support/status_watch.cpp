#include "tests/support/status_watch.h"

#include <stdexcept>

#include <fmt/format.h>

#include "ipc/client.h"

namespace edgeprov::test {

using namespace std::chrono;
using nlohmann::json;

json watch_status(const std::filesystem::path& socket, const std::function<bool(const json&)>& accept,
                  milliseconds timeout, const std::string& what, const std::function<void(const json&)>& seen) {
  const auto deadline = steady_clock::now() + timeout;
  std::string states;
  std::string last_state;
  json last;
  auto take = [&](json status) {
    if (seen) seen(status);
    const std::string state = status.value("state", "?");
    if (state != last_state) states += " → " + state;
    last_state = state;
    last = std::move(status);
    return accept(last);
  };
  auto fail = [&](const std::string& why) {
    return std::runtime_error(fmt::format("{} not seen within {} ms ({}); states seen:{}; last status: {}", what,
                                          timeout.count(), why, states, last.dump()));
  };
  try {
    ipc::Client client(socket.string(), timeout);
    if (take(client.call("subscribe"))) return last;
    for (;;) {
      const auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
      if (left.count() <= 0) throw fail("timeout");
      auto notification = client.next_notification(left);
      if (!notification) throw fail("timeout");
      if (notification->method == "status.changed" && take(notification->params)) return last;
    }
  } catch (const ipc::ClientError& e) {
    throw fail(e.what());
  }
}

}  // namespace edgeprov::test
