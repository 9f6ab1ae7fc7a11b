// edge-config/config.cpp — reads config.toml: aziot's super-config keys as IoT Edge writes them, plus
// edgeprov's own [edgeprov.*] tables. Every problem becomes one ConfigError naming file, line, key, fix.
// Values of secrets (symmetric key, hierarchy passwords) never appear in an error message.
#include "edge-config/config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/encoding.h"
#include "dps/endpoint.h"
#include "dps/vocabulary.h"

namespace edgeprov::config {

std::string_view to_string(SymmetricKeySource source) {
  return source == SymmetricKeySource::group ? "group" : "device";
}

std::string_view to_string(ReprovisioningMode mode) {
  switch (mode) {
    case ReprovisioningMode::dynamic: return "Dynamic";
    case ReprovisioningMode::always_on_startup: return "AlwaysOnStartup";
    case ReprovisioningMode::on_error_only: return "OnErrorOnly";
  }
  return "Dynamic";
}

namespace {

std::string format_error(const std::filesystem::path& file, std::optional<std::size_t> line,
                         const std::string& key, const std::string& problem, const std::string& fix) {
  std::string where = file.string();
  if (line) where += fmt::format(":{}", *line);
  std::string text = key.empty() ? fmt::format("{}: {}", where, problem)
                                 : fmt::format("{}: {}: {}", where, key, problem);
  if (!fix.empty()) text += " — " + fix;
  return text;
}

}  // namespace

ConfigError::ConfigError(std::filesystem::path file, std::optional<std::size_t> line, std::string key,
                         std::string problem, std::string fix)
    : std::runtime_error(format_error(file, line, key, problem, fix)),
      file_(std::move(file)),
      line_(line),
      key_(std::move(key)),
      problem_(std::move(problem)),
      fix_(std::move(fix)) {}

namespace {

constexpr std::uint32_t max_auth_key_index = 0x7F'FFFF;  // TPM 2.0 Part 3 §28.5.1: persistent range
constexpr std::int64_t min_cloud_timeout_sec = 70;        // aziot-identityd rejects anything shorter

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  return true;
}

// aziot writes key values padded, but its own loader also takes them unpadded (aziotctl's
// "dps-symmetric-key-no-pad" case); normalise to the padded form common::base64_decode accepts.
std::optional<std::string> normalized_base64(std::string_view text) {
  std::string padded(text);
  if (padded.size() % 4 == 1) return std::nullopt;
  while (padded.size() % 4 != 0) padded.push_back('=');
  auto bytes = base64_decode(padded);
  if (!bytes || bytes->empty()) return std::nullopt;
  return padded;
}

class Parser {
 public:
  explicit Parser(std::filesystem::path file) : file_(std::move(file)) {}

