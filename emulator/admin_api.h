// emulator/admin_api.h — the admin REST API (its own loopback port), shaped like the DPS service API:
// enrollments, enrollment groups, device registrations, plus the emulator's own fault injection, hub SAS check,
// quotas, outages, counters and the long poll on them. Routing is pure (method + target + body in, status + JSON
// out) except GET /stats/wait, which waits on a ChangeSignal. Never logs bodies (they carry keys).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "emulator/device_gate.h"
#include "emulator/faults.h"
#include "emulator/http_server.h"
#include "emulator/provisioning_service.h"

namespace edgeprov::emulator {

struct AdminInfo {
  std::string https, mqtt, admin;   // bound addresses
  std::string ca_certificate;       // path of the test CA
};

AdminResult route_admin_request(ProvisioningService& service, FaultTable& faults, DeviceGate& gate, const AdminInfo& info,
                                std::string_view method, std::string_view target, std::string_view body);

// Wakes the coroutines waiting for a change (the long polls of GET /stats/wait). notify() may be called from
// any thread; wait_until() runs on the executor.
class ChangeSignal {
 public:
  explicit ChangeSignal(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
  void notify();
  // A ticket taken before looking at the state: wait_until returns at once if a change came after it.
  std::uint64_t ticket() const { return generation_.load(); }
  // Returns after a change later than `ticket`, or at `deadline`.
  boost::asio::awaitable<void> wait_until(std::uint64_t ticket, std::chrono::steady_clock::time_point deadline);

 private:
  boost::asio::any_io_executor executor_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> waiting_{0};
  std::set<boost::asio::steady_timer*> timers_;  // touched on the executor only
};

HttpHandler make_admin_handler(ProvisioningService& service, FaultTable& faults, DeviceGate& gate, ChangeSignal& changes,
                               const AdminInfo& info);

}  // namespace edgeprov::emulator
