#include <cstdlib>
#include <string>

#include "tpm/options.h"
#include "tpm/platform.h"

namespace edgeprov::tpm {

std::string default_tcti() { return "tbs"; }

std::string default_config_file() {
  const char* program_data = std::getenv("ProgramData");
  return std::string(program_data != nullptr ? program_data : "C:\\ProgramData") + "\\edgeprov\\config.toml";
}

void quiet_tss_logging() {
  if (std::getenv("TSS2_LOG") == nullptr) _putenv_s("TSS2_LOG", "all+none");
}

std::optional<Error> diagnose_tcti_failure(std::string_view tcti, std::uint32_t rc) {
  if (!tcti.starts_with("tbs")) return std::nullopt;
  return Error(ErrorKind::device_missing, "open the TPM through TPM Base Services", rc,
               "TBS could not open a TPM 2.0 context (" + decode(rc) + ")",
               "check that tpm.msc shows \"The TPM is ready for use\" with specification version 2.0, that "
               "the TPM is enabled in the firmware setup, and that the TPM Base Services service runs");
}

}  // namespace edgeprov::tpm
