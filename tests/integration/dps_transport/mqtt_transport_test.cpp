#include <chrono>
#include <cstdlib>
#include <fstream>

#include <boost/asio/io_context.hpp>
#include <catch2/catch_test_macros.hpp>

#include "dps/mqtt_transport.h"
#include "tests/integration/dps_transport/mosquitto.h"
#include "tests/integration/dps_transport/test_pki.h"
#include "tests/integration/dps_transport/transport_test_util.h"
#include "tests/support/process.h"

using namespace edgeprov;
using namespace edgeprov::dps;
using namespace edgeprov::test;
using namespace std::chrono_literals;

namespace {

const std::string device_user = "0ne00ABC123/registrations/device-001/api-version=2021-06-01&ClientVersion=1.15.0";
const std::string device_password = "SharedAccessSignature sr=0ne00ABC123%2fregistrations%2fdevice-001&sig=mqtt-s3cret";
const std::pair<std::string, std::string> responder_login{"dps-responder", "responder-password"};
const std::string register_json = R"({"registrationId":"device-001"})";
const std::string assigning_body = R"({"operationId":"op-1","status":"assigning"})";
const std::string assigned_body = R"({"operationId":"op-1","status":"assigned","registrationState":{}})";

// DPS's answers: 202 + retry-after 3 to a register, 200 to a status request.
std::vector<Publication> dps_answers(const std::string& topic, const std::string&) {
  const auto rid = DpsResponder::request_id(topic);
  if (topic.starts_with("$dps/registrations/PUT/")) {
    return {{"$dps/registrations/res/202/?$rid=" + rid + "&retry-after=3", assigning_body}};
  }
  return {{"$dps/registrations/res/200/?$rid=" + rid, assigned_body}};
}

struct Fixture {
  TempDir dir;
  TestPki pki = make_test_pki(dir.path());
  boost::asio::io_context io;

  MosquittoOptions broker_options(CertKey identity) const {
    return MosquittoOptions{.ca = pki.ca,
                            .identity = std::move(identity),
                            .users = {{device_user, device_password}, responder_login}};
  }

  MqttSettings settings(unsigned short port, std::string host = "127.0.0.1") const {
    MqttSettings s;
    s.server = Endpoint{std::move(host), port};
    s.tls.trusted_ca = pki.ca;
    s.id_scope = "0ne00ABC123";
    s.registration_id = "device-001";
    s.password = Secret(device_password);
    s.client_version = "1.15.0";
    s.timeout = 10s;
    return s;
  }

  std::shared_ptr<MqttTransport> transport(MqttSettings s) {
    auto created = MqttTransport::create(io.get_executor(), std::move(s));
    if (auto* error = std::get_if<TransportError>(&created)) FAIL(error->message);
    return std::get<std::shared_ptr<MqttTransport>>(created);
  }

  MqttResult do_register(MqttTransport& transport) {
    std::optional<MqttResult> result;
    transport.async_register(register_json, [&](MqttResult r) { result = std::move(r); });
    return run_until(io, result);
  }

  MqttResult poll(MqttTransport& transport, const std::string& operation_id) {
    std::optional<MqttResult> result;
    transport.async_operation_status(operation_id, register_json, [&](MqttResult r) { result = std::move(r); });
    return run_until(io, result);
  }
};

MqttReply reply(const MqttResult& result) {
  if (const auto* error = std::get_if<TransportError>(&result)) FAIL(error->message);
  return std::get<MqttReply>(result);
}

TransportError error(const MqttResult& result) {
  REQUIRE(std::holds_alternative<TransportError>(result));
  return std::get<TransportError>(result);
}

}  // namespace

TEST_CASE("register and status requests go out on the DPS topics and replies come back by $rid") {
  Fixture f;
  Mosquitto broker(f.dir.path(), f.broker_options(f.pki.server));
  DpsResponder dps(broker.plain_port(), responder_login, dps_answers);
  auto transport = f.transport(f.settings(broker.tls_port()));

  const auto registered = reply(f.do_register(*transport));
  CHECK(registered.status == 202);
  CHECK(registered.retry_after == "3");
  CHECK(registered.body == assigning_body);

  const auto polled = reply(f.poll(*transport, "op-1"));
  CHECK(polled.status == 200);
  CHECK(polled.retry_after.empty());
  CHECK(polled.body == assigned_body);

  const auto seen = dps.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].topic == "$dps/registrations/PUT/iotdps-register/?$rid=1");
  CHECK(seen[0].payload == register_json);
  CHECK(seen[1].topic == "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=op-1");
}

