#include "emulator/admin_api.h"

#include <chrono>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "common/encoding.h"
#include "emulator/gate_admin.h"

namespace edgeprov::emulator {

using nlohmann::json;
namespace http = boost::beast::http;
namespace asio = boost::asio;

namespace {

AdminResult error(int status, int code, const std::string& message) {
  return {status, error_body(code, message, std::chrono::system_clock::now())};
}

}  // namespace

AdminResult route_admin_request(ProvisioningService& service, FaultTable& faults, DeviceGate& gate, const AdminInfo& info,
                                std::string_view method, std::string_view target, std::string_view body_text) {
  std::string_view path = target.substr(0, target.find('?'));
  std::vector<std::string> segments;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto end = path.find('/');
    auto decoded = url_decode(path.substr(0, end));
    if (!decoded) return error(400, error_code::bad_request, "the path is not valid percent-encoding");
    segments.push_back(std::move(*decoded));
    path = end == std::string_view::npos ? std::string_view{} : path.substr(end);
  }
  json body;
  if (method == "PUT" || method == "POST") {
    if (json_nesting_exceeds(body_text, 64)) return error(400, error_code::bad_request, "the body nests deeper than 64 levels");
    body = json::parse(body_text, nullptr, false);
    if (body.is_discarded()) return error(400, error_code::bad_request, "the request body is not valid JSON");
  }
  auto query = parse_query(target);
  if (!query) return error(400, error_code::bad_request, "the query string is not valid percent-encoding");
  if (auto result = route_gate_request(gate, method, segments, *query, body)) return *result;
  auto not_allowed = [&] { return error(405, error_code::method_not_allowed, "method " + std::string(method) + " is not allowed here"); };

  if (segments.empty()) {
    if (method != "GET") return not_allowed();
    return {200, {{"service", "dps-emulator"}, {"idScope", service.options().id_scope}, {"https", info.https},
                  {"mqtt", info.mqtt}, {"admin", info.admin}, {"caCertificate", info.ca_certificate},
                  {"iotHubs", service.options().iot_hubs}}};
  }
  const std::string& collection = segments[0];
  if (collection == "enrollments" || collection == "enrollmentGroups") {
    bool group = collection == "enrollmentGroups";
    if (segments.size() == 1) {
      if (method != "GET") return not_allowed();
      return group ? service.list_groups() : service.list_enrollments();
    }
    if (segments.size() != 2) return error(404, error_code::not_found, "unknown path");
    const std::string& id = segments[1];
    if (method == "PUT") return group ? service.put_group(id, body) : service.put_enrollment(id, body);
    if (method == "GET") return group ? service.get_group(id) : service.get_enrollment(id);
    if (method == "DELETE") return group ? service.delete_group(id) : service.delete_enrollment(id);
    return not_allowed();
  }
  if (collection == "registrations") {
    if (segments.size() == 1) {
      if (method != "GET") return not_allowed();
      return service.list_registrations();
    }
    if (segments.size() != 2) return error(404, error_code::not_found, "unknown path");
    if (method == "GET") return service.get_registration(segments[1]);
    if (method == "DELETE") return service.delete_registration(segments[1]);
    return not_allowed();
  }
  if (collection == "faults") {
    if (segments.size() == 1) {
      if (method == "GET") return {200, faults.list()};
      if (method == "DELETE") {
        faults.clear();
        return {204, nullptr};
      }
      if (method == "POST") {
        std::string why;
        auto fault = faults.add(body, why);
        if (!fault) return error(400, error_code::bad_request, why);
        return {201, to_json(*fault)};
      }
      return not_allowed();
    }
    if (segments.size() == 2 && method == "DELETE") {
      if (!faults.remove(segments[1])) return error(404, error_code::not_found, "no fault '" + segments[1] + "'");
      return {204, nullptr};
    }
    return not_allowed();
  }
  if (collection == "hubSasCheck" && segments.size() == 1) {
    if (method != "POST") return not_allowed();
    if (!body.is_object() || !body.contains("token") || !body["token"].is_string())
      return error(400, error_code::bad_request, "send {\"token\": \"SharedAccessSignature sr={hub}/devices/{deviceId}&sig=…&se=…\"}");
    return service.check_hub_sas(body["token"].get<std::string>());
  }
  return error(404, error_code::not_found,
               "unknown path; the admin API has /enrollments, /enrollmentGroups, /registrations, /faults, /hubSasCheck, "
               "/quotas, /outages, /stats, /stats/wait, /clock");
}

