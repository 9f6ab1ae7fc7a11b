#include "dps/mqtt_transport.h"

#include <map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/connect.hpp>
#include <fmt/format.h>
#include <mqtt/async_client.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>

#include "dps/mqtt_topic.h"
#include "dps/sigpipe.h"

namespace edgeprov::dps {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

std::string describe(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) return fmt::format("{} s", timeout.count() / 1000);
  return fmt::format("{} ms", timeout.count());
}

// When Paho reports a failed connection it does not say why (its own host name check, for one, reports
// nothing). A second, independent TLS connection with the same trust settings finds the cause: name
// resolution, TCP, or which certificate check failed, with OpenSSL's verify text.
class TlsProbe : public std::enable_shared_from_this<TlsProbe> {
 public:
  using Done = std::function<void(std::optional<TransportError>)>;
  TlsProbe(asio::strand<asio::any_io_executor> strand, const MqttSettings& settings, Done done)
      : strand_(std::move(strand)), settings_(settings), resolver_(strand_), timer_(strand_), done_(std::move(done)) {}

  void run() {
    auto context = make_client_context(settings_.tls);
    if (auto* error = std::get_if<TransportError>(&context)) return finish(*error);
    context_ = std::get<std::shared_ptr<ssl::context>>(std::move(context));
    stream_.emplace(strand_, *context_);
    timer_.expires_after(settings_.timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      self->timed_out_ = true;
      self->resolver_.cancel();
      error_code ignored;
      self->stream_->lowest_layer().close(ignored);
    });
    resolver_.async_resolve(settings_.server.host, std::to_string(settings_.server.port),
                            [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
                              self->on_resolve(ec, std::move(results));
                            });
  }

 private:
  void on_resolve(error_code ec, tcp::resolver::results_type results) {
    if (timed_out_) return finish(timeout());
    if (ec) {
      return finish(TransportError{TransportErrorKind::resolve,
                                   fmt::format("cannot resolve {} ({}): check the host in [provisioning] "
                                               "global_endpoint and the DNS settings",
                                               settings_.server.host, ec.message()),
                                   true});
    }
    asio::async_connect(stream_->lowest_layer(), results,
                        [self = shared_from_this()](error_code ec, const tcp::endpoint&) { self->on_connect(ec); });
  }

  void on_connect(error_code ec) {
    if (timed_out_) return finish(timeout());
    if (ec) {
      return finish(TransportError{TransportErrorKind::connect,
                                   fmt::format("cannot connect to DPS at {} for MQTT ({}): check that it is running "
                                               "and reachable, and that the port is its MQTT port (8883)",
                                               to_string(settings_.server), ec.message()),
                                   true});
    }
    if (!verify_host(stream_->native_handle(), settings_.server.host)) {
      return finish(TransportError{TransportErrorKind::configuration,
                                   fmt::format("\"{}\" cannot be used as a TLS server name", settings_.server.host),
                                   false});
    }
    stream_->async_handshake(ssl::stream_base::client,
                             [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(error_code ec) {
    if (timed_out_) return finish(timeout());
    if (ec) {
      const long verify = SSL_get_verify_result(stream_->native_handle());
      if (verify != X509_V_OK) {
        const bool mismatch = verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
        return finish(certificate_error(settings_.server, X509_verify_cert_error_string(verify), mismatch,
                                        settings_.tls));
      }
      return finish(TransportError{TransportErrorKind::tls_handshake,
                                   fmt::format("TLS with DPS at {} failed ({}): check that the port is DPS's MQTT "
                                               "port and speaks TLS 1.2 or newer",
                                               to_string(settings_.server), ec.message()),
                                   true});
    }
    finish(std::nullopt);
  }

  TransportError timeout() const {
    return {TransportErrorKind::timeout,
            fmt::format("connecting to DPS at {} for MQTT took longer than {}: check the network, or raise "
                        "cloud_timeout_sec",
                        to_string(settings_.server), describe(settings_.timeout)),
            true};
  }

  void finish(std::optional<TransportError> result) {
    timer_.cancel();
    if (stream_) {
      error_code ignored;
      stream_->lowest_layer().close(ignored);
    }
    if (auto done = std::move(done_)) done(std::move(result));
  }

  asio::strand<asio::any_io_executor> strand_;
  MqttSettings settings_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::shared_ptr<ssl::context> context_;
  std::optional<ssl::stream<tcp::socket>> stream_;
  bool timed_out_ = false;
  Done done_;
};

// Paho calls an iaction_listener on its own thread; this one only forwards the outcome.
class Listener : public mqtt::iaction_listener {
 public:
  using Fn = std::function<void(bool ok, int return_code)>;
  explicit Listener(Fn fn) : fn_(std::move(fn)) {}
  void on_success(const mqtt::token&) override { fn_(true, 0); }
  void on_failure(const mqtt::token& token) override { fn_(false, token.get_return_code()); }

 private:
  Fn fn_;
};

}  // namespace

class MqttTransport::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor executor, MqttSettings settings)
      : strand_(asio::make_strand(std::move(executor))), settings_(std::move(settings)), connect_timer_(strand_) {
    if (settings_.client_version.empty()) settings_.client_version = "edgeprov/" EDGEPROV_VERSION;  // as the HTTPS User-Agent
  }

  ~Impl() {
    if (!client_) return;
    try {
      if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(2));
    } catch (const mqtt::exception&) {
      // Going away anyway: a failed DISCONNECT only means the server notices the closed socket instead.
    }
  }

  // Everything Paho's threads may touch. It outlives the Paho client (which holds it through the
  // callbacks), so a late callback never reaches a destroyed Impl: it posts to the strand with a weak_ptr.
  struct Bridge {
    explicit Bridge(asio::strand<asio::any_io_executor> s) : strand(std::move(s)) {}
    asio::strand<asio::any_io_executor> strand;
    std::weak_ptr<Impl> impl;
    std::unique_ptr<Listener> connect_listener, subscribe_listener;

    template <typename F>
    void post(F f) {
      asio::post(strand, [weak = impl, f = std::move(f)]() mutable {
        if (auto impl = weak.lock()) f(*impl);
      });
    }
  };

  std::optional<TransportError> init() {
    bridge_ = std::make_shared<Bridge>(strand_);
    bridge_->impl = weak_from_this();
    Bridge* bridge = bridge_.get();
    bridge_->connect_listener = std::make_unique<Listener>([bridge](bool ok, int rc) {
      bridge->post([ok, rc](Impl& impl) { ok ? impl.on_connected() : impl.on_connect_failed(rc); });
    });
    bridge_->subscribe_listener = std::make_unique<Listener>([bridge](bool ok, int rc) {
      bridge->post([ok, rc](Impl& impl) { impl.on_subscribed(ok, rc); });
    });
    const auto& host = settings_.server.host;
    const auto uri = host.find(':') != std::string::npos ? fmt::format("ssl://[{}]:{}", host, settings_.server.port)
                                                         : fmt::format("ssl://{}:{}", host, settings_.server.port);
    try {
      client_ = std::make_unique<mqtt::async_client>(uri, settings_.registration_id,
                                                     static_cast<mqtt::iclient_persistence*>(nullptr));
    } catch (const mqtt::exception& e) {
      return TransportError{TransportErrorKind::configuration,
                            fmt::format("the MQTT client for {} (client id \"{}\") cannot be created ({}): check the "
                                        "endpoint and the registration id",
                                        uri, settings_.registration_id, e.get_error_str()),
                            false};
    }
    auto shared_bridge = bridge_;
    client_->set_message_callback([shared_bridge](mqtt::const_message_ptr message) {
      std::string topic = message->get_topic();
      std::string payload = message->get_payload_str();
      shared_bridge->post([topic = std::move(topic), payload = std::move(payload)](Impl& impl) mutable {
        impl.on_message(topic, std::move(payload));
      });
    });
    client_->set_connection_lost_handler([shared_bridge](const std::string&) {
      shared_bridge->post([](Impl& impl) { impl.on_connection_lost(); });
    });
    return std::nullopt;
  }

  void request(std::optional<std::string> operation_id, std::string body, MqttHandler handler) {
    asio::post(strand_, [self = shared_from_this(), operation_id = std::move(operation_id), body = std::move(body),
                         handler = std::move(handler)]() mutable {
      self->enqueue(std::move(operation_id), std::move(body), std::move(handler));
    });
  }

  void set_password(Secret password) {
    asio::post(strand_, [self = shared_from_this(), password = std::move(password)]() mutable {
      self->settings_.password = std::move(password);
    });
  }

  void close() {
    asio::post(strand_, [self = shared_from_this()] {
      self->fail_all(self->closed_error("the transport was closed"));
      self->state_ = State::disconnected;
      self->connect_timer_.cancel();
      try {
        if (self->client_ && self->client_->is_connected()) self->client_->disconnect();
      } catch (const mqtt::exception&) {
        // Already gone.
      }
    });
  }

 private:
  enum class State { disconnected, connecting, connected };

  struct Request {
    std::string topic, body;
    MqttHandler handler;
    std::unique_ptr<asio::steady_timer> timer;
    bool published = false;
  };

  unsigned next_request_id() {
    // The C SDK's $rid is a 16-bit counter that wraps to 1; skip ids still waiting for a reply.
    do {
      last_rid_ = last_rid_ >= 65534 ? 1 : last_rid_ + 1;
    } while (requests_.contains(last_rid_));
    return last_rid_;
  }

  void enqueue(std::optional<std::string> operation_id, std::string body, MqttHandler handler) {
    const unsigned rid = next_request_id();
    Request request;
    request.topic = operation_id ? operation_status_topic(rid, *operation_id) : register_topic(rid);
    request.body = std::move(body);
    request.handler = std::move(handler);
    requests_.emplace(rid, std::move(request));
    if (state_ == State::connected) {
      publish(rid);
    } else if (state_ == State::disconnected) {
      start_connect();
    }
  }

  void start_connect() {
    state_ = State::connecting;
    connect_timer_.expires_after(settings_.timeout);
    connect_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->on_connect_timeout();
    });
    mqtt::ssl_options ssl;
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);  // Paho's host name check (X509_check_host / X509_check_ip_asc)
    ssl.set_ssl_version(MQTT_SSL_VERSION_TLS_1_2);
    if (settings_.tls.trusted_ca) ssl.set_trust_store(settings_.tls.trusted_ca->string());
    if (settings_.tls.client_cert) ssl.set_key_store(settings_.tls.client_cert->string());
    if (settings_.tls.client_key) ssl.set_private_key(settings_.tls.client_key->string());
    // No ssl_options::set_error_handler: Paho C++ 1.2 passes OpenSSL's error callback a pointer to the
    // ssl_options object, which dangles once the options are copied into the connection (a crash on
    // the first TLS error). The TlsProbe below finds the cause of a TLS failure instead.

    mqtt::connect_options options;
    options.set_mqtt_version(MQTTVERSION_3_1_1);
    options.set_clean_session(true);
    options.set_automatic_reconnect(false);
    options.set_keep_alive_interval(std::chrono::seconds(60));
    options.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(settings_.timeout + std::chrono::milliseconds(999)));
    options.set_user_name(mqtt_username(settings_.id_scope, settings_.registration_id, settings_.client_version));
    if (settings_.password) options.set_password(settings_.password->reveal());
    options.set_ssl(std::move(ssl));
    spdlog::debug("DPS MQTT: connecting to {} as \"{}\"", to_string(settings_.server), settings_.registration_id);
    try {
      client_->connect(std::move(options), nullptr, *bridge_->connect_listener);
    } catch (const mqtt::exception& e) {
      on_connect_failed(e.get_return_code());
    }
  }

  void on_connected() {
    if (state_ != State::connecting) return abandon_connection();  // given up on already (timeout, close)
    try {
      client_->subscribe(std::string(reply_subscription), 1, nullptr, *bridge_->subscribe_listener);
    } catch (const mqtt::exception& e) {
      on_subscribed(false, e.get_return_code());
    }
  }

  void on_subscribed(bool ok, int rc) {
    if (state_ != State::connecting) return;
    if (!ok && rc == MQTTASYNC_DISCONNECTED) {
      // The server closed the connection before the SUBACK: a drop, not a refusal.
      return on_connection_lost();
    }
    if (!ok) {
      state_ = State::disconnected;
      connect_timer_.cancel();
      fail_all({TransportErrorKind::protocol,
                fmt::format("DPS at {} refused the subscription to {} ({}): check that the server is DPS",
                            to_string(settings_.server), reply_subscription, mqtt::exception::error_str(rc)),
                true});
      try {
        client_->disconnect();
      } catch (const mqtt::exception&) {
      }
      return;
    }
    state_ = State::connected;
    connect_timer_.cancel();
    spdlog::debug("DPS MQTT: connected to {} and subscribed to {}", to_string(settings_.server), reply_subscription);
    for (auto& [rid, request] : requests_) {
      if (!request.published) publish(rid);
    }
  }

  void on_connect_failed(int rc) {
    if (state_ != State::connecting) return;
    if (rc >= 1 && rc <= 5) {
      // A CONNACK refusal: the TLS connection worked and the server said no.
      static constexpr const char* reasons[] = {"", "unacceptable protocol version", "identifier rejected",
                                                "server unavailable", "bad user name or password", "not authorized"};
      const bool credentials = rc == 4 || rc == 5;
      state_ = State::disconnected;
      connect_timer_.cancel();
      fail_all({TransportErrorKind::refused,
                fmt::format("DPS at {} refused the MQTT connection of \"{}\" ({}): {}", to_string(settings_.server),
                            settings_.registration_id, reasons[rc],
                            credentials ? "check the registration id, the id scope and the symmetric key or client "
                                          "certificate of the enrollment"
                                        : "check that the server is DPS and try again later"),
                !credentials});
      return;
    }
    auto probe = std::make_shared<TlsProbe>(strand_, settings_,
                                            [self = shared_from_this(), rc](std::optional<TransportError> error) {
                                              self->on_probe_done(rc, std::move(error));
                                            });
    probe->run();
  }

  void on_probe_done(int rc, std::optional<TransportError> error) {
    if (state_ != State::connecting) return;
    state_ = State::disconnected;
    connect_timer_.cancel();
    if (!error) {
      // TLS 1.3 lets the client finish its handshake before the server checks the client certificate,
      // so a refused (or missing) certificate looks like this too.
      std::string advice = "check that the port is DPS's MQTT port (8883)";
      if (!settings_.tls.client_cert && !settings_.password) {
        advice = "the server may require a client certificate (X.509 attestation) or a SAS token";
      } else if (settings_.tls.client_cert) {
        advice = "the server may not accept the client certificate in identity_cert";
      }
      error = TransportError{TransportErrorKind::connect,
                             fmt::format("the MQTT connection to DPS at {} failed ({}) although TLS works: {}",
                                         to_string(settings_.server), mqtt::exception::error_str(rc), advice),
                             true};
    }
    fail_all(*error);
  }

  void publish(unsigned rid) {
    auto& request = requests_.at(rid);
    try {
      client_->publish(request.topic, request.body.data(), request.body.size(), 0, false);
      request.published = true;
      // The reply wait is one step of its own, bounded like every other step.
      request.timer = std::make_unique<asio::steady_timer>(strand_, settings_.timeout);
      request.timer->async_wait([self = shared_from_this(), rid](error_code ec) {
        if (!ec) self->on_request_timeout(rid);
      });
    } catch (const mqtt::exception& e) {
      complete(rid, closed_error(fmt::format("the request could not be sent to DPS at {} ({})",
                                             to_string(settings_.server), e.get_error_str())));
    }
  }

  void on_message(const std::string& topic, std::string payload) {
    const auto reply = parse_reply_topic(topic);
    if (!reply || !reply->request_id) {
      spdlog::debug("DPS MQTT: ignoring a message on {}", topic);
      return;
    }
    const auto found = requests_.find(*reply->request_id);
    if (found == requests_.end() || !found->second.published) {
      spdlog::debug("DPS MQTT: ignoring a reply for $rid={} that no request waits for", *reply->request_id);
      return;
    }
    if (payload.size() > settings_.reply_limit) {
      return complete(found->first,
                      TransportError{TransportErrorKind::too_large,
                                     fmt::format("the reply from DPS at {} is larger than {} bytes, which no DPS reply "
                                                 "is: check that [provisioning] global_endpoint names a DPS server",
                                                 to_string(settings_.server), settings_.reply_limit),
                                     true});
    }
    complete(found->first, MqttReply{reply->status, reply->retry_after, std::move(payload)});
  }

  // Every request waiting on this connection fails with a transient `closed` error, published or not: the
  // caller's backoff decides when to try again. Reconnecting here instead would loop without any backoff
  // against a server that accepts connections and drops them.
  void on_connection_lost() {
    const bool setting_up = state_ == State::connecting;
    state_ = State::disconnected;
    connect_timer_.cancel();
    fail_all(closed_error(setting_up ? fmt::format("DPS at {} closed the MQTT connection while it was being set up "
                                                   "(after accepting it)",
                                                   to_string(settings_.server))
                                     : fmt::format("DPS at {} dropped the MQTT connection before answering",
                                                   to_string(settings_.server))));
  }

  // Connecting (TCP, TLS, CONNECT, SUBSCRIBE, and the diagnosis of a failure) is bounded as a whole.
  void on_connect_timeout() {
    if (state_ != State::connecting) return;
    state_ = State::disconnected;
    abandon_connection();
    fail_all({TransportErrorKind::timeout,
              fmt::format("connecting to DPS at {} for MQTT did not finish within {}: check the network, or raise "
                          "cloud_timeout_sec",
                          to_string(settings_.server), describe(settings_.timeout)),
              true});
  }

  void abandon_connection() {
    try {
      if (client_->is_connected()) client_->disconnect();
    } catch (const mqtt::exception&) {
      // Not connected after all: nothing to close.
    }
  }

  void on_request_timeout(unsigned rid) {
    const auto found = requests_.find(rid);
    if (found == requests_.end()) return;
    complete(rid, TransportError{TransportErrorKind::timeout,
                                 fmt::format("DPS at {} did not answer the MQTT request within {}: the server is slow "
                                             "or the network drops packets; edgeprov retries later",
                                             to_string(settings_.server), describe(settings_.timeout)),
                                 true});
  }

  TransportError closed_error(std::string what) const {
    return {TransportErrorKind::closed, what + "; edgeprov reconnects on the next attempt", true};
  }

  void complete(unsigned rid, MqttResult result) {
    const auto found = requests_.find(rid);
    if (found == requests_.end()) return;
    auto handler = std::move(found->second.handler);
    if (found->second.timer) found->second.timer->cancel();
    requests_.erase(found);
    asio::post(strand_, [handler = std::move(handler), result = std::move(result)]() mutable {
      if (handler) handler(std::move(result));
    });
  }

  void fail_all(const TransportError& error) {
    std::vector<unsigned> all;
    for (const auto& entry : requests_) all.push_back(entry.first);
    for (const unsigned rid : all) complete(rid, error);
  }

  asio::strand<asio::any_io_executor> strand_;
  MqttSettings settings_;
  asio::steady_timer connect_timer_;
  std::shared_ptr<Bridge> bridge_;               // declared before client_: destroyed after it
  std::unique_ptr<mqtt::async_client> client_;
  State state_ = State::disconnected;
  unsigned last_rid_ = 0;
  std::map<unsigned, Request> requests_;
};

