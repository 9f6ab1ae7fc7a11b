#include "ctl/check/facts.h"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "dps/endpoint.h"
#include "dps/https_transport.h"
#include "dps/proxy.h"
#include "dps/tls.h"
#include "ipc/client.h"
#include "service/build_info.h"
#include "service/credentials.h"
#include "service/tpm_methods.h"
#include "tpm/device.h"
#include "tpm/json.h"

namespace edgeprov::ctl::check {

namespace {

unsigned bit(Need n) { return static_cast<unsigned>(n); }

ConfigFacts load_config(const std::filesystem::path& file) {
  ConfigFacts facts{.file = file, .config = std::nullopt, .problem = {}, .fix = {}};
  try {
    facts.config = config::load(file);
  } catch (const config::ConfigError& e) {
    facts.problem = e.file().string();
    if (e.line()) facts.problem += ":" + std::to_string(*e.line());
    facts.problem += ": " + (e.key().empty() ? std::string() : e.key() + ": ") + e.problem();
    facts.fix = e.fix();
  }
  return facts;
}

bool uses_tpm(const config::Config& c) { return c.provisioning.attestation.method == config::AttestationMethod::tpm; }

std::string tcti_of(const config::Config& c) { return c.tpm.tcti.empty() ? config::defaults().tcti : c.tpm.tcti; }

ServiceFacts ask_service(const std::string& endpoint, const GatherOptions& options) {
  ServiceFacts facts;
  facts.endpoint = endpoint;
  facts.client_version = service::build_info().version;
  facts.start_hint = "start it: `" + config::defaults().start_service + "` (or `edgeprovd --config " +
                     options.config_file.string() + "` in the foreground)";
  facts.connect_error = connect_error(endpoint);
  try {
    ipc::Client client(endpoint, options.timeout);
    facts.version = client.call("version");
    facts.status = client.call("status");
    facts.answered = true;
  } catch (const ipc::ClientError& e) {
    facts.problem = e.what();
  }
  return facts;
}

EndpointFacts endpoint_facts(const std::optional<config::Config>& c, const std::string& endpoint) {
  EndpointFacts facts;
  facts.supported = posix_permissions();
  facts.endpoint = endpoint;
  facts.socket = file_facts(endpoint);
  facts.directory = file_facts(std::filesystem::path(endpoint).parent_path());
  facts.connect_error = connect_error(endpoint);
  facts.caller = this_process();
  facts.status_group = config::defaults().service_account;
  if (!facts.status_group.empty()) facts.status_gid = group_id(facts.status_group);
  if (c)
    for (const auto& name : c->ipc.identity_principals) facts.identity_principals.emplace_back(name, account(name));
  return facts;
}

TpmFacts tpm_facts(const config::Config& c, const GatherOptions& options, const std::optional<ServiceFacts>& service) {
  TpmFacts facts;
  facts.applicable = uses_tpm(c);
  facts.tcti = tcti_of(c);
  if (!facts.applicable) return facts;
  // While the service runs it holds the TPM (a simulator serves one client at a time): ask it.
  if (service && service->answered) {
    facts.through = "edgeprovd";
    try {
      ipc::Client client(service->endpoint, options.timeout);
      read_tpm_info(client.call("tpm.info"), facts);
      facts.reached = true;
    } catch (const ipc::ClientError& e) {
      facts.problem = e.what();
      if (e.rpc_error() && e.rpc_error()->data.is_object()) {
        const auto& data = e.rpc_error()->data;
        facts.problem = data.value("problem", facts.problem);
        facts.fix = data.value("fix", std::string());
      }
    }
    return facts;
  }
  facts.through = "edgeprovctl (the service does not answer)";
  try {
    tpm::Device device(service::tpm_options(c));
    tpm::PublicKeys keys;
    if (auto ek = device.persisted_public(tpm::endorsement_key_handle)) {
      keys.endorsement_key = *ek;
      keys.registration_id = tpm::registration_id_from_ek(*ek);
    }
    if (auto srk = device.persisted_public(tpm::storage_root_key_handle)) keys.storage_root_key = *srk;
    read_tpm_info(tpm::info_json(keys, device.info(), facts.tcti), facts);
    facts.reached = true;
  } catch (const tpm::Error& e) {
    facts.problem = e.command().empty() ? e.problem() : fmt::format("{}: {}", e.command(), e.problem());
    facts.fix = e.fix();
  }
  return facts;
}

TpmDeviceFacts tpm_device_facts(const config::Config& c) {
  TpmDeviceFacts facts;
  facts.tcti = tcti_of(c);
  facts.uses_tpm = uses_tpm(c);
  facts.applicable = facts.uses_tpm && facts.tcti.starts_with("device");
  facts.supported = posix_permissions();
  if (!facts.applicable || !facts.supported) return facts;
  // "device" alone is the kernel's resource manager; "device:/path" names the node.
  const std::string node = facts.tcti.size() > 7 && facts.tcti[6] == ':' ? facts.tcti.substr(7) : "/dev/tpmrm0";
  facts.node = file_facts(node);
  facts.caller = this_process();
  facts.account_name = config::defaults().service_account;
  facts.account = account(facts.account_name);
  return facts;
}

DpsFacts probe_dps(const config::Config& c, const GatherOptions& options) {
  DpsFacts facts;
  const auto fail = [&facts](DpsStage stage, dps::TransportError error) {
    facts.failed_at = stage;
    facts.failure = std::move(error);
    return facts;
  };
  auto endpoint = dps::parse_global_endpoint(c.provisioning.global_endpoint);
  if (auto* p = std::get_if<dps::Problem>(&endpoint))
    return fail(DpsStage::proxy_settings, dps::configuration_error(*p));
  dps::HttpsSettings settings;
  settings.server = std::get<dps::Endpoint>(endpoint);
  settings.timeout = options.timeout;
  facts.server = dps::to_string(settings.server);

  auto proxy = dps::select_proxy(c.dps.proxy, settings.server.host, dps::process_environment());
  if (auto* e = std::get_if<dps::TransportError>(&proxy)) return fail(DpsStage::proxy_settings, *e);
  settings.proxy = std::get<std::optional<dps::ProxyUrl>>(proxy);
  if (settings.proxy) facts.proxy = settings.proxy->display;

  if (c.dps.trusted_ca) settings.tls.trusted_ca = config::local_path(*c.dps.trusted_ca);
  facts.trust = settings.tls.trusted_ca ? "the CA file " + settings.tls.trusted_ca->string() + " ([edgeprov.dps] trusted_ca)"
                                        : std::string("the system trust store");
  if (auto e = dps::check_tls_files(settings.tls)) return fail(DpsStage::tls_settings, *e);

  boost::asio::io_context io;
  auto created = dps::HttpsTransport::create(io.get_executor(), settings);
  if (auto* e = std::get_if<dps::TransportError>(&created)) return fail(DpsStage::tls_settings, *e);
  auto transport = std::get<std::shared_ptr<dps::HttpsTransport>>(created);
  // Any answer will do: what matters is that DNS, TCP, the proxy and TLS got that far, and the Date header.
  dps::HttpRequest request{.method = dps::HttpMethod::get, .target = "/", .headers = {}, .body = {},
                           .authorization = std::nullopt};
  transport->async_request(std::move(request), [&facts](dps::HttpResult result) {
    facts.local_time = std::chrono::system_clock::now();
    if (auto* e = std::get_if<dps::TransportError>(&result)) {
      facts.failed_at = DpsStage::exchange;
      facts.failure = *e;
      return;
    }
    const auto& response = std::get<dps::HttpResponse>(result);
    facts.http_status = response.status;
    facts.date_header = response.date;
  });
  io.run();
  transport->close();
  return facts;
}

StateFacts state_facts(const config::Config& c, const std::optional<TpmFacts>& tpm,
                       const std::optional<ServiceFacts>& service) {
  StateFacts facts;
  const auto dir = c.state.dir.empty() ? config::defaults().state_dir : c.state.dir;
  facts.file = dir / "provisioning.json";
  facts.service_answered = service && service->answered;
  facts.expected = {.global_endpoint = c.provisioning.global_endpoint,
                    .id_scope = c.provisioning.id_scope,
                    .registration_id = {},
                    .attestation = std::string(config::to_string(c.provisioning.attestation.method))};
  if (uses_tpm(c)) {
    if (c.provisioning.attestation.registration_id) {
      facts.expected.registration_id = *c.provisioning.attestation.registration_id;
    } else if (tpm && tpm->reached) {
      facts.expected.registration_id = tpm->registration_id;
    }
  } else if (auto id = service::configured_registration_id(c); std::holds_alternative<std::string>(id)) {
    facts.expected.registration_id = std::get<std::string>(id);
  }

  std::ifstream in(facts.file, std::ios::binary);
  if (!in) {
    const int error = errno;
    const auto file = file_facts(facts.file);
    if (!file.exists && file.error == 0) {
      facts.read = StateFacts::Read::absent;
    } else if (error == EACCES || error == EPERM || file.error == EACCES) {
      facts.read = StateFacts::Read::not_allowed;
    } else {
      facts.read = StateFacts::Read::unreadable;
      facts.problem = error_text(error);
    }
    return facts;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const auto json = nlohmann::json::parse(text.str(), nullptr, false);
  std::string why = "it is not JSON";
  auto state = json.is_discarded() ? std::nullopt : service::persisted_state_from_json(json, why);
  if (!state) {
    facts.read = StateFacts::Read::invalid;
    facts.problem = why;
    return facts;
  }
  facts.read = StateFacts::Read::read;
  facts.state = std::move(state);
  return facts;
}

ServiceAccessFacts service_access_facts(const config::Config& c) {
  ServiceAccessFacts facts;
  facts.supported = posix_permissions();
  facts.account_name = config::defaults().service_account;
  if (!facts.supported || facts.account_name.empty()) {
    facts.supported = false;
    return facts;
  }
  facts.account = account(facts.account_name);
  const auto add = [&](std::string setting, const std::optional<std::string>& reference) {
    if (reference) facts.files.push_back({std::move(setting), path_chain(config::local_path(*reference))});
  };
  facts.files.push_back({"the configuration", path_chain(c.source_file)});
  const auto& a = c.provisioning.attestation;
  add("[provisioning.attestation] symmetric_key uri", a.symmetric_key_uri);
  add("[provisioning.attestation] identity_cert", a.identity_cert);
  add("[provisioning.attestation] identity_pk", a.identity_pk);
  add("[provisioning] payload uri", c.provisioning.payload_uri);
  add("[edgeprov.dps] trusted_ca", c.dps.trusted_ca);
  return facts;
}

}  // namespace

Facts gather(const GatherOptions& options, unsigned needs) {
  Facts facts;
  facts.config = load_config(options.config_file);
  const std::string endpoint =
      !options.endpoint.empty() ? options.endpoint
                                : facts.config.config ? facts.config.config->ipc.endpoint : config::defaults().ipc_endpoint;
  // The service is asked first: whether it runs decides who opens the TPM.
  // The service and its endpoint are judged without a configuration too (the default endpoint).
  if (needs & (bit(Need::service) | bit(Need::tpm) | bit(Need::state))) facts.service = ask_service(endpoint, options);
  if (needs & bit(Need::endpoint)) facts.endpoint = endpoint_facts(facts.config.config, endpoint);
  if (!facts.config.config) return facts;
  const auto& c = *facts.config.config;
  if (needs & bit(Need::service_access)) facts.service_access = service_access_facts(c);
  if (needs & (bit(Need::tpm) | bit(Need::state))) facts.tpm = tpm_facts(c, options, facts.service);
  if (needs & bit(Need::tpm_device)) facts.tpm_device = tpm_device_facts(c);
  if (needs & bit(Need::dps)) facts.dps = probe_dps(c, options);
  if (needs & (bit(Need::state) | bit(Need::tpm))) facts.state = state_facts(c, facts.tpm, facts.service);
  if (facts.tpm) {
    const bool service_provisioned = facts.service && facts.service->answered &&
                                     facts.service->status.value("state", std::string()) == "provisioned";
    const bool persisted = facts.state && facts.state->state && facts.state->state->assignment;
    facts.tpm->provisioned = service_provisioned || persisted;
  }
  return facts;
}

}  // namespace edgeprov::ctl::check
