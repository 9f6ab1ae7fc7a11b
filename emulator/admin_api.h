// emulator/admin_api.h — the admin REST API (its own loopback port), shaped like the DPS service API:
// enrollments, enrollment groups, device registrations, plus the emulator's own fault injection and hub SAS
// check. Pure routing: method + target + body in, status + JSON out. Never logs bodies (they carry keys).
#pragma once
#include <string>
#include <string_view>

#include "emulator/faults.h"
#include "emulator/http_server.h"
#include "emulator/provisioning_service.h"

namespace edgeprov::emulator {

struct AdminInfo {
  std::string https, mqtt, admin;   // bound addresses
  std::string ca_certificate;       // path of the test CA
};

AdminResult route_admin_request(ProvisioningService& service, FaultTable& faults, const AdminInfo& info,
                                std::string_view method, std::string_view target, std::string_view body);

HttpHandler make_admin_handler(ProvisioningService& service, FaultTable& faults, const AdminInfo& info);

}  // namespace edgeprov::emulator
