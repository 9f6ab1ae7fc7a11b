#include "emulator/admin_api.h"

#include <chrono>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "common/encoding.h"

namespace edgeprov::emulator {

using nlohmann::json;
namespace http = boost::beast::http;

namespace {

AdminResult error(int status, int code, const std::string& message) {
  return {status, error_body(code, message, std::chrono::system_clock::now())};
}

}  // namespace

AdminResult route_admin_request(ProvisioningService& service, FaultTable& faults, const AdminInfo& info,
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
               "unknown path; the admin API has /enrollments, /enrollmentGroups, /registrations, /faults, /hubSasCheck");
}

HttpHandler make_admin_handler(ProvisioningService& service, FaultTable& faults, const AdminInfo& info) {
  return [&service, &faults, info](HttpRequest& request) {
    auto started = std::chrono::steady_clock::now();
    const auto& message = request.message;
    AdminResult result = route_admin_request(service, faults, info, message.method_string(), message.target(), message.body());
    HttpAction action;
    action.response.result(static_cast<unsigned>(result.status));
    action.response.version(11);
    if (result.status != 204) {
      action.response.set(http::field::content_type, "application/json; charset=utf-8");
      action.response.body() = body_text(result.body);
    }
    auto latency = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    std::string_view target = message.target();
    spdlog::info("admin {} {} {} {:.2f}ms", std::string(message.method_string()), std::string(target.substr(0, target.find('?'))),
                 result.status, latency);
    return action;
  };
}

}  // namespace edgeprov::emulator
