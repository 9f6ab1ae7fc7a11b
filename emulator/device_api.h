// emulator/device_api.h — the DPS device REST API over HTTP: routes PUT …/register and GET …/operations/{id},
// checks the id scope and api-version, passes the request through the gate (outages, quotas, counters), applies
// injected faults, calls the provisioning service and logs one line per request (time, transport, registration
// id, outcome, latency; never a token or key).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "emulator/device_gate.h"
#include "emulator/faults.h"
#include "emulator/http_server.h"
#include "emulator/provisioning_service.h"

namespace edgeprov::emulator {

struct DeviceRoute {
  enum class Kind { register_device, operation_status, invalid } kind = Kind::invalid;
  std::string registration_id, operation_id, api_version;
  int status = 404;           // when invalid
  int error_code = 404000;    // when invalid
  std::string message;        // when invalid
};

// Parses "/{scope}/registrations/{id}/register?api-version=…" and "/{scope}/registrations/{id}/operations/{op}?…"
// (path segments URL-decoded; other query parameters ignored). Pure.
DeviceRoute route_device_request(std::string_view method, std::string_view target, std::string_view id_scope);

HttpHandler make_device_handler(ProvisioningService& service, FaultTable& faults, DeviceGate& gate);

}  // namespace edgeprov::emulator
