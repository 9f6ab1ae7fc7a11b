#include "dps/registration.h"

#include <mutex>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace edgeprov::dps {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

long long elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - since).count();
}

// ---- HTTPS ----------------------------------------------------------------------------------------------

class HttpsChannel final : public Channel {
 public:
  HttpsChannel(std::shared_ptr<HttpsTransport> transport, std::string id_scope, std::string registration_id,
               std::string user_agent)
      : transport_(std::move(transport)),
        id_scope_(std::move(id_scope)),
        registration_id_(std::move(registration_id)),
        user_agent_(std::move(user_agent)) {}

  void async_register(std::string body, std::optional<Secret> sas, ChannelHandler handler) override {
    HttpRequest request;
    request.method = HttpMethod::put;
    request.target = register_path(id_scope_, registration_id_);
    request.headers = standard_headers(user_agent_, true);
    request.body = std::move(body);
    request.authorization = std::move(sas);
    send(std::move(request), std::move(handler));
  }

  // The GET carries no body over HTTPS (the C SDK sends an empty one); `body` is for MQTT.
  void async_operation_status(std::string operation_id, std::string /*body*/, std::optional<Secret> sas,
                              ChannelHandler handler) override {
    HttpRequest request;
    request.method = HttpMethod::get;
    request.target = operation_status_path(id_scope_, registration_id_, operation_id);
    request.headers = standard_headers(user_agent_, false);
    request.authorization = std::move(sas);
    send(std::move(request), std::move(handler));
  }

  void close() override { transport_->close(); }
  Transport transport() const override { return Transport::https; }

 private:
  void send(HttpRequest request, ChannelHandler handler) {
    const char* method = request.method == HttpMethod::put ? "PUT" : "GET";
    const bool signed_request = request.authorization.has_value();
    std::string target = request.target;
    spdlog::debug("DPS HTTPS {} {}{}", method, target, signed_request ? " (with a SAS token)" : "");
    transport_->async_request(
        std::move(request), [method, target = std::move(target), started = std::chrono::steady_clock::now(),
                             handler = std::move(handler)](HttpResult result) {
          if (auto* response = std::get_if<HttpResponse>(&result)) {
            spdlog::info("DPS HTTPS {} {} -> {} ({} ms)", method, target, response->status, elapsed_ms(started));
            handler(ChannelReply{response->status, std::move(response->retry_after),
                                 std::move(response->content_type), std::move(response->body)});
          } else {
            auto& error = std::get<TransportError>(result);
            spdlog::info("DPS HTTPS {} {} -> no answer ({}): {}", method, target, to_string(error.kind),
                         error.message);
            handler(std::move(error));
          }
        });
  }

  std::shared_ptr<HttpsTransport> transport_;
  std::string id_scope_, registration_id_, user_agent_;
};

// ---- MQTT -----------------------------------------------------------------------------------------------

ChannelResult from_mqtt(MqttResult result) {
  if (auto* reply = std::get_if<MqttReply>(&result)) {
    return ChannelReply{reply->status, std::move(reply->retry_after), std::string(), std::move(reply->body)};
  }
  return std::get<TransportError>(std::move(result));
}

class MqttChannel final : public Channel {
 public:
  explicit MqttChannel(std::shared_ptr<MqttTransport> transport) : transport_(std::move(transport)) {}

  void async_register(std::string body, std::optional<Secret> sas, ChannelHandler handler) override {
    if (sas) transport_->set_password(std::move(*sas));
    const std::string topic = "$dps/registrations/PUT/iotdps-register/";
    spdlog::debug("DPS MQTT PUBLISH {}", topic);
    transport_->async_register(std::move(body), completion(topic, std::move(handler)));
  }

  void async_operation_status(std::string operation_id, std::string body, std::optional<Secret> sas,
                              ChannelHandler handler) override {
    if (sas) transport_->set_password(std::move(*sas));
    const std::string topic = "$dps/registrations/GET/iotdps-get-operationstatus/?operationId=" + operation_id;
    spdlog::debug("DPS MQTT PUBLISH {}", topic);
    transport_->async_operation_status(std::move(operation_id), std::move(body),
                                       completion(topic, std::move(handler)));
  }

