// service/provisioner_ports.h — the Provisioner's ports as edgeprovd runs them: the io_context's timer and
// clocks, the TPM (through tpm::Worker) or the configured identity, DPS attempts over HTTPS or MQTT
// (dps::Registration on a channel built from the configuration), provisioning.json, and the StatusBoard.
// Unit tests replace each of them; integration tests run these.
#pragma once
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dps/https_transport.h"
#include "dps/mqtt_transport.h"
#include "dps/registration.h"
#include "edge-config/config.h"
#include "service/credentials.h"
#include "service/provisioner.h"
#include "service/state_store.h"
#include "service/status.h"
#include "tpm/worker.h"

namespace edgeprov::service {

class AsioClock final : public Clock {
 public:
  explicit AsioClock(boost::asio::any_io_executor executor);
  SteadyTime steady_now() override;
  SystemTime system_now() override;
  double unit_random() override;
  void arm(SteadyTime at, std::function<void()> fire) override;
  void cancel() override;

 private:
  boost::asio::steady_timer timer_;
  std::mt19937_64 random_;
  std::uint64_t generation_ = 0;
};

// attestation tpm: the TPM's EK and SRK through the worker; the registration id is the configured one or
// the one derived from the EK.
class TpmIdentity final : public IdentitySource {
 public:
  TpmIdentity(tpm::Worker& worker, boost::asio::any_io_executor executor, std::optional<std::string> configured_id);
  void async_read(std::function<void(std::variant<ResolvedIdentity, dps::Error>)> done) override;
  // Signing needs only the persisted key, not the EK: the credential serves a cached identity at once.
  DeviceCredential* credential() override { return &credential_; }

 private:
  tpm::Worker& worker_;
  boost::asio::any_io_executor executor_;
  std::optional<std::string> configured_id_;
  TpmCredential credential_;
};

// symmetric_key and x509: the registration id and the key (or certificate) the configuration names. A
// problem with them is a config error: it needs the file fixed, not waiting.
class ConfiguredIdentity final : public IdentitySource {
 public:
  explicit ConfiguredIdentity(const config::Config& config) : config_(config) {}
  void async_read(std::function<void(std::variant<ResolvedIdentity, dps::Error>)> done) override;
  DeviceCredential* credential() override { return credential_.get(); }

 private:
  const config::Config& config_;
  std::unique_ptr<DeviceCredential> credential_;
};

class DpsAttempts final : public AttemptRunner {
 public:
  DpsAttempts(const config::Config& config, boost::asio::any_io_executor executor)
      : config_(config), executor_(std::move(executor)) {}
  ~DpsAttempts() override;
  void start(const std::string& registration_id, DeviceCredential& credential,
             std::function<void(dps::RegistrationOutcome)> done) override;
  void cancel() override;

 private:
  std::optional<dps::Error> prepare_channel(const std::string& registration_id);

  const config::Config& config_;
  boost::asio::any_io_executor executor_;
  std::string channel_registration_id_;
  std::shared_ptr<dps::HttpsTransport> https_;
  std::shared_ptr<dps::MqttTransport> mqtt_;
  std::unique_ptr<dps::Channel> channel_;
  std::shared_ptr<dps::Registration> registration_;
};

class StoreStorage final : public StateStorage {
 public:
  explicit StoreStorage(std::filesystem::path dir) : store_(std::move(dir)) {}
  std::optional<PersistedState> peek() override { return store_.peek(); }
  std::optional<PersistedState> load(const PersistedSettings& expected) override { return store_.load(expected); }
  void save(const PersistedState& state) override;

 private:
  StateStore store_;
};

class BoardSink final : public StatusSink {
 public:
  explicit BoardSink(StatusBoard& board) : board_(board) {}
  void publish(StatusSnapshot snapshot) override { board_.publish(std::move(snapshot)); }

 private:
  StatusBoard& board_;
};

// All five, as edgeprovd wires them for a configuration.
class DaemonPorts {
 public:
  DaemonPorts(const config::Config& config, boost::asio::any_io_executor executor, StatusBoard& board,
              tpm::Worker& tpm);
  ProvisionerPorts ports() { return {clock_, *identity_, attempts_, storage_, sink_}; }

 private:
  AsioClock clock_;
  std::unique_ptr<IdentitySource> identity_;
  DpsAttempts attempts_;
  StoreStorage storage_;
  BoardSink sink_;
};

}  // namespace edgeprov::service
