// bench/emulator — how fast dps-emulator answers: symmetric-key registrations per second (register PUT +
// status GET, each device with its own SAS, over HTTPS keep-alive connections on loopback), TPM challenges per
// second (blob building alone, and full 401 round trips over HTTPS), and what the quota model and the device gate
// cost per request. Prints figures; never asserts a speed. The server runs on its own thread with its own
// io_context, the clients on others.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <spdlog/spdlog.h>

#include "common/crypto.h"
#include "common/encoding.h"
#include "dps/sas.h"
#include "emulator/certificates.h"
#include "emulator/device_api.h"
#include "emulator/device_gate.h"
#include "emulator/faults.h"
#include "emulator/http_server.h"
#include "emulator/provisioning_service.h"
#include "emulator/quota.h"
#include "emulator/tpm_challenge.h"

namespace {

using namespace edgeprov;
using namespace edgeprov::emulator;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

const std::string scope = "0ne00BENCH0";
const std::string group_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

// An RSA-2048 key in the EK template's TPM2B_PUBLIC layout (docs/dps-protocol.md §5.3).
Bytes rsa_tpm2b_public(std::uint32_t attributes) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  BIGNUM* n = nullptr;
  EVP_PKEY_get_bn_param(key, "n", &n);
  Bytes modulus(256);
  BN_bn2binpad(n, modulus.data(), 256);
  BN_free(n);
  EVP_PKEY_free(key);
  Bytes area{0x00, 0x01, 0x00, 0x0B};
  for (int shift : {24, 16, 8, 0}) area.push_back(static_cast<std::uint8_t>(attributes >> shift));
  area.insert(area.end(), {0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x10, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00});
  area.insert(area.end(), modulus.begin(), modulus.end());
  Bytes out{static_cast<std::uint8_t>(area.size() >> 8), static_cast<std::uint8_t>(area.size())};
  out.insert(out.end(), area.begin(), area.end());
  return out;
}

struct Client {
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> stream;
  beast::flat_buffer buffer;

  Client(const std::filesystem::path& ca, unsigned short port) {
    tls.load_verify_file(ca.string());
    tls.set_verify_mode(asio::ssl::verify_peer);
    stream = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(io, tls);
    SSL_set_tlsext_host_name(stream->native_handle(), "localhost");
    stream->set_verify_callback(asio::ssl::host_name_verification("localhost"));
    asio::ip::tcp::resolver resolver(io);
    asio::connect(stream->next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
    stream->next_layer().set_option(asio::ip::tcp::no_delay(true));
    stream->handshake(asio::ssl::stream_base::client);
  }

  http::response<http::string_body> call(http::verb verb, const std::string& target, const std::string& authorization,
                                         const std::string& body) {
    http::request<http::string_body> request{verb, target, 11};
    request.set(http::field::host, "localhost");
    request.set(http::field::content_type, "application/json; charset=utf-8");
    if (!authorization.empty()) request.set(http::field::authorization, authorization);
    request.keep_alive(true);
    request.body() = body;
    request.prepare_payload();
    http::write(*stream, request);
    http::response<http::string_body> response;
    http::read(*stream, buffer, response);
    return response;
  }
};

}  // namespace

