// tpm/json.h — the TPM's facts as the local API's `tpm.info` result (docs/tpm.md), shared by the
// service's handler and edgeprovctl's direct mode so both print the same thing. Public data only.
#pragma once
#include <nlohmann/json.hpp>

#include <string_view>

#include "tpm/device.h"

namespace edgeprov::tpm {

nlohmann::json info_json(const PublicKeys& keys, const Info& info, std::string_view tcti);

// A TPM failure's details as the local API and `status` carry them: kind, command, rc ("0x…"), problem,
// fix, blobPart when a DPS key blob was rejected, and lockout (lockout_json) for a lockout or a counted
// authorization failure.
nlohmann::json error_json(const Error& error);

}  // namespace edgeprov::tpm
