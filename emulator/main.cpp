// dps-emulator — a local Device Provisioning Service for tests, demos and rehearsals (docs/dps-emulator.md).
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "emulator/admin_api.h"
#include "emulator/certificates.h"
#include "emulator/device_api.h"
#include "emulator/device_gate.h"
#include "emulator/faults.h"
#include "emulator/http_server.h"
#include "emulator/mqtt_server.h"
#include "emulator/provisioning_service.h"
#include "emulator/settings.h"

namespace {

using namespace edgeprov::emulator;
namespace asio = boost::asio;
namespace fs = std::filesystem;

std::string read_text(const fs::path& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read the ") + what + " " + path.string() + "; check the path");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_state(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      spdlog::error("cannot write the state file {}; check the directory's permissions", tmp.string());
      return;
    }
    out << text;
  }
  std::error_code ec;
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
  fs::rename(tmp, path, ec);
  if (ec) spdlog::error("cannot replace the state file {}: {}", path.string(), ec.message());
}

void apply_enrollments(ProvisioningService& service, const nlohmann::json& enrollments, const nlohmann::json& groups,
                       const std::string& source) {
  for (const auto& e : enrollments) {
    std::string id = e.value("registrationId", "");
    auto result = service.put_enrollment(id, e);
    if (result.status >= 400)
      throw std::runtime_error(source + ": enrollment '" + id + "': " + result.body.value("message", "invalid"));
  }
  for (const auto& g : groups) {
    std::string id = g.value("enrollmentGroupId", "");
    auto result = service.put_group(id, g);
    if (result.status >= 400)
      throw std::runtime_error(source + ": enrollment group '" + id + "': " + result.body.value("message", "invalid"));
  }
}

// One key=value line with the counters, for people and fleet tooling (docs/dps-emulator.md).
void log_counts(const DeviceGate& gate) {
  const TrafficCounts counts = gate.counts();
  const ConnectionCounts connections = gate.connections();
  const OutcomeCounts all = counts.all(), reg = counts.of(RequestKind::register_device), poll = counts.of(RequestKind::operation_status);
  spdlog::info("event=stats accepted={} throttled={} refused={} register.accepted={} register.throttled={} "
               "register.refused={} poll.accepted={} poll.throttled={} poll.refused={} connections.dropped={} "
               "connections.refused={}",
               all.accepted, all.throttled, all.refused, reg.accepted, reg.throttled, reg.refused, poll.accepted,
               poll.throttled, poll.refused, connections.https_dropped + connections.mqtt_dropped, connections.mqtt_refused);
}

// Every `interval`, the counters line if they changed since the last one.
void schedule_count_lines(asio::steady_timer& timer, const DeviceGate& gate, std::chrono::seconds interval,
                          std::shared_ptr<std::pair<TrafficCounts, ConnectionCounts>> last) {
  timer.expires_after(interval);
  timer.async_wait([&timer, &gate, interval, last](const boost::system::error_code& error) {
    if (error) return;
    std::pair now{gate.counts(), gate.connections()};
    if (now != *last) {
      log_counts(gate);
      *last = now;
    }
    schedule_count_lines(timer, gate, interval, last);
  });
}

asio::ip::tcp::endpoint tcp_endpoint(const Endpoint& e, const char* flag) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(e.address, ec);
  if (ec) throw std::runtime_error(std::string(flag) + ": '" + e.address + "' is not an IP address; use e.g. 127.0.0.1");
  if (!address.is_loopback())
    spdlog::warn("{} listens on {}, which is not loopback: the emulator is a test tool with a test CA", flag, e.text());
  return {address, e.port};
}

