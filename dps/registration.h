// dps/registration.h — one DPS registration attempt, from the first request to `assigned` or a failure,
// over HTTPS or MQTT and for every attestation (docs/dps-protocol.md §1, §2, §3, §6): the TPM challenge
// (401 → the challenge key loaded, transient → signed PUT), the polls while DPS says `assigning`
// (Retry-After honoured, the SAS re-minted before it expires) and, only once assigned, the hub key made the
// device's persisted key. It never retries a failed attempt (the Provisioner owns the backoff between
// attempts), never touches the TPM itself (a Credential does), never logs a key, a token or a blob.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "common/time.h"
#include "dps/error.h"
#include "dps/https_transport.h"
#include "dps/mqtt_transport.h"
#include "dps/reply.h"
#include "dps/request.h"
#include "dps/sas.h"
#include "dps/transport.h"
#include "dps/vocabulary.h"

namespace edgeprov::dps {

// ---- What the device proves itself with --------------------------------------------------------------

// Which key a signature uses (docs/dps-protocol.md §5.9). Every signing request names one, so the key a
// hub token is signed with never depends on what an attempt in flight has done.
//
// The device's key, the one that lasts: the symmetric device key, or the TPM's key persisted at the auth
// handle — the hub key of the assignment the device serves. identity.* signs with it, and so do the DPS
// requests of a symmetric-key device.
struct DeviceKey {};
// TPM only: a key DPS sent during one attempt, loaded into the TPM as a transient object by
// Credential::async_load_key. The 401 challenge's key signs that attempt's DPS requests and nothing else.
struct AttemptKey {
  std::uint64_t id = 0;
  friend bool operator==(const AttemptKey&, const AttemptKey&) = default;
};
using SigningKey = std::variant<DeviceKey, AttemptKey>;

// Implemented by the service: the TPM (through tpm::Worker), a symmetric key (software HMAC), or X.509
// (nothing to sign: the TLS client certificate proves the device). Completion handlers may be called on
// any thread; the Registration posts them to its executor. A failure is an Error of kind tpm (its cause
// the tpm::Error) or config.
class Credential {
 public:
  virtual ~Credential() = default;
  virtual AttestationMethod method() const = 0;
  // TPM: the EK and SRK public areas for the request body. std::nullopt for the others.
  virtual std::optional<TpmKeys> tpm_keys() const = 0;

  using SignDone = std::function<void(std::variant<Sha256Digest, Error>)>;
  // HMAC-SHA-256 of `data` with `key`. Not called for X.509.
  virtual void async_sign(SigningKey key, std::string data, SignDone done) = 0;

  // TPM only (the others answer a config failure); the attempt's key lifecycle, in this order:
  //  - async_load_key: a DPS key blob (the 401 challenge's authenticationKey, or the hub key of
  //    registrationState.tpm.authenticationKey) becomes a transient AttemptKey. Nothing persisted changes.
  //  - async_persist_key, only once DPS assigned the device: the key becomes the device's key, replacing
  //    the one persisted before; the transient object is flushed.
  //  - release_key, for a key the attempt no longer needs (it failed, was cancelled, or the hub key replaces
  //    the challenge key): flushed. Never waits and never fails.
  // A key the TPM lost meanwhile (connection reset, TPM restart) fails signing and persisting with a
  // tpm::Error of kind transient_key_lost: a transient failure, and the next attempt gets a new challenge.
  using LoadDone = std::function<void(std::variant<AttemptKey, Error>)>;
  virtual void async_load_key(Bytes blob, LoadDone done) = 0;
  using PersistDone = std::function<void(std::optional<Error>)>;
  virtual void async_persist_key(AttemptKey key, PersistDone done) = 0;
  virtual void release_key(AttemptKey key) = 0;
};

// ---- How requests travel -----------------------------------------------------------------------------

// A DPS reply as a transport delivered it, before it is interpreted.
struct ChannelReply {
  int status = 0;
  std::string retry_after;   // HTTP header or MQTT topic property, as sent
  std::string content_type;  // HTTPS only ("" over MQTT: the body is always JSON there)
  std::string body;
};
using ChannelResult = std::variant<ChannelReply, TransportError>;
using ChannelHandler = std::function<void(ChannelResult)>;

// The two requests of the protocol, whatever carries them. `sas` is the DPS SAS token (symmetric key,
// and the TPM's signed requests); std::nullopt for X.509 and for the TPM's first, unsigned PUT.
// Handlers run on the transport's executor.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual void async_register(std::string body, std::optional<Secret> sas, ChannelHandler handler) = 0;
  virtual void async_operation_status(std::string operation_id, std::string body, std::optional<Secret> sas,
                                      ChannelHandler handler) = 0;
  virtual void close() = 0;
  virtual Transport transport() const = 0;
};