  Config parse(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, file_.string());
    } catch (const toml::parse_error& e) {
      const auto& at = e.source().begin;
      throw ConfigError(file_, at.line, "",
                        fmt::format("TOML syntax error at column {}: {}", at.column, e.description()),
                        "fix the syntax at that position (see https://toml.io for the format)");
    }
    Config config;
    config.source_file = file_;
    read_provisioning(root, config);
    read_tpm(root, config);
    read_top_level(root, config);
    read_edgeprov(root, config);
    check_combinations(root, config);
    apply_platform_defaults(config);
    return config;
  }

 private:
  [[noreturn]] void fail(const toml::node* at, const std::string& key, std::string problem,
                         std::string fix) const {
    std::optional<std::size_t> line;
    if (at != nullptr && at->source().begin.line != 0) line = at->source().begin.line;
    throw ConfigError(file_, line, key, std::move(problem), std::move(fix));
  }

  [[noreturn]] void wrong_type(const toml::node& node, const std::string& key, std::string_view expected,
                               const std::string& example) const {
    fail(&node, key, fmt::format("expected {}, found {}", expected, type_name(node)),
         fmt::format("write it as {}", example));
  }

  const toml::table* table_at(const toml::table& parent, std::string_view name, const std::string& key,
                              const std::string& example) const {
    const toml::node* node = parent.get(name);
    if (node == nullptr) return nullptr;
    if (const auto* table = node->as_table()) return table;
    wrong_type(*node, key, "a table", example);
  }

  std::optional<std::string> string_at(const toml::table& table, std::string_view name,
                                       const std::string& key, const std::string& example) const {
    const toml::node* node = table.get(name);
    if (node == nullptr) return std::nullopt;
    const auto* value = node->as_string();
    if (value == nullptr) wrong_type(*node, key, "a string", example);
    if (value->get().empty())
      fail(node, key, "is empty", fmt::format("give it a value ({}) or remove the line", example));
    return value->get();
  }

  // Secrets get their own reader: nothing about their value may reach an error message.
  std::optional<Secret> secret_at(const toml::table& table, std::string_view name, const std::string& key,
                                  const std::string& example) const {
    const toml::node* node = table.get(name);
    if (node == nullptr) return std::nullopt;
    const auto* value = node->as_string();
    if (value == nullptr) wrong_type(*node, key, "a string", example);
    return Secret{value->get()};
  }

  // Strict tables: edgeprov's own keys, where a typo must not pass silently.
  void reject_unknown_keys(const toml::table& table, const std::string& prefix,
                           std::initializer_list<std::string_view> known) const {
    for (auto&& [name, node] : table) {
      if (std::find(known.begin(), known.end(), name.str()) != known.end()) continue;
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      const std::string key = prefix + "." + std::string(name.str());
      fail(&node, key, "is not a key edgeprov knows",
           fmt::format("check the spelling; [{}] accepts {}", prefix, list));
    }
  }

  // global_endpoint is read by the DPS code's own rules (dps/endpoint.h), so what loads here connects there.
  std::string checked_global_endpoint(const toml::node& node, const std::string& value, const std::string& key) const {
    auto parsed = dps::parse_global_endpoint(value);
    if (auto* problem = std::get_if<dps::Problem>(&parsed)) fail(&node, key, problem->problem, problem->fix);
    return value;
  }

  // A reference to a local file in the two forms aziot accepts: a file:// URI or a plain path.
  std::string checked_file_reference(const toml::node& node, const std::string& value,
                                     const std::string& key, const std::string& example) const {
    if (starts_with_nocase(value, "file://")) {
      if (value.size() <= 7)
        fail(&node, key, "the file:// URI names no file", fmt::format("write e.g. {}", example));
      return value;
    }
    if (starts_with_nocase(value, "pkcs11:"))
      fail(&node, key, "PKCS#11 URIs are not supported by edgeprov",
           fmt::format("export the credential to a PEM file readable by the service and write {}", example));
    if (value.find("://") != std::string::npos)
      fail(&node, key, fmt::format("\"{}\" is not a file:// URI or a path", value),
           fmt::format("write {}", example));
    return value;
  }

  void read_provisioning(const toml::table& root, Config& config) const {
    const toml::table* prov =
        table_at(root, "provisioning", "provisioning",
                 "a [provisioning] table with source, global_endpoint and id_scope");
    if (prov == nullptr)
      fail(nullptr, "provisioning", "is missing",
           "add a [provisioning] table with source = \"dps\", global_endpoint, id_scope and a "
           "[provisioning.attestation] table (`edgeprovctl init` writes one)");
    Provisioning& p = config.provisioning;

    if (auto source = string_at(*prov, "source", "provisioning.source", "source = \"dps\"")) {
      const toml::node* node = prov->get("source");
      if (*source == "manual" || *source == "none")
        fail(node, "provisioning.source",
             fmt::format("\"{}\" provisioning is not what edgeprov does: it provisions through DPS", *source),
             "set source = \"dps\" with id_scope and [provisioning.attestation]; for manual "
             "provisioning keep using aziot-identityd, which reads this file too");
      if (*source != "dps")
        fail(node, "provisioning.source", fmt::format("\"{}\" is not a provisioning source", *source),
             "set source = \"dps\"");
      p.source = *source;
    } else {
      fail(prov, "provisioning.source", "is missing", "add source = \"dps\" under [provisioning]");
    }

    const std::string endpoint_example = "global_endpoint = \"https://global.azure-devices-provisioning.net/\"";
    if (auto endpoint = string_at(*prov, "global_endpoint", "provisioning.global_endpoint", endpoint_example))
      p.global_endpoint =
          checked_global_endpoint(*prov->get("global_endpoint"), *endpoint, "provisioning.global_endpoint");

    const std::string scope_example = "id_scope = \"0ne00000000\"";
    auto scope = string_at(*prov, "id_scope", "provisioning.id_scope", scope_example);
    if (!scope) {
      const bool old_name = prov->get("scope_id") != nullptr;
      fail(old_name ? prov->get("scope_id") : prov, "provisioning.id_scope", "is missing",
           old_name ? "rename scope_id to id_scope (the name /etc/aziot/config.toml uses)"
                    : "add id_scope = \"<ID Scope>\" under [provisioning]; the ID Scope is on the "
                      "Overview page of your Device Provisioning Service in the Azure portal");
    }
    if (auto problem = dps::check_id_scope(*scope))
      fail(prov->get("id_scope"), "provisioning.id_scope", problem->problem, problem->fix);
    p.id_scope = *scope;

    if (const toml::node* payload = prov->get("payload")) {
      const std::string example = "payload = { uri = \"file:///etc/edgeprov/payload.json\" }";
      const auto* table = payload->as_table();
      if (table == nullptr) wrong_type(*payload, "provisioning.payload", "a table", example);
      auto uri = string_at(*table, "uri", "provisioning.payload.uri", example);
      if (!uri) fail(payload, "provisioning.payload.uri", "is missing", "write " + example);
      if (!starts_with_nocase(*uri, "file://") || uri->size() <= 7)
        fail(table->get("uri"), "provisioning.payload.uri", fmt::format("\"{}\" is not a file:// URI", *uri),
             "write " + example);
      p.payload_uri = *uri;
    }

    read_attestation(*prov, config);
  }

  void read_attestation(const toml::table& prov, Config& config) const {
    const toml::table* att = table_at(prov, "attestation", "provisioning.attestation",
                                      "[provisioning.attestation] with method = \"tpm\"");
    if (att == nullptr)
      fail(&prov, "provisioning.attestation", "is missing",
           "add a [provisioning.attestation] table with method = \"tpm\", \"symmetric_key\" or \"x509\"");
    Attestation& a = config.provisioning.attestation;

    auto method = string_at(*att, "method", "provisioning.attestation.method", "method = \"tpm\"");
    if (!method)
      fail(att, "provisioning.attestation.method", "is missing",
           "add method = \"tpm\", \"symmetric_key\" or \"x509\" under [provisioning.attestation]");
    if (auto parsed = dps::parse_attestation_method(*method)) {
      a.method = *parsed;
    } else {
      fail(att->get("method"), "provisioning.attestation.method",
           fmt::format("\"{}\" is not an attestation method", *method),
           "use \"tpm\", \"symmetric_key\" or \"x509\"");
    }

    // registration_id: a string; for x509 aziot also takes a subject table whose CN is the id.
    if (const toml::node* reg = att->get("registration_id")) {
      const std::string key = "provisioning.attestation.registration_id";
      const std::string example = "registration_id = \"my-device\"";
      if (const auto* subject = reg->as_table(); subject != nullptr && a.method == AttestationMethod::x509) {
        const toml::node* cn = subject->get("CN");
        if (cn == nullptr) cn = subject->get("cn");
        if (cn == nullptr || cn->as_string() == nullptr || cn->as_string()->get().empty())
          fail(reg, key, "the subject table has no CN", "write registration_id = { CN = \"my-device\" } or " + example);
        a.registration_id = cn->as_string()->get();
      } else {
        a.registration_id = string_at(*att, "registration_id", key, example);
        check_registration_id(*reg, key, *a.registration_id);
      }
    }

    switch (a.method) {
      case AttestationMethod::tpm:
        break;
      case AttestationMethod::symmetric_key:
        read_symmetric_key(*att, a);
        break;
      case AttestationMethod::x509:
        read_x509(*att, a);
        break;
    }
  }

  void check_registration_id(const toml::node& node, const std::string& key, const std::string& id) const {
    if (auto problem = dps::check_registration_id(id)) fail(&node, key, problem->problem, problem->fix);
  }

  void read_symmetric_key(const toml::table& att, Attestation& a) const {
    const std::string key = "provisioning.attestation.symmetric_key";
    const std::string example = "symmetric_key = { value = \"<base64 key from the enrollment>\" }";
    if (!a.registration_id)
      fail(&att, "provisioning.attestation.registration_id", "is missing (symmetric_key attestation needs it)",
           "add registration_id = \"<registration id of the DPS enrollment>\" under [provisioning.attestation]");
    const toml::node* node = att.get("symmetric_key");
    if (node == nullptr)
      fail(&att, key, "is missing (method = \"symmetric_key\" needs the key)",
           fmt::format("add {} or symmetric_key = {{ uri = \"file:///…\" }}", example));
    const auto* table = node->as_table();
    if (table == nullptr) wrong_type(*node, key, "a table", example);
    const bool has_value = table->get("value") != nullptr;
    const bool has_uri = table->get("uri") != nullptr;
    if (has_value && has_uri)
      fail(node, key, "has both value and uri", "keep one: the inline value or the uri of a key file");
    if (!has_value && !has_uri)
      fail(node, key, "has neither value nor uri", "write " + example);
    if (has_value) {
      auto value = secret_at(*table, "value", key + ".value", example);
      auto normalized = normalized_base64(value->reveal());
      if (!normalized)
        fail(table->get("value"), key + ".value", "is not a base64 key (its value is not shown)",
             "copy the Primary Key of the DPS enrollment exactly, e.g. " + example);
      a.symmetric_key_value = Secret{std::move(*normalized)};
    } else {
      const std::string uri_example = "symmetric_key = { uri = \"file:///etc/edgeprov/device-id.key\" }";
      auto uri = string_at(*table, "uri", key + ".uri", uri_example);
      if (!starts_with_nocase(*uri, "file://") || uri->size() <= 7)
        fail(table->get("uri"), key + ".uri",
             starts_with_nocase(*uri, "pkcs11:") ? "PKCS#11 key URIs are not supported by edgeprov"
                                                 : fmt::format("\"{}\" is not a file:// URI", *uri),
             "put the raw key bytes in a file readable only by the service and write " + uri_example +
                 ", or give the base64 key inline with { value = \"…\" }");
      a.symmetric_key_uri = *uri;
    }
  }

  void read_x509(const toml::table& att, Attestation& a) const {
    const std::string cert_example = "identity_cert = \"file:///etc/edgeprov/device-id.pem\"";
    const std::string pk_example = "identity_pk = \"file:///etc/edgeprov/device-id.key.pem\"";
    const toml::node* cert = att.get("identity_cert");
    if (cert == nullptr)
      fail(&att, "provisioning.attestation.identity_cert", "is missing (method = \"x509\" needs the device certificate)",
           "add " + cert_example);
    if (cert->is_table())
      fail(cert, "provisioning.attestation.identity_cert",
           "dynamically issued identity certificates (EST or local CA) are not supported by edgeprov",
           "issue the certificate beforehand and write " + cert_example);
    auto cert_value = string_at(att, "identity_cert", "provisioning.attestation.identity_cert", cert_example);
    a.identity_cert = checked_file_reference(*cert, *cert_value, "provisioning.attestation.identity_cert", cert_example);

    const toml::node* pk = att.get("identity_pk");
    if (pk == nullptr)
      fail(&att, "provisioning.attestation.identity_pk", "is missing (method = \"x509\" needs the certificate's private key)",
           "add " + pk_example);
    auto pk_value = string_at(att, "identity_pk", "provisioning.attestation.identity_pk", pk_example);
    a.identity_pk = checked_file_reference(*pk, *pk_value, "provisioning.attestation.identity_pk", pk_example);
  }

  void read_tpm(const toml::table& root, Config& config) const {
    const toml::table* tpm = table_at(root, "tpm", "tpm", "[tpm] with tcti = \"device:/dev/tpmrm0\"");
    if (tpm == nullptr) return;
    Tpm& t = config.tpm;
    if (auto tcti = string_at(*tpm, "tcti", "tpm.tcti", "tcti = \"device:/dev/tpmrm0\"")) t.tcti = *tcti;

    if (const toml::node* index = tpm->get("auth_key_index")) read_auth_key_index(*index, t);

    if (const toml::table* auth = table_at(*tpm, "hierarchy_authorization", "tpm.hierarchy_authorization",
                                           "[tpm.hierarchy_authorization] with endorsement = \"…\"")) {
      t.endorsement_auth = secret_at(*auth, "endorsement", "tpm.hierarchy_authorization.endorsement",
                                     "endorsement = \"<password>\"");
      t.owner_auth = secret_at(*auth, "owner", "tpm.hierarchy_authorization.owner", "owner = \"<password>\"");
      if (t.endorsement_auth && t.endorsement_auth->empty()) t.endorsement_auth.reset();
      if (t.owner_auth && t.owner_auth->empty()) t.owner_auth.reset();
    }
  }

  void read_auth_key_index(const toml::node& node, Tpm& t) const {
    const std::string key = "tpm.auth_key_index";
    const std::string fix =
        "write an offset from 0x81000000 between 0x00_00_00 and 0x7F_FF_FF, e.g. auth_key_index = 0x00_01_00 "
        "(the default, handle 0x81000100)";
    std::int64_t value = -1;
    if (const auto* integer = node.as_integer()) {
      value = integer->get();
    } else if (const auto* text = node.as_string()) {
      // aziot's documentation writes the index as a quoted hex string ("0x00_01_00"): accept that too.
      std::string digits;
      std::string_view s = text->get();
      const bool hex = starts_with_nocase(s, "0x");
      if (hex) s.remove_prefix(2);
      for (char c : s)
        if (c != '_') digits.push_back(c);
      std::size_t used = 0;
      try {
        value = digits.empty() ? -1 : std::stoll(digits, &used, hex ? 16 : 10);
      } catch (const std::exception&) {
        value = -1;
      }
      if (used != digits.size() || digits.empty() || digits.front() == '-' || digits.front() == '+')
        fail(&node, key, fmt::format("\"{}\" is not a number", text->get()), fix);
    } else {
      wrong_type(node, key, "an integer", "auth_key_index = 0x00_01_00");
    }
    if (value >= 0x8100'0000LL && value <= 0x817F'FFFFLL)
      fail(&node, key, fmt::format("0x{:X} is a full persistent handle, not an index", value),
           fmt::format("write the offset from 0x81000000: auth_key_index = 0x{:X}", value - 0x8100'0000LL));
    if (value < 0 || value > static_cast<std::int64_t>(max_auth_key_index))
      fail(&node, key,
           fmt::format("{} is outside the TPM's persistent range (the key lives at 0x81000000 + index, which "
                       "must stay within 0x81000000–0x817FFFFF)",
                       value < 0 ? std::to_string(value) : fmt::format("0x{:X}", value)),
           fix);
    t.auth_key_index = static_cast<std::uint32_t>(value);
  }

  void read_top_level(const toml::table& root, Config& config) const {
    if (auto mode = string_at(root, "auto_reprovisioning_mode", "auto_reprovisioning_mode",
                              "auto_reprovisioning_mode = \"Dynamic\"")) {
      if (*mode == "Dynamic") {
        config.auto_reprovisioning_mode = ReprovisioningMode::dynamic;
      } else if (*mode == "AlwaysOnStartup") {
        config.auto_reprovisioning_mode = ReprovisioningMode::always_on_startup;
      } else if (*mode == "OnErrorOnly") {
        config.auto_reprovisioning_mode = ReprovisioningMode::on_error_only;
      } else {
        fail(root.get("auto_reprovisioning_mode"), "auto_reprovisioning_mode",
             fmt::format("\"{}\" is not a reprovisioning mode", *mode),
             "use \"Dynamic\" (the default), \"AlwaysOnStartup\" or \"OnErrorOnly\", spelled exactly so");
      }
    }

    if (const toml::node* node = root.get("cloud_timeout_sec")) {
      const auto* value = node->as_integer();
      if (value == nullptr) wrong_type(*node, "cloud_timeout_sec", "an integer", "cloud_timeout_sec = 70");
      if (value->get() < min_cloud_timeout_sec)
        fail(node, "cloud_timeout_sec",
             fmt::format("{} is below the minimum of {} seconds (the same rule aziot-identityd applies)",
                         value->get(), min_cloud_timeout_sec),
             fmt::format("set cloud_timeout_sec = {} or more, or remove it for the default of {}",
                         min_cloud_timeout_sec, min_cloud_timeout_sec));
      if (value->get() > 24 * 3600)
        fail(node, "cloud_timeout_sec", fmt::format("{} seconds is more than a day", value->get()),
             "use a timeout of minutes, e.g. cloud_timeout_sec = 120");
      config.cloud_timeout = std::chrono::seconds(value->get());
    }

    if (const toml::node* node = root.get("cloud_retries")) {
      const auto* value = node->as_integer();
      if (value == nullptr) wrong_type(*node, "cloud_retries", "an integer", "cloud_retries = 1");
      if (value->get() < 0 || value->get() > 100)
        fail(node, "cloud_retries", fmt::format("{} is not a retry count between 0 and 100", value->get()),
             "set cloud_retries = 1 (the default) or another count from 0 to 100");
      config.cloud_retries = static_cast<unsigned>(value->get());
    }
  }

  void read_edgeprov(const toml::table& root, Config& config) const {
    const toml::table* ep = table_at(root, "edgeprov", "edgeprov", "[edgeprov.dps], [edgeprov.ipc], … tables");
    if (ep == nullptr) return;
    reject_unknown_keys(*ep, "edgeprov", {"dps", "ipc", "state", "log"});

    if (const toml::table* dps = table_at(*ep, "dps", "edgeprov.dps", "[edgeprov.dps]")) {
      reject_unknown_keys(*dps, "edgeprov.dps", {"transport", "trusted_ca", "proxy", "symmetric_key_source", "mqtt_port"});
      if (const toml::node* node = dps->get("mqtt_port")) {
        const auto* value = node->as_integer();
        if (value == nullptr) wrong_type(*node, "edgeprov.dps.mqtt_port", "an integer", "mqtt_port = 8883");
        if (value->get() < 1 || value->get() > 65535)
          fail(node, "edgeprov.dps.mqtt_port", fmt::format("{} is not a TCP port", value->get()),
               "use a port from 1 to 65535, or remove it for DPS's 8883");
        config.dps.mqtt_port = static_cast<std::uint16_t>(value->get());
      }
      if (auto source = string_at(*dps, "symmetric_key_source", "edgeprov.dps.symmetric_key_source",
                                  "symmetric_key_source = \"group\"")) {
        if (*source == "device") {
          config.dps.symmetric_key_source = SymmetricKeySource::device;
        } else if (*source == "group") {
          config.dps.symmetric_key_source = SymmetricKeySource::group;
        } else {
          fail(dps->get("symmetric_key_source"), "edgeprov.dps.symmetric_key_source",
               fmt::format("\"{}\" is not a symmetric key source", *source),
               "use \"device\" (the key of this device) or \"group\" (the enrollment group's key)");
        }
      }
      if (auto transport = string_at(*dps, "transport", "edgeprov.dps.transport", "transport = \"https\"")) {
        if (auto parsed = dps::parse_transport(*transport)) {
          config.dps.transport = *parsed;
        } else {
          fail(dps->get("transport"), "edgeprov.dps.transport",
               fmt::format("\"{}\" is not a DPS transport", *transport), "use \"https\" or \"mqtt\"");
        }
      }
      const std::string ca_example = "trusted_ca = \"file:///etc/edgeprov/dps-ca.pem\"";
      if (auto ca = string_at(*dps, "trusted_ca", "edgeprov.dps.trusted_ca", ca_example))
        config.dps.trusted_ca = checked_file_reference(*dps->get("trusted_ca"), *ca, "edgeprov.dps.trusted_ca", ca_example);
      const std::string proxy_example = "proxy = \"http://proxy.example:3128\"";
      if (auto proxy = string_at(*dps, "proxy", "edgeprov.dps.proxy", proxy_example)) {
        const toml::node* node = dps->get("proxy");
        auto parsed = dps::parse_proxy_url(*proxy);
        if (auto* problem = std::get_if<dps::Problem>(&parsed))
          fail(node, "edgeprov.dps.proxy", problem->problem,
               problem->fix + " (user:password@ before the host if the proxy needs it)");
        config.dps.proxy = *proxy;
      }
    }

    if (const toml::table* ipc = table_at(*ep, "ipc", "edgeprov.ipc", "[edgeprov.ipc]")) {
      reject_unknown_keys(*ipc, "edgeprov.ipc",
                          {"endpoint", "admin_group", "identity_principals", "max_connections",
                           "admin_reserved_connections", "max_connections_per_user", "max_requests_per_user",
                           "max_subscriptions_per_user", "idle_timeout_sec"});
      if (auto endpoint = string_at(*ipc, "endpoint", "edgeprov.ipc.endpoint",
                                    fmt::format("endpoint = \"{}\"", defaults().ipc_endpoint)))
        config.ipc.endpoint = *endpoint;
      if (auto group = string_at(*ipc, "admin_group", "edgeprov.ipc.admin_group", "admin_group = \"edgeprov\""))
        config.ipc.admin_group = *group;
      if (const toml::node* node = ipc->get("identity_principals")) {
        const std::string example = "identity_principals = [\"iotedge\", \"edgeAgent\"]";
        const auto* array = node->as_array();
        if (array == nullptr) wrong_type(*node, "edgeprov.ipc.identity_principals", "an array of names", example);
        for (const toml::node& item : *array) {
          const auto* name = item.as_string();
          if (name == nullptr || name->get().empty())
            fail(&item, "edgeprov.ipc.identity_principals", "holds an entry that is not a user or group name",
                 "list names as strings, e.g. " + example);
          config.ipc.identity_principals.push_back(name->get());
        }
      }
      read_ipc_limits(*ipc, config.ipc);
    }

    if (const toml::table* state = table_at(*ep, "state", "edgeprov.state", "[edgeprov.state]")) {
      reject_unknown_keys(*state, "edgeprov.state", {"dir"});
      const std::string example = fmt::format("dir = \"{}\"", defaults().state_dir.generic_string());
      if (auto dir = string_at(*state, "dir", "edgeprov.state.dir", example)) {
        std::filesystem::path path(*dir);
        if (!path.is_absolute())
          fail(state->get("dir"), "edgeprov.state.dir", fmt::format("\"{}\" is a relative path", *dir),
               "the service's working directory is not yours: write an absolute path, e.g. " + example);
        config.state.dir = path;
      }
    }

    if (const toml::table* log = table_at(*ep, "log", "edgeprov.log", "[edgeprov.log]")) {
      reject_unknown_keys(*log, "edgeprov.log", {"level", "file"});
      if (auto level = string_at(*log, "level", "edgeprov.log.level", "level = \"info\"")) {
        static constexpr std::array<std::string_view, 7> levels{"trace", "debug", "info", "warn",
                                                                "error", "critical", "off"};
        if (std::find(levels.begin(), levels.end(), *level) == levels.end())
          fail(log->get("level"), "edgeprov.log.level", fmt::format("\"{}\" is not a log level", *level),
               "use one of trace, debug, info, warn, error, critical, off");
        config.log.level = *level;
      }
      if (auto file = string_at(*log, "file", "edgeprov.log.file", "file = \"/var/log/edgeprov/edgeprovd.log\"")) {
        std::filesystem::path path(*file);
        if (!path.is_absolute())
          fail(log->get("file"), "edgeprov.log.file", fmt::format("\"{}\" is a relative path", *file),
               "write an absolute path, e.g. file = \"/var/log/edgeprov/edgeprovd.log\"");
        config.log.file = path;
      }
    }
  }

  // An integer key in [min, max]; absent leaves `value` as it is.
  template <typename T>
  void integer_at(const toml::table& table, std::string_view name, const std::string& key, std::int64_t min,
                  std::int64_t max, const std::string& meaning, T& value) const {
    const toml::node* node = table.get(name);
    if (node == nullptr) return;
    const auto* integer = node->as_integer();
    if (integer == nullptr)
      wrong_type(*node, key, "an integer", fmt::format("{} = {}", name, static_cast<std::int64_t>(value)));
    if (integer->get() < min || integer->get() > max)
      fail(node, key, fmt::format("{} is not {} from {} to {}", integer->get(), meaning, min, max),
           fmt::format("set a value in that range, or remove it for the default of {}", static_cast<std::int64_t>(value)));
    value = static_cast<T>(integer->get());
  }

  void read_ipc_limits(const toml::table& ipc, Ipc& out) const {
    // A connection is a file descriptor: the upper bound keeps the limit within what a process may open.
    integer_at(ipc, "max_connections", "edgeprov.ipc.max_connections", 2, 65536, "a connection count",
               out.max_connections);
    integer_at(ipc, "admin_reserved_connections", "edgeprov.ipc.admin_reserved_connections", 1, 65535,
               "a connection count", out.admin_reserved_connections);
    integer_at(ipc, "max_connections_per_user", "edgeprov.ipc.max_connections_per_user", 1, 65536,
               "a connection count", out.max_connections_per_user);
    integer_at(ipc, "max_requests_per_user", "edgeprov.ipc.max_requests_per_user", 1, 65536, "a request count",
               out.max_requests_per_user);
    integer_at(ipc, "max_subscriptions_per_user", "edgeprov.ipc.max_subscriptions_per_user", 1, 65536,
               "a subscription count", out.max_subscriptions_per_user);
    std::int64_t idle = out.idle_timeout.count();
    integer_at(ipc, "idle_timeout_sec", "edgeprov.ipc.idle_timeout_sec", 10, 86400, "a number of seconds", idle);
    out.idle_timeout = std::chrono::seconds(idle);
    // Administrators are never locked out only if some connections are theirs alone and some are left for
    // everyone else.
    if (out.admin_reserved_connections >= out.max_connections) {
      const toml::node* at = ipc.get("admin_reserved_connections") ? ipc.get("admin_reserved_connections")
                                                                   : ipc.get("max_connections");
      fail(at, ipc.get("admin_reserved_connections") ? "edgeprov.ipc.admin_reserved_connections"
                                                     : "edgeprov.ipc.max_connections",
           fmt::format("admin_reserved_connections = {} leaves no connection of max_connections = {} to callers "
                       "that are not administrators",
                       out.admin_reserved_connections, out.max_connections),
           "reserve fewer connections for administrators than max_connections allows in all");
    }
  }

  void check_combinations(const toml::table& root, const Config& config) const {
    if (auto problem = dps::check_transport(config.provisioning.attestation.method, config.dps.transport))
      fail(root.at_path("edgeprov.dps.transport").node(), "edgeprov.dps.transport", problem->problem, problem->fix);
    if (config.dps.transport == dps::Transport::mqtt && !config.dps.trusted_ca && !defaults().mqtt_system_trust)
      fail(root.at_path("edgeprov.dps.transport").node(), "edgeprov.dps.transport",
           "MQTT needs [edgeprov.dps] trusted_ca on Windows: its TLS (Paho MQTT) cannot read the Windows "
           "certificate store",
           "set trusted_ca to the PEM file of the root CA of the DPS server (for Azure DPS: DigiCert Global Root "
           "G2), e.g. trusted_ca = \"file:///C:/ProgramData/edgeprov/dps-ca.pem\", or use transport = \"https\", "
           "which trusts the Windows certificate store");
  }

  static void apply_platform_defaults(Config& config) {
    const Defaults& d = defaults();
    if (config.tpm.tcti.empty()) config.tpm.tcti = d.tcti;
    if (config.ipc.endpoint.empty()) config.ipc.endpoint = d.ipc_endpoint;
    if (config.state.dir.empty()) config.state.dir = d.state_dir;
  }

  std::filesystem::path file_;
};

}  // namespace