int main(int argc, char** argv) {
  int devices = argc > 1 ? std::atoi(argv[1]) : 20000;
  int connections = argc > 2 ? std::atoi(argv[2]) : 4;
  int challenges = argc > 3 ? std::atoi(argv[3]) : 2000;
  spdlog::set_level(spdlog::level::warn);

  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("emulator-bench-" + std::to_string(::getpid()));
  auto certs = ensure_certificates(dir);

  ServiceOptions options;
  options.id_scope = scope;
  options.iot_hubs = {"hub-a.azure-devices.net", "hub-b.azure-devices.net"};
  ProvisioningService service(options);
  service.put_group("bench-group", {{"attestation", {{"type", "symmetricKey"}, {"symmetricKey", {{"primaryKey", group_key}, {"secondaryKey", group_key}}}}}});
  Bytes ek = rsa_tpm2b_public(0x000300B2), srk = rsa_tpm2b_public(0x00030472);
  for (int i = 0; i < connections; ++i) {
    service.put_enrollment("tpm-bench-" + std::to_string(i),
                           {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", base64_encode(ek)}}}}}});
  }

  asio::io_context server_io;
  FaultTable faults;
  DeviceGate gate;  // no quota, no outage: the figure is the service's (the counters are on, as in the emulator)
  auto tls = make_server_tls_context(certs.server_certificate.string(), certs.server_key.string());
  HttpServer server(server_io, {asio::ip::make_address("127.0.0.1"), 0}, tls, make_device_handler(service, faults, gate), &faults);
  unsigned short port = server.local_endpoint().port();
  std::thread server_thread([&] { server_io.run(); });

  // Tokens are minted before timing: the figure is the emulator's, not the client's HMAC speed.
  struct Device { std::string id, token; };
  std::vector<Device> fleet;
  auto expiry = dps::sas_expiry(std::chrono::system_clock::now(), std::chrono::hours(1));
  for (int i = 0; i < devices; ++i) {
    std::string id = "bench-device-" + std::to_string(i);
    auto key = dps::derive_group_device_key(Secret(group_key), id);
    dps::SasParams params{dps::dps_resource_uri(scope, id), expiry, "registration", dps::SasStyle::c_sdk_dps};
    fleet.push_back({id, dps::make_sas_token(params, dps::software_signer(*base64_decode(key->reveal()))).reveal()});
  }

  std::atomic<int> next{0}, failures{0};
  auto started = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < connections; ++c) {
    clients.emplace_back([&] {
      Client client(certs.ca_certificate, port);
      for (int i = next++; i < devices; i = next++) {
        const auto& d = fleet[static_cast<std::size_t>(i)];
        std::string base = "/" + scope + "/registrations/" + d.id;
        auto put = client.call(http::verb::put, base + "/register?api-version=2021-06-01", d.token,
                               R"({"registrationId":")" + d.id + R"("})");
        if (put.result_int() != 202) { ++failures; continue; }
        std::string op = nlohmann::json::parse(put.body())["operationId"];
        auto poll = client.call(http::verb::get, base + "/operations/" + op + "?api-version=2021-06-01", d.token, "");
        if (poll.result_int() != 200) ++failures;
      }
    });
  }
  for (auto& t : clients) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("symmetric-key registrations over HTTPS keep-alive: %d devices, %d connections, %.2f s\n", devices, connections, seconds);
  std::printf("  %.0f registrations/s (%.0f requests/s), %d failures\n", devices / seconds, 2 * devices / seconds, failures.load());

  // TPM: the blob alone (two RSA-OAEP encryptions, KDFs, AES, HMACs) on one thread.
  auto ek_public = tpm::parse_rsa_public(ek);
  auto srk_public = tpm::parse_rsa_public(srk);
  started = Clock::now();
  std::size_t bytes = 0;
  for (int i = 0; i < challenges; ++i) bytes += tpm::build_activation_blob(*ek_public, *srk_public, tpm::ChallengeRandomness::generate()).size();
  seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("TPM challenge blobs built (one thread): %d in %.2f s: %.0f/s (%zu bytes each)\n", challenges, seconds,
              challenges / seconds, bytes / static_cast<std::size_t>(challenges));

  // TPM: full 401 round trips over HTTPS.
  next = 0;
  failures = 0;
  started = Clock::now();
  clients.clear();
  std::string body_template = nlohmann::json{{"tpm", {{"endorsementKey", base64_encode(ek)}, {"storageRootKey", base64_encode(srk)}}}}.dump();
  for (int c = 0; c < connections; ++c) {
    clients.emplace_back([&, c] {
      Client client(certs.ca_certificate, port);
      std::string id = "tpm-bench-" + std::to_string(c);
      for (int i = next++; i < challenges; i = next++) {
        auto reply = client.call(http::verb::put, "/" + scope + "/registrations/" + id + "/register?api-version=2021-06-01", "", body_template);
        if (reply.result_int() != 401) ++failures;
      }
    });
  }
  for (auto& t : clients) t.join();
  seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("TPM challenges over HTTPS (401 with blob): %d in %.2f s: %.0f/s, %d failures\n", challenges, seconds, challenges / seconds,
              failures.load());

  // What deciding costs per request, on one thread: DPS's quota model alone on a virtual clock (as a simulation
  // drives it), and the emulator's gate around it (lock, outage check, counters per registration id). 100,000
  // devices, each a register request and two polls 1 ms of virtual time apart, under DPS's limits.
  const int modelled = 100000;
  const QuotaSettings dps_limits{RateLimit{1000, std::chrono::seconds(60)}, RateLimit{5, std::chrono::seconds(10)}};
  std::vector<std::string> ids;
  for (int i = 0; i < modelled; ++i) ids.push_back("fleet-device-" + std::to_string(i));
  constexpr RequestKind kinds[] = {RequestKind::register_device, RequestKind::operation_status, RequestKind::operation_status};
  QuotaModel model(dps_limits);
  AdmissionTime virtual_now{};
  std::size_t throttled = 0;
  started = Clock::now();
  for (const auto& id : ids) {
    for (RequestKind kind : kinds) {
      virtual_now += std::chrono::milliseconds(1);
      throttled += std::holds_alternative<Throttled>(model.admit(id, kind, virtual_now)) ? 1 : 0;
    }
  }
  seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("quota model (virtual clock): %d requests in %.3f s: %.0f/s (%zu throttled)\n", 3 * modelled, seconds,
              3 * modelled / seconds, throttled);

  virtual_now = AdmissionTime{};
  DeviceGate modelled_gate(GateOptions{.quotas = dps_limits, .clock = [&virtual_now] { return virtual_now; }});
  throttled = 0;
  started = Clock::now();
  for (const auto& id : ids) {
    for (RequestKind kind : kinds) {
      virtual_now += std::chrono::milliseconds(1);
      throttled += std::holds_alternative<Answer>(modelled_gate.admit(Transport::https, kind, id)) ? 1 : 0;
    }
  }
  seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("device gate (quotas, counters): %d requests in %.3f s: %.0f/s (%zu throttled)\n", 3 * modelled, seconds,
              3 * modelled / seconds, throttled);

  server.stop();
  server_io.stop();
  server_thread.join();
  std::filesystem::remove_all(dir);
  return failures.load() == 0 ? 0 : 1;
}
