// The emulator's HTTP request handling as its servers run it: the input is the bytes of one connection
// (several requests when kept alive), parsed by Beast with the server's limits; each request goes to the
// admin API's handler and to the device API's handler of a fresh emulated DPS (quotas and outages
// included), so an input can create enrollments and then register against them. Handlers answer every
// request; none may throw.
#include <cstddef>
#include <cstdint>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/parser.hpp>

#include "emulator/admin_api.h"
#include "emulator/device_api.h"
#include "tests/fuzz/fuzz_check.h"

namespace http = boost::beast::http;
using namespace edgeprov;
using namespace edgeprov::emulator;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ServiceOptions options;
  options.id_scope = "0ne00FUZZ01";
  options.clock = [] { return SystemTime(std::chrono::seconds(1'700'000'000)); };
  ProvisioningService service(options);
  FaultTable faults;
  DeviceGate gate;
  static boost::asio::io_context io;  // the long polls' executor: their coroutines are not run here
  ChangeSignal changes(io.get_executor());
  const AdminInfo info{"127.0.0.1:8443", "127.0.0.1:8883", "127.0.0.1:8080", "/tmp/ca.pem"};
  auto admin = make_admin_handler(service, faults, gate, changes, info);
  auto device = make_device_handler(service, faults, gate);

  auto rest = boost::asio::buffer(data, size);
  while (rest.size() > 0) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);  // HttpServerOptions::body_limit and the header limit of http_server.cpp
    parser.header_limit(16 * 1024);
    parser.eager(true);
    boost::system::error_code ec;
    while (rest.size() > 0 && !parser.is_done()) {
      const std::size_t used = parser.put(rest, ec);
      rest += used;
      if (ec == http::error::need_more) {
        ec = {};
        if (used == 0) return 0;
      }
      if (ec) return 0;  // the server answers 400 or closes
    }
    if (!parser.is_done()) return 0;
    HttpRequest request{parser.release(), {}};
    HttpRequest copy = request;
    const HttpAction admin_action = admin(request);
    if (admin_action.kind != HttpAction::Kind::later)  // GET /stats/wait answers later, from a coroutine
      FUZZ_CHECK(admin_action.response.result_int() >= 200 && admin_action.response.result_int() <= 599);
    const HttpAction device_action = device(copy);
    FUZZ_CHECK(device_action.response.result_int() >= 200 && device_action.response.result_int() <= 599);
  }
  return 0;
}