int run(int argc, char** argv) {
  CLI::App app{"dps-emulator: a local Azure IoT Hub Device Provisioning Service (HTTPS, MQTT, real TPM challenge)"};
  std::string config_file, https, mqtt, admin, id_scope, enrollments_file, cert_dir, state_file, policy, log_level;
  std::vector<std::string> hubs;
  std::optional<int> assigning_polls, assigning_seconds, retry_after, stats_interval;
  std::optional<std::uint32_t> registrations_per_minute;
  std::string polls_per_device;
  app.add_option("--config", config_file, "TOML configuration file (flags override it)");
  app.add_option("--https", https, "device API over HTTPS, ADDRESS:PORT (default 127.0.0.1:8443)");
  app.add_option("--mqtt", mqtt, "device API over MQTT/TLS, ADDRESS:PORT (default 127.0.0.1:8883)");
  app.add_option("--admin", admin, "admin API over HTTP, ADDRESS:PORT (default 127.0.0.1:8080)");
  app.add_option("--id-scope", id_scope, "the ID scope devices use (default 0ne00000000)");
  app.add_option("--enrollments", enrollments_file, "TOML enrollment file loaded at start");
  app.add_option("--cert-dir", cert_dir, "where the test CA and server certificate live (created on first start)");
  app.add_option("--state-file", state_file, "keep enrollments and registrations across restarts in this file");
  app.add_option("--hub", hubs, "an IoT hub host name to allocate to (repeatable)");
  app.add_option("--allocation-policy", policy, "default allocation: hashed, static, custom or geoLatency");
  app.add_option("--assigning-polls", assigning_polls, "status polls answered 'assigning' before the result (default 0)");
  app.add_option("--assigning-seconds", assigning_seconds, "minimum seconds an operation stays 'assigning' (default 0)");
  app.add_option("--retry-after", retry_after, "Retry-After seconds on 202 replies (default 1)");
  app.add_option("--registrations-per-minute", registrations_per_minute,
                 "DPS quota: register requests the whole instance accepts in any 60 s (DPS: 1000; default off)")
      ->check(CLI::Range(1u, max_rate_limit));
  app.add_option("--polls-per-device", polls_per_device,
                 "DPS quota: status polls one device may make, N/SECONDS (DPS: 5/10; default off)");
  app.add_option("--stats-interval", stats_interval, "seconds between counter lines in the log, 0 = only at exit (default 10)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (default info)");
  CLI11_PARSE(app, argc, argv);

  Settings settings;
  settings.cert_dir = default_cert_dir();
  if (!config_file.empty()) apply_config_file(settings, read_text(config_file, "configuration file"), config_file);
  auto endpoint_flag = [](const std::string& text, Endpoint& out, const char* flag) {
    if (text.empty()) return;
    auto parsed = parse_endpoint(text);
    if (!parsed) throw std::runtime_error(std::string(flag) + " '" + text + "': expected ADDRESS:PORT, e.g. 127.0.0.1:8443");
    out = *parsed;
  };
  endpoint_flag(https, settings.https, "--https");
  endpoint_flag(mqtt, settings.mqtt, "--mqtt");
  endpoint_flag(admin, settings.admin, "--admin");
  if (!id_scope.empty()) settings.service.id_scope = id_scope;
  if (!enrollments_file.empty()) settings.enrollments_file = enrollments_file;
  if (!cert_dir.empty()) settings.cert_dir = cert_dir;
  if (!state_file.empty()) settings.state_file = state_file;
  if (!hubs.empty()) settings.service.iot_hubs = hubs;
  if (!policy.empty()) {
    auto parsed = parse_allocation_policy(policy);
    if (!parsed) throw std::runtime_error("--allocation-policy '" + policy + "': use hashed, static, custom or geoLatency");
    settings.service.default_policy = *parsed;
  }
  if (assigning_polls) settings.service.assigning_polls = *assigning_polls;
  if (assigning_seconds) settings.service.assigning_time = std::chrono::seconds(*assigning_seconds);
  if (retry_after) settings.service.retry_after_seconds = *retry_after;
  if (!log_level.empty()) settings.log_level = log_level;
  if (registrations_per_minute) settings.quotas.registrations = RateLimit{*registrations_per_minute, std::chrono::seconds(60)};
  if (!polls_per_device.empty()) {
    auto limit = parse_rate_limit(polls_per_device);
    if (!limit) throw std::runtime_error("--polls-per-device '" + polls_per_device + "': expected N/SECONDS, e.g. 5/10 (DPS's limit)");
    settings.quotas.polls_per_device = limit;
  }
  if (stats_interval) settings.stats_interval = std::chrono::seconds(*stats_interval);

  auto logger = spdlog::stderr_color_mt("dps-emulator");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(settings.log_level));
  spdlog::flush_on(spdlog::level::info);

  ProvisioningService service(settings.service);
  if (settings.state_file && fs::exists(*settings.state_file)) {
    auto state = nlohmann::json::parse(read_text(*settings.state_file, "state file"), nullptr, false);
    if (state.is_discarded())
      throw std::runtime_error("the state file " + settings.state_file->string() + " is not JSON; move it away to start afresh");
    service.restore(state);
    spdlog::info("state restored from {}", settings.state_file->string());
  }
  if (!config_file.empty()) apply_enrollments(service, settings.enrollments, settings.groups, config_file);
  if (settings.enrollments_file) {
    auto file = parse_enrollment_file(read_text(*settings.enrollments_file, "enrollment file"), settings.enrollments_file->string());
    apply_enrollments(service, file.enrollments, file.groups, settings.enrollments_file->string());
  }
  if (settings.state_file) {
    fs::path path = *settings.state_file;
    service.set_on_change([&service, path] { write_state(path, service.snapshot().dump(1)); });
    write_state(path, service.snapshot().dump(1));
  }

  CertificatePaths certs = ensure_certificates(settings.cert_dir);
  std::cout << "dps-emulator: test CA certificate: " << certs.ca_certificate.string()
            << (certs.generated ? " (generated now)" : "") << std::endl;

  asio::io_context io;
  FaultTable faults;
  DeviceGate gate(GateOptions{.quotas = settings.quotas});
  ChangeSignal changes(io.get_executor());
  gate.set_on_count([&changes] { changes.notify(); });
  auto tls = make_server_tls_context(certs.server_certificate.string(), certs.server_key.string());
  HttpServerOptions device_options;
  device_options.drop_connection = [&gate] { return gate.drop_connection(Transport::https); };
  HttpServer device(io, tcp_endpoint(settings.https, "--https"), tls, make_device_handler(service, faults, gate), &faults,
                    device_options);
  MqttServer mqtt_server(io, tcp_endpoint(settings.mqtt, "--mqtt"), tls, service, faults, gate);
  AdminInfo info{settings.https.text(), settings.mqtt.text(), settings.admin.text(), certs.ca_certificate.string()};
  HttpServer admin_server(io, tcp_endpoint(settings.admin, "--admin"), nullptr,
                          make_admin_handler(service, faults, gate, changes, info), nullptr, HttpServerOptions{"admin", 1024 * 1024});
  if (settings.quotas.registrations || settings.quotas.polls_per_device) {
    spdlog::info("quotas: registrations {}, polls per device {}",
                 settings.quotas.registrations ? std::to_string(settings.quotas.registrations->limit) + " per 60 s" : "off",
                 settings.quotas.polls_per_device ? to_string(*settings.quotas.polls_per_device) + " s" : "off");
  }
  asio::steady_timer count_lines(io);
  if (settings.stats_interval.count() > 0)
    schedule_count_lines(count_lines, gate, settings.stats_interval, std::make_shared<std::pair<TrafficCounts, ConnectionCounts>>());
  std::cout << "dps-emulator: ID scope " << settings.service.id_scope << "; HTTPS " << settings.https.text() << ", MQTT "
            << settings.mqtt.text() << ", admin http://" << settings.admin.text() << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    spdlog::info("stopping");
    log_counts(gate);
    count_lines.cancel();
    device.stop();
    mqtt_server.stop();
    admin_server.stop();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "dps-emulator: " << e.what() << std::endl;
    return 1;
  }
}
