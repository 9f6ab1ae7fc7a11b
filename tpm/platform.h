// tpm/platform.h — the platform leaves (platform_posix.cpp / platform_windows.cpp): defaults, and the
// diagnosis of a TCTI that cannot be opened (missing device node, no permission, TBS not ready).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "tpm/error.h"

namespace edgeprov::tpm {

// An Error naming the cause and fix when the platform can tell why `tcti` failed to open; else nullopt.
std::optional<Error> diagnose_tcti_failure(std::string_view tcti, std::uint32_t rc);

}  // namespace edgeprov::tpm