TEST_CASE("the broker sees the registration id as client id and the DPS user name in a clean MQTT 3.1.1 session") {
  Fixture f;
  Mosquitto broker(f.dir.path(), f.broker_options(f.pki.server));
  DpsResponder dps(broker.plain_port(), responder_login, dps_answers);
  auto transport = f.transport(f.settings(broker.tls_port()));
  reply(f.do_register(*transport));
  const auto log = broker.log();
  INFO(log);
  // mosquitto logs "as <client id> (p<protocol>, c<clean session>, k<keepalive>, u'<user name>')";
  // p2 is MQTT 3.1.1. The password file accepted the SAS token as password.
  CHECK(log.find("as device-001 (p2, c1, k60, u'" + device_user + "')") != std::string::npos);
  CHECK(log.find(device_password) == std::string::npos);
}

TEST_CASE("a reply for another $rid is not delivered to the waiting request") {
  Fixture f;
  Mosquitto broker(f.dir.path(), f.broker_options(f.pki.server));
  DpsResponder dps(broker.plain_port(), responder_login, [](const std::string& topic, const std::string&) {
    const auto rid = std::stoi(DpsResponder::request_id(topic));
    return std::vector<Publication>{
        {"$dps/registrations/res/500/?$rid=" + std::to_string(rid + 100), "{}"},
        {"$dps/registrations/res/429/?$rid=" + std::to_string(rid) + "&retry-after=7", "{}"}};
  });
  auto transport = f.transport(f.settings(broker.tls_port()));
  const auto result = reply(f.do_register(*transport));
  CHECK(result.status == 429);
  CHECK(result.retry_after == "7");
}

TEST_CASE("an MQTT request without an answer times out after the configured timeout") {
  Fixture f;
  Mosquitto broker(f.dir.path(), f.broker_options(f.pki.server));
  DpsResponder dps(broker.plain_port(), responder_login,
                   [](const std::string&, const std::string&) { return std::vector<Publication>{}; });
  auto settings = f.settings(broker.tls_port());
  // Long enough for Paho to connect on a busy machine; the reply wait is then bounded by the same value.
  settings.timeout = 3s;
  auto transport = f.transport(settings);
  const auto start = std::chrono::steady_clock::now();
  const auto e = error(f.do_register(*transport));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  INFO(e.message);
  CHECK(e.kind == TransportErrorKind::timeout);
  CHECK(e.transient);
  CHECK(e.message.find("did not answer the MQTT request within 3 s") != std::string::npos);
  CHECK(elapsed >= 3s);
  CHECK(elapsed < 20s);
  CHECK(dps.requests().size() == 1);
}

TEST_CASE("a dropped MQTT connection fails the waiting request as closed and the next request reconnects") {
  Fixture f;
  Mosquitto broker(f.dir.path(), f.broker_options(f.pki.server));
  std::atomic<bool> answer{false};
  DpsResponder dps(broker.plain_port(), responder_login, [&](const std::string& topic, const std::string& body) {
    return answer ? dps_answers(topic, body) : std::vector<Publication>{};
  });
  auto transport = f.transport(f.settings(broker.tls_port()));
  std::optional<MqttResult> result;
  transport->async_register(register_json, [&](MqttResult r) { result = std::move(r); });
  // Wait until the request reached the broker, then kick the client off by connecting with its client id.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (dps.requests().empty() && std::chrono::steady_clock::now() < deadline) f.io.run_one_for(50ms);
  REQUIRE(dps.requests().size() == 1);
  {
    mqtt::async_client intruder("tcp://127.0.0.1:" + std::to_string(broker.plain_port()), "device-001",
                                static_cast<mqtt::iclient_persistence*>(nullptr));
    mqtt::connect_options options;
    options.set_user_name(responder_login.first);
    options.set_password(responder_login.second);
    intruder.connect(options)->wait();
    intruder.disconnect()->wait();
  }
  const auto& e = error(run_until(f.io, result));
  CHECK(e.kind == TransportErrorKind::closed);
  CHECK(e.transient);
  answer = true;
  CHECK(reply(f.do_register(*transport)).status == 202);
}

TEST_CASE("a wrong MQTT password is refused and retrying with it cannot help") {
  Fixture f;
  Mosquitto broker(f.dir.path(), f.broker_options(f.pki.server));
  auto settings = f.settings(broker.tls_port());
  settings.password = Secret("SharedAccessSignature sr=x&sig=wrong-s3cret");
  auto transport = f.transport(settings);
  LogCapture logs;
  const auto& e = error(f.do_register(*transport));
  CHECK(e.kind == TransportErrorKind::refused);
  CHECK_FALSE(e.transient);
  CHECK(e.message.find("device-001") != std::string::npos);
  CHECK(e.message.find("wrong-s3cret") == std::string::npos);
  CHECK(logs.text().find("wrong-s3cret") == std::string::npos);
}

