// edge-config/writer.cpp — renders the configuration `edgeprovctl init` writes and writes it safely.
#include "edge-config/writer.h"

#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "edge-config/atomic_file.h"

namespace edgeprov::config {
namespace {

// A TOML basic string with every escape TOML needs, formatted by toml++ rather than by hand.
std::string quoted(const std::string& text) {
  // Basic "…" strings as aziot writes them, never '…' literals; UTF-8 stays UTF-8.
  std::ostringstream out;
  const toml::value<std::string> value(text);
  out << toml::toml_formatter(value, toml::format_flags::allow_unicode_strings);
  return out.str();
}

bool is_uri(std::string_view text) { return text.find("://") != std::string_view::npos; }

}  // namespace

std::string to_file_uri(const std::string& path_or_uri) {
  if (is_uri(path_or_uri)) return path_or_uri;
  std::string path = std::filesystem::absolute(path_or_uri).lexically_normal().generic_string();
  if (!path.empty() && path.front() != '/') path.insert(path.begin(), '/');  // "C:/x" → "/C:/x"
  // RFC 8089: percent-encode what may not stand in a URI path (RFC 3986 pchar and '/' stay).
  std::string uri = "file://";
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    const bool keep = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                      std::string_view("-._~/:@!$&'()*+,;=").find(c) != std::string_view::npos;
    if (keep) {
      uri.push_back(c);
    } else {
      uri += fmt::format("%{:02X}", u);
    }
  }
  return uri;
}

bool holds_secret(const InitOptions& options) {
  return options.attestation == AttestationMethod::symmetric_key && options.symmetric_key.has_value();
}

std::string render_config(const InitOptions& o) {
  std::string text;
  auto line = [&text](std::string_view s) {
    text += s;
    text += '\n';
  };
  line("# edgeprov configuration, written by `edgeprovctl init`. The [provisioning] and [tpm] keys are");
  line("# aziot's (/etc/aziot/config.toml reads the same); edgeprov's own settings live under [edgeprov.*].");
  line("# Every key is described in docs/configuration.md.");
  line("");
  if (o.reprovisioning_mode) {
    line(fmt::format("auto_reprovisioning_mode = \"{}\"", to_string(*o.reprovisioning_mode)));
    line("");
  }
  line("[provisioning]");
  line("source = \"dps\"");
  line("global_endpoint = " + quoted(o.global_endpoint));
  line("id_scope = " + quoted(o.id_scope));
  line("");
  line("[provisioning.attestation]");
  line(fmt::format("method = \"{}\"", to_string(o.attestation)));
  if (o.registration_id) {
    line("registration_id = " + quoted(*o.registration_id));
  } else if (o.attestation == AttestationMethod::tpm) {
    line("# registration_id: derived from the TPM's endorsement key (`edgeprovctl tpm info` shows it)");
  }
  if (o.attestation == AttestationMethod::symmetric_key && o.symmetric_key)
    line("symmetric_key = { value = " + quoted(o.symmetric_key->reveal()) + " }");
  if (o.attestation == AttestationMethod::x509) {
    if (o.identity_cert) line("identity_cert = " + quoted(to_file_uri(*o.identity_cert)));
    if (o.identity_pk) line("identity_pk = " + quoted(to_file_uri(*o.identity_pk)));
  }
  if (o.tcti) {
    line("");
    line("[tpm]");
    line("tcti = " + quoted(*o.tcti));
  }

  const bool group_key =
      o.attestation == AttestationMethod::symmetric_key && o.symmetric_key_source == SymmetricKeySource::group;
  const bool dps = o.transport != Transport::https || o.mqtt_port || o.trusted_ca || o.proxy || group_key;
  if (dps) {
    line("");
    line("[edgeprov.dps]");
    if (o.transport != Transport::https) line(fmt::format("transport = \"{}\"", to_string(o.transport)));
    if (o.mqtt_port) line(fmt::format("mqtt_port = {}", *o.mqtt_port));
    if (group_key) line("symmetric_key_source = \"group\"  # the enrollment group's key: the device key is derived");
    if (o.trusted_ca) line("trusted_ca = " + quoted(to_file_uri(*o.trusted_ca)));
    if (o.proxy) line("proxy = " + quoted(*o.proxy));
  }
  if (o.ipc_endpoint) {
    line("");
    line("[edgeprov.ipc]");
    line("endpoint = " + quoted(*o.ipc_endpoint));
  }
  if (o.state_dir) {
    line("");
    line("[edgeprov.state]");
    line("dir = " + quoted(std::filesystem::absolute(*o.state_dir).lexically_normal().string()));
  }
  if (o.log_level) {
    line("");
    line("[edgeprov.log]");
    line("level = " + quoted(*o.log_level));
  }
  return text;
}

Config write_config(const std::filesystem::path& file, const InitOptions& options, bool replace) {
  const std::string text = render_config(options);
  try {
    parse(text, file);  // nothing invalid reaches the disk
  } catch (const ConfigError& e) {
    // The line would be one of a text never written: the key alone names the option at fault.
    throw ConfigError(e.file(), std::nullopt, e.key(), e.problem(), e.fix());
  }
  write_file_atomically(file, text, holds_secret(options) ? FileAccess::service_secret : FileAccess::shared_readable,
                        replace);
  return load(file);
}

}  // namespace edgeprov::config
