// ctl/output.h — how edgeprovctl shows what the service answered: short aligned summaries for people
// (`--json` prints the RPC result instead). Pure: JSON in, text out; tolerant of fields a newer or older
// service adds or lacks.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgeprov::ctl {

// Rows of "label  value", the labels padded to one column.
std::string aligned(const std::vector<std::pair<std::string, std::string>>& rows);

// `status`: state, the DPS settings, the assignment (payload when there is one), the last attempt, the
// next attempt while retrying, the TPM and the service, one line each.
std::string format_status(const nlohmann::json& status);
// One line once provisioned: "provisioned: device D on hub H (from dps, since T)".
std::string format_provisioned(const nlohmann::json& status);
// Why a state is not provisioned, from `status`: the last attempt's error and, while retrying, when the
// next attempt is due. Lines for stderr, each starting with two spaces; empty when there is nothing to say.
std::string format_not_provisioned(const nlohmann::json& status);
// A failed `reprovision` (error -32022): the attempt's message, its kind / HTTP status / code, and what
// happens next (retrying at … / failed until an operator acts). Lines for stderr.
std::string format_provisioning_failure(const nlohmann::json& error_data, const std::string& message);
// `identity.get`: hub, device id, registration id, how it authenticates, since when.
std::string format_identity(const nlohmann::json& identity);
std::string format_version(const std::string& client_version, const nlohmann::json& service_version);
std::string format_logs(const nlohmann::json& logs);

// The JSON text `--json` prints: the result as received, one line.
std::string json_text(const nlohmann::json& result);

}  // namespace edgeprov::ctl