// HTTPS: PUT register_path / GET operation_status_path with standard_headers(user_agent) and the SAS as
// Authorization.
std::unique_ptr<Channel> make_https_channel(std::shared_ptr<HttpsTransport> transport, std::string id_scope,
                                            std::string registration_id, std::string user_agent);
// MQTT: the SAS becomes the CONNECT password (set_password) before each request that carries one.
std::unique_ptr<Channel> make_mqtt_channel(std::shared_ptr<MqttTransport> transport);

// ---- One attempt -------------------------------------------------------------------------------------

struct RegistrationRequest {
  std::string id_scope;
  std::string registration_id;
  std::optional<nlohmann::json> payload;  // sent as "payload" (custom allocation data)
  // The SAS resource and style: dps_resource_uri(id_scope, registration_id), SasStyle::c_sdk_dps.
  std::chrono::seconds sas_lifetime = dps_sas_lifetime;
  // Bound on the number of status polls of one attempt (DPS assigns within seconds; a server that says
  // `assigning` for ever must not hold the attempt for ever). Exceeding it is a transient failure.
  unsigned max_polls = 60;
};

// An assignment, or why there is none: an Error of kind dps (DPS answered no), network (no answer),
// tpm, or config, whose `transient` says whether the Provisioner retries with backoff.
using RegistrationOutcome = std::variant<Assigned, Error>;
using RegistrationHandler = std::function<void(RegistrationOutcome)>;

// Counters of one attempt, for logs and bench/provision.
struct RegistrationTrace {
  unsigned requests = 0;                // register PUTs and status polls sent
  unsigned polls = 0;
  unsigned sas_minted = 0;
  bool tpm_challenge = false;
};

// How the attempt waits before a status poll: call `resume` once `delay` has passed. Empty (the default):
// an Asio steady_timer on the executor. Unit tests pass their own to see each wait without sleeping.
// After cancel() a late `resume` is ignored.
using PollWait = std::function<void(std::chrono::seconds delay, std::function<void()> resume)>;

class Registration : public std::enable_shared_from_this<Registration> {
 public:
  // Starts the attempt at once. `done` is called exactly once on `executor` — with the outcome, or with a
  // network Error (TransportErrorKind::closed) after cancel(). Channel and Credential must
  // outlive the attempt, and the Credential its late completions too (a TPM key that finishes loading after
  // cancel() is released through it). `now` is the clock for SAS expiry and Retry-After dates (empty: the system
  // clock; unit tests pass their own). Dropping the returned handle does not stop the attempt.
  static std::shared_ptr<Registration> start(boost::asio::any_io_executor executor, Channel& channel,
                                             Credential& credential, RegistrationRequest request,
                                             RegistrationHandler done,
                                             std::function<SystemTime()> now = {}, PollWait poll_wait = {});
  // Stops waiting (a poll timer, a request in flight) and completes with a `closed` failure; a TPM key
  // loaded for the attempt is released, and the persisted key stays as it was unless it was already being
  // replaced.
  void cancel();
  RegistrationTrace trace() const;

  class Impl;
  ~Registration();

 private:
  explicit Registration(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgeprov::dps
