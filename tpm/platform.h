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

// tpm2-tss logs expected conditions (e.g. "no object at this handle") as errors on stderr; edgeprov
// reports every failure through tpm::Error instead. Silences it unless TSS2_LOG is set by the user.
void quiet_tss_logging();

}  // namespace edgeprov::tpm
