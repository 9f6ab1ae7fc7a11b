#include "emulator/mqtt_server.h"

#include <chrono>
#include <deque>
#include <map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <spdlog/spdlog.h>

#include "common/encoding.h"
#include "emulator/http_server.h"
#include "emulator/mqtt_codec.h"

namespace edgeprov::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_packet = 64 * 1024;

std::optional<MqttUsername> parse_mqtt_username(std::string_view username) {
  auto first = username.find('/');
  if (first == std::string_view::npos) return std::nullopt;
  std::string_view rest = username.substr(first + 1);
  if (rest.substr(0, 14) != "registrations/") return std::nullopt;
  rest.remove_prefix(14);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  MqttUsername out{std::string(username.substr(0, first)), std::string(rest.substr(0, slash)), {}};
  std::string_view query = rest.substr(slash + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view parameter = query.substr(0, amp);
    if (parameter.substr(0, 12) == "api-version=") out.api_version = parameter.substr(12);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  if (out.id_scope.empty() || out.registration_id.empty()) return std::nullopt;
  return out;
}

std::optional<MqttRequestTopic> parse_mqtt_request_topic(std::string_view topic) {
  constexpr std::string_view register_prefix = "$dps/registrations/PUT/iotdps-register/?";
  constexpr std::string_view status_prefix = "$dps/registrations/GET/iotdps-get-operationstatus/?";
  MqttRequestTopic out;
  std::string_view query;
  if (topic.substr(0, register_prefix.size()) == register_prefix) {
    out.kind = MqttRequestTopic::Kind::register_device;
    query = topic.substr(register_prefix.size());
  } else if (topic.substr(0, status_prefix.size()) == status_prefix) {
    out.kind = MqttRequestTopic::Kind::operation_status;
    query = topic.substr(status_prefix.size());
  } else {
    return std::nullopt;
  }
  bool has_rid = false;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view parameter = query.substr(0, amp);
    if (parameter.substr(0, 5) == "$rid=") {
      out.rid = parameter.substr(5);
      has_rid = true;
    } else if (parameter.substr(0, 12) == "operationId=") {
      out.operation_id = url_decode(parameter.substr(12)).value_or(std::string(parameter.substr(12)));
    }
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  if (!has_rid) return std::nullopt;
  if (out.kind == MqttRequestTopic::Kind::operation_status && out.operation_id.empty()) return std::nullopt;
  return out;
}

std::string mqtt_reply_topic(int status, std::string_view rid, std::optional<int> retry_after) {
  std::string topic = "$dps/registrations/res/" + std::to_string(status) + "/?$rid=" + std::string(rid);
  if (retry_after) topic += "&retry-after=" + std::to_string(*retry_after);
  return topic;
}

namespace {

class Session;

}  // namespace

struct MqttServer::State {
  State(asio::io_context& io, const tcp::endpoint& endpoint) : acceptor(io, endpoint) {}
  tcp::acceptor acceptor;
  std::shared_ptr<asio::ssl::context> tls;
  ProvisioningService* service = nullptr;
  FaultTable* faults = nullptr;
  DeviceGate* gate = nullptr;
  bool stopped = false;
  // Subscribed sessions by lowercase registration id (see the header on fan-out).
  std::multimap<std::string, std::weak_ptr<Session>> subscribers;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<MqttServer::State> state, tcp::socket socket)
      : state_(std::move(state)), stream_(std::move(socket), *state_->tls) {}

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    if (state_->faults->take(FaultPoint::handshake, Transport::mqtt, "")) {
      static constexpr unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
      co_await asio::async_write(beast::get_lowest_layer(stream_), asio::buffer(alert), use_tuple);
      close();
      co_return;
    }
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    auto [handshake_error] = co_await stream_.async_handshake(asio::ssl::stream_base::server, use_tuple);
    if (handshake_error) co_return;
    chain_ = peer_chain(stream_.native_handle());

    std::optional<mqtt::Packet> first = co_await read_packet(std::chrono::seconds(10));
    if (!first || !std::holds_alternative<mqtt::Connect>(*first)) {
      close();
      co_return;
    }
    if (!co_await on_connect(std::get<mqtt::Connect>(*first))) co_return;
    for (;;) {
      auto packet = co_await read_packet(keep_alive_timeout_);
      if (!packet) break;
      bool keep_going = std::visit([this](auto& p) { return on_packet(p); }, *packet);
      if (!keep_going) break;
    }
    close_after_flush();
  }

  void send(Bytes bytes) {
    if (closed_) return;
    outbox_.push_back(std::move(bytes));
    if (!writing_) write_next();
  }

 private:
  asio::awaitable<std::optional<mqtt::Packet>> read_packet(std::chrono::seconds timeout) {
    for (;;) {
      auto framed = mqtt::frame(buffer_, max_packet);
      if (framed.status == mqtt::Frame::Status::malformed) {
        log_drop("malformed packet (length)");
        co_return std::nullopt;
      }
      if (framed.status == mqtt::Frame::Status::complete) {
        std::string error;
        auto packet = mqtt::decode(ByteView(buffer_).first(framed.size), error);
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(framed.size));
        if (!packet) log_drop(error);
        co_return packet;
      }
      std::uint8_t chunk[4096];
      beast::get_lowest_layer(stream_).expires_after(timeout);
      auto [error, n] = co_await stream_.async_read_some(asio::buffer(chunk), use_tuple);
      if (error || closed_) co_return std::nullopt;
      buffer_.insert(buffer_.end(), chunk, chunk + n);
    }
  }

  asio::awaitable<bool> on_connect(const mqtt::Connect& connect) {
    // CONNACK return codes: 1 protocol version, 2 identifier rejected, 4 bad user name or password, 5 not authorized.
    auto refuse = [this](std::uint8_t code, const std::string& why) {
      spdlog::info("mqtt connect {} refused ({}): {}", registration_id_.empty() ? "-" : registration_id_, code, why);
      send(mqtt::encode_connack(false, code));
      close_after_flush();
      return false;
    };
    if (connect.protocol_name != "MQTT" || connect.protocol_level != 4) co_return refuse(1, "only MQTT 3.1.1 (level 4) is spoken");
    auto user = connect.username ? parse_mqtt_username(*connect.username) : std::nullopt;
    if (!user) co_return refuse(4, "user name must be {idScope}/registrations/{registrationId}/api-version=…");
    registration_id_ = user->registration_id;
    if (state_->gate->refuse_connect(registration_id_)) co_return refuse(3, "server unavailable (outage)");
    if (user->id_scope != state_->service->options().id_scope) co_return refuse(4, "unknown ID scope " + user->id_scope);
    if (!accepted_api_version(user->api_version)) co_return refuse(4, "api-version must be 2019-03-31 through 2021-06-01");
    if (connect.client_id != user->registration_id) co_return refuse(2, "the client id must be the registration id");
    DeviceRequest request;
    request.transport = Transport::mqtt;
    request.registration_id = registration_id_;
    request.authorization = connect.password;
    request.client_chain = chain_;
    if (auto why = state_->service->check_connection(request)) co_return refuse(5, *why);
    keep_alive_timeout_ = connect.keep_alive == 0 ? std::chrono::seconds(1800)
                                                  : std::chrono::seconds(connect.keep_alive + connect.keep_alive / 2 + 1);
    password_ = connect.password;
    send(mqtt::encode_connack(false, 0));
    if (state_->faults->take(FaultPoint::mqtt_connect, Transport::mqtt, registration_id_)) {
      spdlog::info("mqtt connect {} dropped after CONNACK (injected)", registration_id_);
      close_after_flush();
      co_return false;
    }
    spdlog::info("mqtt connect {} accepted", registration_id_);
    co_return true;
  }

  bool on_packet(mqtt::Connect&) {
    log_drop("second CONNECT");
    return false;
  }
  bool on_packet(mqtt::PubAck&) { return true; }
  bool on_packet(mqtt::PingReq&) {
    send(mqtt::encode_pingresp());
    return true;
  }
  bool on_packet(mqtt::Disconnect&) { return false; }
  bool on_packet(mqtt::Unsubscribe& u) {
    send(mqtt::encode_unsuback(u.packet_id));
    return true;
  }
  bool on_packet(mqtt::Subscribe& s) {
    std::vector<std::uint8_t> codes;
    for (const auto& [filter, qos] : s.filters) {
      if (mqtt::topic_matches(filter, "$dps/registrations/res/202/?$rid=1")) {
        codes.push_back(std::min<std::uint8_t>(qos, 1));
        if (!subscribed_) {
          subscribed_ = true;
          state_->subscribers.emplace(registration_key(registration_id_), weak_from_this());
          state_->gate->count_subscription();
        }
      } else {
        codes.push_back(0x80);
      }
    }
    send(mqtt::encode_suback(s.packet_id, codes));
    return true;
  }
  bool on_packet(mqtt::Publish& p) {
    auto started = std::chrono::steady_clock::now();
    if (p.qos == 2) {
      log_drop("QoS 2 is not supported");
      return false;
    }
    auto topic = parse_mqtt_request_topic(p.topic);
    if (!topic) {
      log_drop("publish to an unknown topic");
      return false;
    }
    bool poll = topic->kind == MqttRequestTopic::Kind::operation_status;
    const char* what = poll ? "status" : "register";
    GateDecision decision =
        state_->gate->admit(Transport::mqtt, poll ? RequestKind::operation_status : RequestKind::register_device, registration_id_);
    if (std::holds_alternative<Drop>(decision)) {
      spdlog::info("mqtt {} {} connection closed (outage)", what, registration_id_);
      close();
      return false;
    }
    if (p.qos == 1 && !state_->faults->take(FaultPoint::mqtt_publish, Transport::mqtt, registration_id_))
      send(mqtt::encode_puback(p.packet_id));
    DeviceReply reply;
    if (auto* answer = std::get_if<Answer>(&decision)) {
      reply = std::move(answer->reply);
    } else if (auto fault = state_->faults->take(FaultPoint::request, Transport::mqtt, registration_id_)) {
      if (fault->kind == FaultKind::close_mid_body) {
        spdlog::info("mqtt {} {} connection closed (injected)", what, registration_id_);
        return false;
      }
      if (fault->kind == FaultKind::stall) {
        spdlog::info("mqtt {} {} no reply (injected stall)", what, registration_id_);
        return true;
      }
      reply = fault_reply(*fault, poll, state_->service->options().clock());
    } else {
      DeviceRequest request;
      request.transport = Transport::mqtt;
      request.registration_id = registration_id_;
      request.operation_id = topic->operation_id;
      request.authorization = password_;
      request.client_chain = chain_;
      request.body = p.payload;
      reply = poll ? state_->service->operation_status(request) : state_->service->register_device(request);
    }
    deliver(mqtt::encode_publish(mqtt_reply_topic(reply.status, topic->rid, reply.retry_after), reply.body));
    auto latency = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("mqtt {} {} {} {:.2f}ms", what, registration_id_, reply.outcome, latency);
    return true;
  }

  // To every subscribed connection of this registration (normally just this one).
  void deliver(const Bytes& publish) {
    auto range = state_->subscribers.equal_range(registration_key(registration_id_));
    for (auto it = range.first; it != range.second;) {
      if (auto session = it->second.lock()) {
        session->send(publish);
        ++it;
      } else {
        it = state_->subscribers.erase(it);
      }
    }
  }

  void write_next() {
    if (outbox_.empty()) {
      writing_ = false;
      if (close_pending_) close();
      return;
    }
    writing_ = true;
    // No deadline of its own: the stream has one timer, and the read's keep-alive deadline (which closes the
    // socket, cancelling a stuck write too) must not be shortened by a write.
    asio::async_write(stream_, asio::buffer(outbox_.front()), [self = shared_from_this()](beast::error_code error, std::size_t) {
      self->outbox_.pop_front();
      if (error) {
        self->close();
        return;
      }
      self->write_next();
    });
  }

  void close_after_flush() {
    close_pending_ = true;
    if (!writing_) close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    outbox_.clear();
    if (subscribed_) {
      auto range = state_->subscribers.equal_range(registration_key(registration_id_));
      for (auto it = range.first; it != range.second;) {
        auto locked = it->second.lock();
        it = (!locked || locked.get() == this) ? state_->subscribers.erase(it) : std::next(it);
      }
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  void log_drop(const std::string& why) {
    spdlog::info("mqtt {} connection closed: {}", registration_id_.empty() ? "-" : registration_id_, why);
  }

  std::shared_ptr<MqttServer::State> state_;
  TlsStream stream_;
  Bytes buffer_;
  std::vector<Bytes> chain_;
  std::string registration_id_;
  std::optional<std::string> password_;
  std::chrono::seconds keep_alive_timeout_{1800};
  std::deque<Bytes> outbox_;
  bool writing_ = false, close_pending_ = false, closed_ = false, subscribed_ = false;
};

asio::awaitable<void> accept_loop(std::shared_ptr<MqttServer::State> state) {
  for (;;) {
    auto [error, socket] = co_await state->acceptor.async_accept(use_tuple);
    if (state->stopped || error == asio::error::operation_aborted) co_return;
    if (error) continue;
    if (state->gate->drop_connection(Transport::mqtt)) {
      reset_connection(socket);
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    auto session = std::make_shared<Session>(state, std::move(socket));
    asio::co_spawn(state->acceptor.get_executor(), session->run(), asio::detached);
  }
}

}  // namespace

MqttServer::MqttServer(asio::io_context& io, const tcp::endpoint& endpoint, std::shared_ptr<asio::ssl::context> tls,
                       ProvisioningService& service, FaultTable& faults, DeviceGate& gate)
    : state_(std::make_shared<State>(io, endpoint)) {
  state_->tls = std::move(tls);
  state_->service = &service;
  state_->faults = &faults;
  state_->gate = &gate;
  asio::co_spawn(io, accept_loop(state_), asio::detached);
}

MqttServer::~MqttServer() { stop(); }

asio::ip::tcp::endpoint MqttServer::local_endpoint() const { return state_->acceptor.local_endpoint(); }

void MqttServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  beast::error_code ignored;
  state_->acceptor.close(ignored);
}

}  // namespace edgeprov::emulator
