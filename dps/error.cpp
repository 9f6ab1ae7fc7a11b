#include "dps/error.h"

namespace edgeprov::dps {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::dps: return "dps";
    case ErrorKind::network: return "network";
    case ErrorKind::tpm: return "tpm";
    case ErrorKind::config: return "config";
    case ErrorKind::service: return "service";
  }
  return "service";
}

std::optional<ErrorKind> parse_error_kind(std::string_view text) {
  for (auto kind : all_error_kinds)
    if (text == to_string(kind)) return kind;
  return std::nullopt;
}

std::string_view to_string(ServiceReason reason) {
  switch (reason) {
    case ServiceReason::stopping: return "stopping";
  }
  return "stopping";
}

ErrorKind Error::kind() const {
  struct Visitor {
    ErrorKind operator()(const Rejection&) const { return ErrorKind::dps; }
    ErrorKind operator()(const TransportError& e) const {
      return e.kind == TransportErrorKind::configuration ? ErrorKind::config : ErrorKind::network;
    }
    ErrorKind operator()(const tpm::Error&) const { return ErrorKind::tpm; }
    ErrorKind operator()(const ConfigProblem&) const { return ErrorKind::config; }
    ErrorKind operator()(const ServiceProblem&) const { return ErrorKind::service; }
  };
  return std::visit(Visitor{}, cause);
}

std::optional<int> Error::http_status() const {
  if (const auto* r = std::get_if<Rejection>(&cause)) return r->http_status;
  return std::nullopt;
}

std::optional<int> Error::code() const {
  if (const auto* r = std::get_if<Rejection>(&cause)) return r->error_code;
  if (const auto* t = std::get_if<tpm::Error>(&cause); t && t->rc() != 0) return static_cast<int>(t->rc());
  return std::nullopt;
}

RetryAfter Error::retry_after() const {
  if (const auto* r = std::get_if<Rejection>(&cause)) return r->retry_after;
  return {};
}

Error rejected(Rejected r) {
  return Error{.cause = Rejection{.http_status = r.status,
                                  .error_code = r.error_code,
                                  .cause = r.cause,
                                  .retry_after = r.retry_after},
               .message = std::move(r.message),
               .transient = r.transient};
}

Error transport_failure(TransportError error) {
  std::string message = error.message;
  const bool transient = error.transient;
  return Error{.cause = std::move(error), .message = std::move(message), .transient = transient};
}

Error tpm_failure(tpm::Error error) {
  std::string message = error.what();
  const bool transient = tpm::passes_by_waiting(error.kind());
  return Error{.cause = std::move(error), .message = std::move(message), .transient = transient};
}

Error config_failure(std::string message, std::string key) {
  return Error{.cause = ConfigProblem{std::move(key)}, .message = std::move(message), .transient = false};
}

Error service_stopping(std::string message) {
  return Error{.cause = ServiceProblem{ServiceReason::stopping}, .message = std::move(message), .transient = false};
}

namespace {

nlohmann::json or_null(const std::optional<int>& value) { return value ? nlohmann::json(*value) : nlohmann::json(); }

nlohmann::json cause_json(const ErrorCause& cause) {
  struct Visitor {
    nlohmann::json operator()(const Rejection& r) const {
      return {{"reason", to_string(r.cause)},
              {"retryAfterSeconds", r.retry_after.delay ? nlohmann::json(r.retry_after.delay->count()) : nlohmann::json()}};
    }
    nlohmann::json operator()(const TransportError& e) const {
      nlohmann::json system = nullptr;
      if (e.system_error) {
        system = {{"category", e.system_error.category().name()},
                  {"value", e.system_error.value()},
                  {"message", e.system_error.message()}};
      }
      return {{"error", to_string(e.kind)}, {"systemError", system}};
    }
    nlohmann::json operator()(const tpm::Error& e) const { return tpm::error_json(e); }
    nlohmann::json operator()(const ConfigProblem& c) const {
      return {{"key", c.key.empty() ? nlohmann::json() : nlohmann::json(c.key)}};
    }
    nlohmann::json operator()(const ServiceProblem& s) const { return {{"reason", to_string(s.reason)}}; }
  };
  return std::visit(Visitor{}, cause);
}

}  // namespace

nlohmann::json to_json(const Error& error) {
  return {{"kind", to_string(error.kind())},
          {"httpStatus", or_null(error.http_status())},
          {"code", or_null(error.code())},
          {"message", error.message},
          {"transient", error.transient},
          {"cause", cause_json(error.cause)}};
}

}  // namespace edgeprov::dps
