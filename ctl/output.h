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

std::string format_status(const nlohmann::json& status);
std::string format_version(const std::string& client_version, const nlohmann::json& service_version);
std::string format_logs(const nlohmann::json& logs);

// The JSON text `--json` prints: the result as received, one line.
std::string json_text(const nlohmann::json& result);

}  // namespace edgeprov::ctl
