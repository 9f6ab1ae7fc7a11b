// dps::Error: the kind follows from the cause, the JSON has one shape, and docs/ipc-api.md lists exactly
// the kinds, reasons and transport errors the code can emit.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch_test_macros.hpp>

#include "dps/error.h"

using namespace edgeprov;
using namespace edgeprov::dps;
using nlohmann::json;

namespace {

std::string documented_kinds_table() {
  std::ifstream file(std::string(EDGEPROV_SOURCE_DIR) + "/docs/ipc-api.md");
  REQUIRE(file);
  std::stringstream text;
  text << file.rdbuf();
  const std::string doc = text.str();
  const auto from = doc.find("<!-- error-kinds:begin -->");
  const auto to = doc.find("<!-- error-kinds:end -->");
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  return doc.substr(from, to - from);
}

// The first column of the table's rows: "| `dps` | …" → dps.
std::set<std::string> first_column(const std::string& table) {
  std::set<std::string> names;
  const std::regex row(R"(\n\| `([a-z_]+)` \|)");
  for (auto it = std::sregex_iterator(table.begin(), table.end(), row); it != std::sregex_iterator(); ++it)
    names.insert((*it)[1]);
  return names;
}

// The back-quoted names in one row's text, after `label`.
std::set<std::string> listed_after(const std::string& table, const std::string& kind, const std::string& label) {
  const auto row_start = table.find("| `" + kind + "` |");
  REQUIRE(row_start != std::string::npos);
  const auto row = table.substr(row_start, table.find('\n', row_start) - row_start);
  const auto from = row.find(label);
  REQUIRE(from != std::string::npos);
  const auto start = from + label.size();
  const auto list = row.substr(start, row.find(')', start) - start);
  std::set<std::string> names;
  const std::regex name("`([a-z_]+)`");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), name); it != std::sregex_iterator(); ++it)
    names.insert((*it)[1]);
  return names;
}

}  // namespace

TEST_CASE("docs/ipc-api.md lists exactly the error kinds edgeprovd can emit") {
  std::set<std::string> code;
  for (auto kind : all_error_kinds) code.insert(std::string(to_string(kind)));
  CHECK(first_column(documented_kinds_table()) == code);
}

TEST_CASE("docs/ipc-api.md lists every reason of a dps error and every network error") {
  const auto table = documented_kinds_table();
  std::set<std::string> reasons;
  for (auto cause : all_rejection_causes) reasons.insert(std::string(to_string(cause)));
  CHECK(listed_after(table, "dps", "`reason` (") == reasons);
  std::set<std::string> network;
  for (auto kind : all_transport_error_kinds)
    if (kind != TransportErrorKind::configuration) network.insert(std::string(to_string(kind)));  // kind config
  CHECK(listed_after(table, "network", "`error` (") == network);
}

TEST_CASE("every kind name reads back as its kind, and nothing else does") {
  for (auto kind : all_error_kinds) CHECK(parse_error_kind(to_string(kind)) == kind);
  CHECK_FALSE(parse_error_kind("DPS"));
  CHECK_FALSE(parse_error_kind(""));
}

TEST_CASE("the kind of an error follows from its cause") {
  CHECK(rejected({.status = 404, .error_code = 404201, .message = "m"}).kind() == ErrorKind::dps);
  CHECK(transport_failure({TransportErrorKind::timeout, "m", true}).kind() == ErrorKind::network);
  CHECK(transport_failure({TransportErrorKind::configuration, "m", false}).kind() == ErrorKind::config);
  CHECK(tpm_failure(tpm::Error(tpm::ErrorKind::lockout, "HMAC", 0x921, "p", "f")).kind() == ErrorKind::tpm);
  CHECK(config_failure("m", "provisioning.payload.uri").kind() == ErrorKind::config);
  CHECK(service_stopping("m").kind() == ErrorKind::service);
}

TEST_CASE("a TPM error is transient only when waiting can bring the TPM back") {
  CHECK(tpm_failure(tpm::Error(tpm::ErrorKind::connection, "connect", 0xa000a, "p", "f")).transient);
  CHECK(tpm_failure(tpm::Error(tpm::ErrorKind::lockout, "HMAC", 0x921, "p", "f")).transient);
  CHECK_FALSE(tpm_failure(tpm::Error(tpm::ErrorKind::permission_denied, "open", 0, "p", "f")).transient);
  CHECK_FALSE(tpm_failure(tpm::Error(tpm::ErrorKind::bad_blob, "Import", 0x2c4, "p", "f")).transient);
}

TEST_CASE("a DPS rejection keeps its status, errorCode, reason and Retry-After all the way to JSON") {
  Rejected r{.status = 429, .error_code = 429001, .message = "throttled", .transient = true};
  r.cause = RejectionCause::throttled;
  r.retry_after.delay = std::chrono::seconds(12);
  const Error error = rejected(r);
  CHECK(error.http_status() == 429);
  CHECK(error.code() == 429001);
  CHECK(error.retry_after().delay == std::chrono::seconds(12));
  CHECK(to_json(error) == json{{"kind", "dps"},
                               {"httpStatus", 429},
                               {"code", 429001},
                               {"message", "throttled"},
                               {"transient", true},
                               {"cause", {{"reason", "throttled"}, {"retryAfterSeconds", 12}}}});
}

TEST_CASE("a TPM error's JSON carries the TPM's own details and its return code") {
  const Error error = tpm_failure(tpm::Error(tpm::ErrorKind::lockout, "HMAC", 0x921, "in lockout", "wait"));
  const json j = to_json(error);
  CHECK(j["kind"] == "tpm");
  CHECK(j["code"] == 0x921);
  CHECK(j["httpStatus"].is_null());
  CHECK(j["cause"]["kind"] == "lockout");
  CHECK(j["cause"]["command"] == "HMAC");
  CHECK(j["cause"]["rc"] == "0x921");
  CHECK(j["cause"]["fix"] == "wait");
}

TEST_CASE("a configuration error names its key, a service error its reason") {
  CHECK(to_json(config_failure("m", "provisioning.payload.uri"))["cause"] ==
        json{{"key", "provisioning.payload.uri"}});
  CHECK(to_json(config_failure("m"))["cause"]["key"].is_null());
  CHECK(to_json(service_stopping("m"))["cause"] == json{{"reason", "stopping"}});
}