  void close() override { transport_->close(); }
  Transport transport() const override { return Transport::mqtt; }

 private:
  static MqttHandler completion(std::string topic, ChannelHandler handler) {
    return [topic = std::move(topic), started = std::chrono::steady_clock::now(),
            handler = std::move(handler)](MqttResult result) {
      if (auto* reply = std::get_if<MqttReply>(&result)) {
        spdlog::info("DPS MQTT {} -> {} ({} ms)", topic, reply->status, elapsed_ms(started));
      } else {
        const auto& error = std::get<TransportError>(result);
        spdlog::info("DPS MQTT {} -> no answer ({}): {}", topic, to_string(error.kind), error.message);
      }
      handler(from_mqtt(std::move(result)));
    };
  }

  std::shared_ptr<MqttTransport> transport_;
};

}  // namespace

std::unique_ptr<Channel> make_https_channel(std::shared_ptr<HttpsTransport> transport, std::string id_scope,
                                            std::string registration_id, std::string user_agent) {
  return std::make_unique<HttpsChannel>(std::move(transport), std::move(id_scope), std::move(registration_id),
                                        std::move(user_agent));
}

std::unique_ptr<Channel> make_mqtt_channel(std::shared_ptr<MqttTransport> transport) {
  return std::make_unique<MqttChannel>(std::move(transport));
}

// ---- One attempt ----------------------------------------------------------------------------------------

