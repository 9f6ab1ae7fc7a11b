// tpm/json.h — the TPM's facts as the local API's `tpm.info` result (docs/tpm.md), shared by the
// service's handler and edgeprovctl's direct mode so both print the same thing. Public data only.
#pragma once
#include <nlohmann/json.hpp>

#include <string_view>

#include "tpm/device.h"

namespace edgeprov::tpm {

nlohmann::json info_json(const PublicKeys& keys, const Info& info, std::string_view tcti);

}  // namespace edgeprov::tpm