TEST_CASE("a broker certificate from an untrusted CA fails MQTT certificate verification") {
  Fixture f;
  Mosquitto broker(f.dir.path(), f.broker_options(f.pki.untrusted_server));
  auto transport = f.transport(f.settings(broker.tls_port()));
  const auto& e = error(f.do_register(*transport));
  CHECK(e.kind == TransportErrorKind::certificate_verification);
  CHECK_FALSE(e.transient);
  CHECK(e.message.find("set [edgeprov.dps] trusted_ca") != std::string::npos);
  CHECK(broker.log().find("device-001") == std::string::npos);  // no MQTT CONNECT reached the broker
}

TEST_CASE("a broker certificate for another host name fails MQTT host name verification") {
  Fixture f;
  Mosquitto broker(f.dir.path(), f.broker_options(f.pki.wrong_name));
  auto transport = f.transport(f.settings(broker.tls_port()));
  const auto& e = error(f.do_register(*transport));
  CHECK(e.kind == TransportErrorKind::certificate_verification);
  CHECK(e.message.find("not issued for \"127.0.0.1\"") != std::string::npos);
  CHECK(broker.log().find("as device-001") == std::string::npos);  // Paho stopped before CONNECT
}

TEST_CASE("a refused MQTT connection is a transient connect error naming host and port") {
  Fixture f;
  const auto port = free_loopback_port();
  auto transport = f.transport(f.settings(port));
  const auto& e = error(f.do_register(*transport));
  CHECK(e.kind == TransportErrorKind::connect);
  CHECK(e.transient);
  CHECK(e.message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("X.509 over MQTT: a broker requiring client certificates accepts the configured one without password") {
  Fixture f;
  auto options = f.broker_options(f.pki.server);
  options.require_certificate = true;
  options.users.clear();  // anonymous: the certificate is the credential
  Mosquitto broker(f.dir.path(), options);
  DpsResponder dps(broker.plain_port(), std::nullopt, dps_answers);

  auto x509 = f.settings(broker.tls_port());
  x509.password.reset();
  x509.tls.client_cert = f.pki.client.cert;
  x509.tls.client_key = f.pki.client.key;
  auto transport = f.transport(x509);
  CHECK(reply(f.do_register(*transport)).status == 202);

  auto anonymous = f.settings(broker.tls_port());
  anonymous.password.reset();
  auto without = f.transport(anonymous);
  const auto& e = error(f.do_register(*without));
  CHECK(e.message.find("client certificate") != std::string::npos);
  CHECK(dps.requests().size() == 1);
}

TEST_CASE("Paho's own trace at its most verbose level never contains the MQTT password") {
  Fixture f;
  const auto trace = f.dir / "paho-trace.log";
  // Paho reads these when its first client is created in this process (each test runs alone under ctest).
  setenv("MQTT_C_CLIENT_TRACE", trace.c_str(), 1);
  setenv("MQTT_C_CLIENT_TRACE_LEVEL", "MAXIMUM", 1);
  {
    Mosquitto broker(f.dir.path(), f.broker_options(f.pki.server));
    DpsResponder dps(broker.plain_port(), responder_login, dps_answers);
    auto transport = f.transport(f.settings(broker.tls_port()));
    CHECK(reply(f.do_register(*transport)).status == 202);
  }
  unsetenv("MQTT_C_CLIENT_TRACE");
  unsetenv("MQTT_C_CLIENT_TRACE_LEVEL");
  const auto text = read_file(trace);
  CHECK(text.find("device-001") != std::string::npos);  // the trace did record this connection
  CHECK(text.find("mqtt-s3cret") == std::string::npos);
  CHECK(text.find("responder-password") == std::string::npos);
}

TEST_CASE("a password set with set_password is used by the next MQTT connection") {
  Fixture f;
  Mosquitto broker(f.dir.path(), f.broker_options(f.pki.server));
  DpsResponder dps(broker.plain_port(), responder_login, dps_answers);
  auto settings = f.settings(broker.tls_port());
  settings.password = Secret("SharedAccessSignature sr=x&sig=expired");
  auto transport = f.transport(settings);
  CHECK(error(f.do_register(*transport)).kind == TransportErrorKind::refused);
  transport->set_password(Secret(device_password));  // e.g. a SAS token minted again before it expired
  CHECK(reply(f.do_register(*transport)).status == 202);
  CHECK(dps.requests().size() == 1);
}
