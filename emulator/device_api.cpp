#include "emulator/device_api.h"

#include <chrono>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "common/encoding.h"

namespace edgeprov::emulator {

namespace http = boost::beast::http;

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

DeviceRoute invalid(int status, int code, std::string message) {
  DeviceRoute route;
  route.status = status;
  route.error_code = code;
  route.message = std::move(message);
  return route;
}

}  // namespace

DeviceRoute route_device_request(std::string_view method, std::string_view target, std::string_view id_scope) {
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view query = target.find('?') == std::string_view::npos ? std::string_view{} : target.substr(target.find('?') + 1);
  if (path.empty() || path.front() != '/') return invalid(404, error_code::not_found, "unknown path");
  auto raw = split(path.substr(1), '/');
  std::vector<std::string> segments;
  for (auto segment : raw) {
    auto decoded = url_decode(segment);
    if (!decoded) return invalid(400, error_code::bad_request, "the request path is not valid percent-encoding");
    segments.push_back(std::move(*decoded));
  }
  bool is_register = segments.size() == 4 && segments[1] == "registrations" && segments[3] == "register";
  bool is_status = segments.size() == 5 && segments[1] == "registrations" && segments[3] == "operations";
  if (!is_register && !is_status)
    return invalid(404, error_code::not_found,
                   "unknown path; the device API is PUT /{idScope}/registrations/{registrationId}/register and GET "
                   "/{idScope}/registrations/{registrationId}/operations/{operationId}");
  if ((is_register && method != "PUT") || (is_status && method != "GET"))
    return invalid(405, error_code::method_not_allowed,
                   is_register ? "register with PUT" : "poll an operation with GET");
  if (segments[0] != id_scope)
    return invalid(404, error_code::not_found,
                   "unknown ID scope '" + segments[0] + "'; this emulator's ID scope is '" + std::string(id_scope) + "'");
  DeviceRoute route;
  route.kind = is_register ? DeviceRoute::Kind::register_device : DeviceRoute::Kind::operation_status;
  route.registration_id = segments[2];
  if (is_status) route.operation_id = segments[4];
  for (auto parameter : split(query, '&')) {
    if (parameter.substr(0, 12) == "api-version=") route.api_version = url_decode(parameter.substr(12)).value_or("");
  }
  if (!accepted_api_version(route.api_version))
    return invalid(400, error_code::bad_api_version,
                   route.api_version.empty()
                       ? "the api-version query parameter is missing; use api-version=2021-06-01"
                       : "api-version '" + route.api_version + "' is not supported; use 2019-03-31 through 2021-06-01");
  return route;
}

HttpHandler make_device_handler(ProvisioningService& service, FaultTable& faults, DeviceGate& gate) {
  return [&service, &faults, &gate](HttpRequest& request) {
    auto started = std::chrono::steady_clock::now();
    const auto& message = request.message;
    auto route = route_device_request(message.method_string(), message.target(), service.options().id_scope);
    const char* what = route.kind == DeviceRoute::Kind::register_device ? "register"
                       : route.kind == DeviceRoute::Kind::operation_status ? "status" : "request";
    DeviceReply reply;
    HttpAction action;
    GateDecision decision = Pass{};
    if (route.kind != DeviceRoute::Kind::invalid) {
      decision = gate.admit(Transport::https, route.kind == DeviceRoute::Kind::register_device ? RequestKind::register_device
                                                                                               : RequestKind::operation_status,
                            route.registration_id);
    }
    if (route.kind == DeviceRoute::Kind::invalid) {
      reply = error_reply(route.status, route.error_code, route.message, service.options().clock());
    } else if (std::holds_alternative<Drop>(decision)) {
      action.kind = HttpAction::Kind::drop;
      reply.outcome = "connection reset (outage)";
    } else if (auto* answer = std::get_if<Answer>(&decision)) {
      reply = std::move(answer->reply);
    } else if (auto fault = faults.take(FaultPoint::request, Transport::https, route.registration_id)) {
      bool poll = route.kind == DeviceRoute::Kind::operation_status;
      if (fault->kind == FaultKind::close_mid_body) {
        action.kind = HttpAction::Kind::close_mid_body;
        reply = assigning_reply("4.0000000000000000.00000000-0000-0000-0000-000000000000", 1);
        reply.outcome = "close mid-body injected";
      } else if (fault->kind == FaultKind::stall) {
        action.kind = HttpAction::Kind::stall;
        action.stall = std::chrono::seconds(fault->stall_seconds);
        reply.outcome = "stall injected";
      } else {
        reply = fault_reply(*fault, poll, service.options().clock());
      }
    } else {
      DeviceRequest device;
      device.transport = Transport::https;
      device.registration_id = route.registration_id;
      device.operation_id = route.operation_id;
      if (auto auth = message.find(http::field::authorization); auth != message.end())
        device.authorization = std::string(auth->value());
      device.client_chain = std::move(request.client_chain);
      device.body = message.body();
      reply = route.kind == DeviceRoute::Kind::register_device ? service.register_device(device)
                                                               : service.operation_status(device);
    }
    action.response.result(static_cast<unsigned>(reply.status));
    action.response.version(11);
    action.response.set(http::field::content_type, "application/json; charset=utf-8");
    if (reply.retry_after) action.response.set(http::field::retry_after, std::to_string(*reply.retry_after));
    action.response.body() = std::move(reply.body);
    auto latency = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("https {} {} {} {:.2f}ms", what, route.registration_id.empty() ? "-" : route.registration_id, reply.outcome, latency);
    return action;
  };
}

}  // namespace edgeprov::emulator