// Every step runs on one strand of the caller's executor; transport and credential completions are posted
// onto it, so the state below is only touched there (trace_ is also read by trace(), hence its mutex).
class Registration::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor executor, Channel& channel, Credential& credential, RegistrationRequest request,
       RegistrationHandler done, std::function<SystemTime()> now, PollWait poll_wait)
      : strand_(asio::make_strand(std::move(executor))),
        timer_(strand_),
        channel_(channel),
        credential_(credential),
        request_(std::move(request)),
        done_(std::move(done)),
        now_(now ? std::move(now) : std::function<SystemTime()>([] { return std::chrono::system_clock::now(); })),
        poll_wait_(std::move(poll_wait)) {}

  void begin() {
    asio::post(strand_, [self = shared_from_this()] { self->first_request(); });
  }

  void cancel() {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->finished_) return;
      spdlog::info("DPS registration of \"{}\" cancelled", self->request_.registration_id);
      // Close before completing: once `done` ran, the channel may be gone.
      if (self->request_in_flight_) self->channel_.close();
      self->complete(transport_failure(TransportError{
          TransportErrorKind::closed,
          "the DPS registration of \"" + self->request_.registration_id + "\" was cancelled before it finished",
          true}));
    });
  }

  RegistrationTrace trace() const {
    std::lock_guard lock(trace_mutex_);
    return trace_;
  }

 private:
  enum class Step { register_put, status_poll };

  // A completion from another thread or executor, run on the strand unless the attempt already ended.
  template <typename... Args, typename Function>
  auto on_strand(Function function) {
    return [self = shared_from_this(), function = std::move(function)](Args... args) mutable {
      asio::post(self->strand_, [self, function = std::move(function), ... args = std::move(args)]() mutable {
        if (!self->finished_) function(std::move(args)...);
      });
    };
  }

  template <typename Function>
  void count(Function update) {
    std::lock_guard lock(trace_mutex_);
    update(trace_);
  }

  void first_request() {
    if (finished_) return;
    method_ = credential_.method();
    spdlog::info("DPS: registering \"{}\" in ID scope {} with {} attestation over {}", request_.registration_id,
                 request_.id_scope, display_name(method_), display_name(channel_.transport()));
    if (method_ == AttestationMethod::tpm && channel_.transport() == Transport::mqtt) {
      const auto problem = *check_transport(method_, channel_.transport());
      return complete(config_failure(problem.problem + ": " + problem.fix, "edgeprov.dps.transport"));
    }
    std::optional<TpmKeys> tpm_keys;
    if (method_ == AttestationMethod::tpm) {
      tpm_keys = credential_.tpm_keys();
      if (!tpm_keys) {
        return complete(tpm_failure(tpm::Error(
            tpm::ErrorKind::connection, "ReadPublic", 0,
            "the TPM's endorsement key and storage root key are not available for the DPS request",
            "check that the TPM is reachable (`edgeprovctl tpm info`); edgeprovd tries again by itself")));
      }
    }
    body_ = register_body(request_.registration_id, tpm_keys, request_.payload);
    send_register();
  }

  // Symmetric key signs every request with the device key; the TPM every request after the challenge,
  // with the challenge's key; X.509 none.
  bool signs() const {
    return method_ == AttestationMethod::symmetric_key ||
           (method_ == AttestationMethod::tpm && challenge_key_.has_value());
  }
  SigningKey dps_request_key() const {
    if (method_ == AttestationMethod::tpm) return *challenge_key_;
    return DeviceKey{};
  }

  // The completion of async_load_key, on the strand. A key that arrives after the attempt ended (it was
  // cancelled while the TPM loaded it) is released at once rather than left loaded.
  Credential::LoadDone on_key_loaded(std::function<void(AttemptKey)> next) {
    return [self = shared_from_this(), next = std::move(next)](std::variant<AttemptKey, Error> loaded) mutable {
      asio::post(self->strand_, [self, next = std::move(next), loaded = std::move(loaded)]() mutable {
        if (auto* error = std::get_if<Error>(&loaded)) {
          if (!self->finished_) self->complete(std::move(*error));
          return;
        }
        const AttemptKey key = std::get<AttemptKey>(loaded);
        if (self->finished_) return self->credential_.release_key(key);
        next(key);
      });
    };
  }

  // Flushes the keys this attempt still holds; a persisted key is no longer held.
  void release_keys() {
    for (auto* key : {&challenge_key_, &hub_key_}) {
      if (*key) credential_.release_key(**key);
      key->reset();
    }
  }

  // Calls `next` with the SAS the next request carries, minting one first when there is none yet or the
  // current one would expire within sas_renewal_margin.
  void with_sas(std::function<void(std::optional<Secret>)> next) {
    if (!signs()) return next(std::nullopt);
    if (sas_ && !sas_needs_renewal(sas_expiry_, now_())) return next(sas_);
    SasParams params;
    params.resource_uri = dps_resource_uri(request_.id_scope, request_.registration_id);
    params.expiry_unix_seconds = sas_expiry(now_(), request_.sas_lifetime);
    params.key_name = key_name_;
    params.style = SasStyle::c_sdk_dps;
    std::string data = string_to_sign(encode_sr(params.resource_uri, params.style), params.expiry_unix_seconds);
    credential_.async_sign(
        dps_request_key(), std::move(data),
        on_strand<std::variant<Sha256Digest, Error>>(
            [this, params, next = std::move(next)](std::variant<Sha256Digest, Error> signed_data) {
              if (auto* error = std::get_if<Error>(&signed_data)) {
                spdlog::info("DPS: signing the SAS token for \"{}\" failed: {}", request_.registration_id,
                             error->message);
                return complete(std::move(*error));
              }
              sas_ = assemble_sas_token(params, std::get<Sha256Digest>(signed_data));
              sas_expiry_ = params.expiry_unix_seconds;
              count([](RegistrationTrace& trace) { ++trace.sas_minted; });
              spdlog::debug("DPS: minted a SAS token for \"{}\" (skn={}, expires {})", request_.registration_id,
                            params.key_name.value_or(""),
                            to_rfc3339(SystemTime(seconds(params.expiry_unix_seconds))));
              next(sas_);
            }));
  }

  void send_register() {
    with_sas([this](std::optional<Secret> sas) {
      count([](RegistrationTrace& trace) { ++trace.requests; });
      request_in_flight_ = true;
      channel_.async_register(body_, std::move(sas), on_strand<ChannelResult>([this](ChannelResult result) {
                                on_reply(Step::register_put, std::move(result));
                              }));
    });
  }

  void send_poll() {
    ++polls_;
    with_sas([this](std::optional<Secret> sas) {
      count([](RegistrationTrace& trace) {
        ++trace.requests;
        ++trace.polls;
      });
      request_in_flight_ = true;
      channel_.async_operation_status(operation_id_, body_, std::move(sas),
                                      on_strand<ChannelResult>([this](ChannelResult result) {
                                        on_reply(Step::status_poll, std::move(result));
                                      }));
    });
  }

  void on_reply(Step step, ChannelResult result) {
    request_in_flight_ = false;
    if (auto* error = std::get_if<TransportError>(&result)) return complete(transport_failure(std::move(*error)));
    auto& reply = std::get<ChannelReply>(result);
    ReplyContext context;
    context.id_scope = request_.id_scope;
    context.registration_id = request_.registration_id;
    context.attestation = method_;
    if (step == Step::status_poll) context.operation_id = operation_id_;
    Reply parsed = parse_http_reply(reply.status, reply.retry_after, reply.content_type, reply.body, context);
    if (auto* assigned = std::get_if<Assigned>(&parsed)) return on_assigned(std::move(*assigned));
    if (auto* assigning = std::get_if<Assigning>(&parsed)) return on_assigning(std::move(*assigning), reply.status);
    if (auto* challenge = std::get_if<TpmChallenge>(&parsed)) return on_challenge(std::move(*challenge));
    complete(rejected(std::get<Rejected>(std::move(parsed))));
  }

  void on_challenge(TpmChallenge challenge) {
    if (method_ != AttestationMethod::tpm) {
      Error failure{.cause = Rejection{.http_status = 401, .cause = RejectionCause::unauthorized}};
      failure.message = fmt::format(
          "DPS answered the registration of \"{}\" with a TPM challenge (HTTP 401 with authenticationKey), but "
          "this device attests with {}: the enrollment for this registration id uses TPM attestation. Change the "
          "enrollment's attestation to {}, or configure TPM attestation, then run `edgeprovctl reprovision`",
          request_.registration_id, display_name(method_), display_name(method_));
      return complete(std::move(failure));
    }
    if (challenged_) {
      Error failure{.cause = Rejection{.http_status = 401, .cause = RejectionCause::unauthorized}};
      failure.message = fmt::format(
          "DPS challenged the TPM of \"{}\" again after the request signed with the key it had just sent: it "
          "did not accept that signature. Check that the device clock is right (the SAS token expires by it) and "
          "that nothing else uses this TPM's DPS key at the same time, then run `edgeprovctl reprovision`",
          request_.registration_id);
      return complete(std::move(failure));
    }
    challenged_ = true;
    key_name_ = challenge.key_name;
    sas_.reset();
    count([](RegistrationTrace& trace) { trace.tpm_challenge = true; });
    // Loaded for this attempt only: the persisted key stays the hub key of the assignment the device serves
    // until this attempt is assigned (docs/dps-protocol.md §5.9).
    spdlog::info("DPS: TPM challenge for \"{}\"; loading the key DPS sent into the TPM for this attempt",
                 request_.registration_id);
    credential_.async_load_key(std::move(challenge.auth_key_blob), on_key_loaded([this](AttemptKey key) {
                                 challenge_key_ = key;
                                 send_register();
                               }));
  }

  void on_assigning(Assigning assigning, int status) {
    if (!assigning.operation_id.empty()) operation_id_ = std::move(assigning.operation_id);
    if (polls_ >= request_.max_polls) {
      Error failure{.cause = Rejection{.http_status = status,
                                       .cause = RejectionCause::still_assigning,
                                       .retry_after = assigning.retry_after},
                    .transient = true};
      failure.message = fmt::format(
          "DPS still answered `assigning` for \"{}\" after {} status polls of operation {}; edgeprov ends this "
          "attempt and tries again with backoff. If this persists, check the DPS service health and the "
          "enrollment's allocation (a custom allocation webhook that never answers keeps a device assigning)",
          request_.registration_id, polls_, operation_id_);
      return complete(std::move(failure));
    }
    const seconds delay = poll_interval(assigning.retry_after, now_());
    spdlog::debug("DPS: \"{}\" is being assigned (operation {}); polling in {} s", request_.registration_id,
                  operation_id_, delay.count());
    auto resume = [this] { send_poll(); };
    if (poll_wait_) {
      poll_wait_(delay, on_strand<>(std::move(resume)));
      return;
    }
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this(), resume](const boost::system::error_code& ec) {
      if (ec || self->finished_) return;
      resume();
    });
  }

  // A TPM device's persisted key is replaced now, and only now: by the hub key DPS sent, or, when it sent
  // none (accepted, as aziot does), by the challenge key, which then is the hub key.
  void on_assigned(Assigned assigned) {
    if (method_ != AttestationMethod::tpm) return complete(std::move(assigned));
    if (assigned.hub_key_blob) {
      spdlog::info("DPS: \"{}\" assigned to {}; importing the hub key into the TPM", request_.registration_id,
                   assigned.hub);
      // The challenge key has signed its last request; its object slot goes back to the TPM first.
      if (challenge_key_) credential_.release_key(*std::exchange(challenge_key_, std::nullopt));
      Bytes blob = *assigned.hub_key_blob;
      credential_.async_load_key(std::move(blob),
                                 on_key_loaded([this, assigned = std::move(assigned)](AttemptKey key) mutable {
                                   hub_key_ = key;
                                   persist(key, std::move(assigned));
                                 }));
      return;
    }
    if (challenge_key_) {
      spdlog::info("DPS: \"{}\" assigned to {} without a hub key; the key of the TPM challenge becomes the hub key",
                   request_.registration_id, assigned.hub);
      return persist(*challenge_key_, std::move(assigned));
    }
    complete(std::move(assigned));
  }

  void persist(AttemptKey key, Assigned assigned) {
    credential_.async_persist_key(
        key, on_strand<std::optional<Error>>([this, key, assigned = std::move(assigned)](std::optional<Error> error) mutable {
          // A failed persist leaves the key held, so complete() releases it: a no-op when the TPM already
          // flushed it, and no leak when the work never reached the TPM.
          if (error) return complete(std::move(*error));
          for (auto* held : {&challenge_key_, &hub_key_})
            if (*held == key) held->reset();  // it is the device key now
          complete(std::move(assigned));
        }));
  }

  void complete(RegistrationOutcome outcome) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    // A failed or cancelled attempt leaves the persisted key as it found it and no transient key behind.
    release_keys();
    if (auto* assigned = std::get_if<Assigned>(&outcome)) {
      spdlog::info("DPS: \"{}\" assigned to {} as {}{}", request_.registration_id, assigned->hub,
                   assigned->device_id, assigned->substatus.empty() ? "" : " (" + assigned->substatus + ")");
    } else {
      const auto& failure = std::get<Error>(outcome);
      spdlog::info("DPS: registration of \"{}\" failed ({}{}, {}): {}", request_.registration_id,
                   to_string(failure.kind()),
                   failure.http_status() ? " " + std::to_string(*failure.http_status()) : std::string(),
                   failure.transient ? "transient" : "terminal", failure.message);
    }
    // Moved out first: `done` may drop the last reference to this attempt.
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(outcome));
  }

  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer timer_;
  Channel& channel_;
  Credential& credential_;
  RegistrationRequest request_;
  RegistrationHandler done_;
  std::function<SystemTime()> now_;
  PollWait poll_wait_;

  AttestationMethod method_ = AttestationMethod::tpm;
  std::string body_;
  std::string operation_id_;
  std::string key_name_ = "registration";
  std::optional<Secret> sas_;
  std::int64_t sas_expiry_ = 0;
  unsigned polls_ = 0;
  bool challenged_ = false;
  std::optional<AttemptKey> challenge_key_;  // TPM: the 401 challenge's key, loaded for this attempt
  std::optional<AttemptKey> hub_key_;        // TPM: the hub key of `assigned`, loaded until persisted
  bool request_in_flight_ = false;
  bool finished_ = false;

  mutable std::mutex trace_mutex_;
  RegistrationTrace trace_;
};

std::shared_ptr<Registration> Registration::start(asio::any_io_executor executor, Channel& channel,
                                                  Credential& credential, RegistrationRequest request,
                                                  RegistrationHandler done, std::function<SystemTime()> now,
                                                  PollWait poll_wait) {
  auto impl = std::make_shared<Impl>(std::move(executor), channel, credential, std::move(request), std::move(done),
                                     std::move(now), std::move(poll_wait));
  impl->begin();
  return std::shared_ptr<Registration>(new Registration(std::move(impl)));
}

Registration::Registration(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Registration::~Registration() = default;

void Registration::cancel() { impl_->cancel(); }

RegistrationTrace Registration::trace() const { return impl_->trace(); }

}  // namespace edgeprov::dps