void ChangeSignal::notify() {
  ++generation_;
  if (waiting_.load() == 0) return;
  asio::post(executor_, [this] {
    for (auto* timer : timers_) timer->cancel();
  });
}

asio::awaitable<void> ChangeSignal::wait_until(std::uint64_t ticket, std::chrono::steady_clock::time_point deadline) {
  // Counted as waiting before the generation is compared, so a notify() on another thread either is seen here
  // or sees a waiter and cancels the timer.
  ++waiting_;
  if (generation_.load() == ticket) {
    asio::steady_timer timer(executor_, deadline);
    timers_.insert(&timer);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    timers_.erase(&timer);
  }
  --waiting_;
}

namespace {

HttpAction json_action(const AdminResult& result) {
  HttpAction action;
  action.response.result(static_cast<unsigned>(result.status));
  action.response.version(11);
  if (result.status != 204) {
    action.response.set(http::field::content_type, "application/json; charset=utf-8");
    action.response.body() = body_text(result.body);
  }
  return action;
}

// GET /stats/wait: the counters once they reach the wait's conditions, or 408 with them at its deadline.
// Arguments by value: the coroutine outlives the call that made it.
asio::awaitable<HttpAction> wait_for_stats(DeviceGate& gate, ChangeSignal& changes, StatsWait wait,
                                           std::chrono::steady_clock::time_point started) {
  const auto deadline = started + wait.timeout;
  auto answer = [&](AdminResult result) {
    auto waited = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("admin GET /stats/wait {} {:.2f}ms", result.status, waited);
    return json_action(result);
  };
  for (;;) {
    const auto ticket = changes.ticket();
    json document = stats_document(gate, wait.registration_id);
    if (stats_reached(document, wait)) co_return answer({200, document});
    if (std::chrono::steady_clock::now() >= deadline) {
      json body = error_body(error_code::request_timeout,
                             "the counters did not reach the wait's conditions within " +
                                 std::to_string(wait.timeout.count()) + " ms",
                             std::chrono::system_clock::now());
      body["stats"] = std::move(document);
      co_return answer({408, body});
    }
    co_await changes.wait_until(ticket, deadline);
  }
}

}  // namespace

HttpHandler make_admin_handler(ProvisioningService& service, FaultTable& faults, DeviceGate& gate, ChangeSignal& changes,
                               const AdminInfo& info) {
  return [&service, &faults, &gate, &changes, info](HttpRequest& request) {
    auto started = std::chrono::steady_clock::now();
    const auto& message = request.message;
    std::string_view target = message.target();
    std::string path(target.substr(0, target.find('?')));
    if (message.method() == http::verb::get && (path == "/stats/wait" || path == "/stats/wait/")) {
      auto query = parse_query(target);
      auto parsed = query ? parse_stats_wait(*query)
                          : std::variant<StatsWait, AdminResult>(error(400, error_code::bad_request, "the query string is not valid percent-encoding"));
      if (auto* failure = std::get_if<AdminResult>(&parsed)) return json_action(*failure);
      HttpAction action;
      action.kind = HttpAction::Kind::later;
      action.later = [&gate, &changes, wait = std::get<StatsWait>(parsed), started] {
        return wait_for_stats(gate, changes, wait, started);
      };
      return action;
    }
    AdminResult result = route_admin_request(service, faults, gate, info, message.method_string(), target, message.body());
    HttpAction action = json_action(result);
    auto latency = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("admin {} {} {} {:.2f}ms", std::string(message.method_string()), path, result.status, latency);
    return action;
  };
}

}  // namespace edgeprov::emulator
