// dps/error.h — why provisioning did not (yet) succeed, as one typed value: made where the failure happens
// (a transport, DPS's answer, the TPM, the configuration, edgeprovd itself) and carried unchanged to where
// it is shown (`status`, the answer of `reprovision`, edgeprovctl's exit code). Its kind follows from its
// cause, so the two never disagree; decisions are made on the kind and the cause, never on the message.
// The JSON form (docs/ipc-api.md "Errors of an attempt") is written here and nowhere else.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "dps/reply.h"
#include "dps/retry.h"
#include "dps/transport.h"
#include "tpm/error.h"

namespace edgeprov::dps {

// The kinds docs/ipc-api.md lists, all of them (a test compares the two).
enum class ErrorKind {
  dps,      // DPS answered, and the answer was no (or not one edgeprov can use)
  network,  // no answer: name resolution, TCP, TLS, proxy, a timeout, a dropped connection
  tpm,      // the TPM could not do its part
  config,   // a setting or a file it names is unusable
  service,  // edgeprovd itself ended the work (it is stopping)
};
inline constexpr std::array all_error_kinds{ErrorKind::dps, ErrorKind::network, ErrorKind::tpm, ErrorKind::config,
                                            ErrorKind::service};
std::string_view to_string(ErrorKind kind);
std::optional<ErrorKind> parse_error_kind(std::string_view text);

// DPS's answer, as far as decisions need it (the message is the Error's).
struct Rejection {
  int http_status = 0;            // MQTT: the status of the reply topic
  std::optional<int> error_code;  // DPS errorCode, e.g. 404201
  RejectionCause cause = RejectionCause::unexpected_status;
  RetryAfter retry_after;         // as the server asked
};

// The configuration key to change ("" when no single key is at fault).
struct ConfigProblem {
  std::string key;
};

enum class ServiceReason { stopping };
std::string_view to_string(ServiceReason reason);
struct ServiceProblem {
  ServiceReason reason = ServiceReason::stopping;
};

using ErrorCause = std::variant<Rejection, TransportError, tpm::Error, ConfigProblem, ServiceProblem>;

struct Error {
  ErrorCause cause;
  std::string message;     // the cause and what to do; never a secret
  bool transient = false;  // waiting can fix it (retry with backoff); else someone must act

  ErrorKind kind() const;                 // from the cause (a transport's `configuration` error is `config`)
  std::optional<int> http_status() const;  // dps: the HTTP status
  std::optional<int> code() const;         // dps: errorCode; tpm: the TSS2 return code
  RetryAfter retry_after() const;          // dps: as the server asked; empty otherwise
};

// Constructors that keep kind, message and transient consistent with the cause.
Error rejected(Rejected rejected);
Error transport_failure(TransportError error);
Error tpm_failure(tpm::Error error);  // transient when waiting can bring the TPM back (tpm::passes_by_waiting)
Error config_failure(std::string message, std::string key = {});
Error service_stopping(std::string message);

// {"kind","httpStatus","code","message","transient","cause":{…}} — `cause` holds what the kind knows:
// dps {"reason","retryAfterSeconds"}, network {"error","systemError"}, tpm (tpm::error_json),
// config {"key"}, service {"reason"}.
nlohmann::json to_json(const Error& error);

}  // namespace edgeprov::dps