std::variant<std::shared_ptr<MqttTransport>, TransportError> MqttTransport::create(
    boost::asio::any_io_executor executor, MqttSettings settings) {
  if (auto error = check_tls_files(settings.tls)) return *error;
  if (settings.registration_id.empty() || settings.id_scope.empty()) {
    return TransportError{TransportErrorKind::configuration,
                          "MQTT needs the id scope and the registration id: set [provisioning] id_scope and "
                          "[provisioning.attestation] registration_id",
                          false};
  }
  ignore_sigpipe();
  auto impl = std::make_shared<Impl>(std::move(executor), std::move(settings));
  if (auto error = impl->init()) return *error;
  return std::shared_ptr<MqttTransport>(new MqttTransport(std::move(impl)));
}

MqttTransport::MqttTransport(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
MqttTransport::~MqttTransport() { impl_->close(); }

void MqttTransport::async_register(std::string body, MqttHandler handler) {
  impl_->request(std::nullopt, std::move(body), std::move(handler));
}

void MqttTransport::async_operation_status(std::string operation_id, std::string body, MqttHandler handler) {
  impl_->request(std::move(operation_id), std::move(body), std::move(handler));
}

void MqttTransport::set_password(Secret password) { impl_->set_password(std::move(password)); }

void MqttTransport::close() { impl_->close(); }

}  // namespace edgeprov::dps