std::filesystem::path local_path(std::string_view file_reference) {
  if (!starts_with_nocase(file_reference, "file://")) return std::filesystem::path(std::string(file_reference));
  std::string_view rest = file_reference.substr(7);
  if (starts_with_nocase(rest, "localhost/")) rest.remove_prefix(9);  // file://localhost/etc/x
  std::string path = url_decode(rest).value_or(std::string(rest));
  // RFC 8089 Windows form "file:///C:/dir/x.pem": the drive follows the root slash.
  if (path.size() >= 3 && path[0] == '/' && std::isalpha(static_cast<unsigned char>(path[1])) && path[2] == ':')
    path.erase(0, 1);
  return std::filesystem::path(path);
}

Config parse(std::string_view toml_text, const std::filesystem::path& name) {
  return Parser(name).parse(toml_text);
}

Config load(const std::filesystem::path& file) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (ec || !std::filesystem::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory)
      throw ConfigError(file, std::nullopt, "", fmt::format("cannot be read: {}", ec.message()),
                        "run as a user that may read it (root / Administrator) or fix its permissions");
    throw ConfigError(file, std::nullopt, "", "does not exist",
                      "create it with `edgeprovctl init --scope-id <ID Scope> …`, or point --config at your file");
  }
  if (std::filesystem::is_directory(status))
    throw ConfigError(file, std::nullopt, "", "is a directory, not a configuration file",
                      "give the path of config.toml itself");
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw ConfigError(file, std::nullopt, "", "cannot be opened for reading (permission denied?)",
                      "run as a user that may read it (root / Administrator) or fix its permissions");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    throw ConfigError(file, std::nullopt, "", "could not be read to the end", "check the disk and the file");
  return parse(text.str(), file);
}

}  // namespace edgeprov::config
