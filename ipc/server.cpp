// The platform-neutral half of the local endpoint: one Connection per accepted stream reads lines,
// dispatches them, and writes the answers back in request order, whatever order methods finish in.
// Every per-connection resource is bounded (line size, unanswered requests, unsent bytes, idle time),
// so a slow, idle or hostile client costs a fixed amount and never delays another connection; what one
// caller may hold over all its connections is decided by ipc/admission.h, by the caller's OS identity.
#include "ipc/server.h"

#include <array>
#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "ipc/listener.h"

namespace edgeprov::ipc {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::size_t read_chunk_bytes = 16 * 1024;
// Requests handled in one turn of the io_context before other connections get theirs (handle_lines).
constexpr std::size_t lines_per_turn = 16;
// Reading pauses while this many requests wait for their answer to be written, or while this many
// bytes wait to be sent: a client that pipelines without reading its answers is simply not read.
constexpr std::size_t pause_pending_requests = 64;
constexpr std::size_t pause_outbound_bytes = 256 * 1024;
// Answers are bounded by the pause above; only notifications can push past this, from a subscriber
// that stopped reading. Such a connection is dropped rather than buffered without end.
constexpr std::size_t max_outbound_bytes = 4 * 1024 * 1024;

// Refused connections get their -32003 written and are closed; while this many such writes are pending
// (clients that do not read), further refused connections are closed without an answer, so a flood of
// refused connections holds no more than this many descriptors.
constexpr std::size_t max_pending_refusals = 64;

std::string describe(const Peer& peer) {
  std::string text = describe_caller(peer);
  if (peer.pid) text += " pid " + std::to_string(*peer.pid);
  return text;
}

class Connection : public NotificationSink, public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::unique_ptr<Stream> stream, const Dispatcher& dispatcher, const ServerOptions& options,
             Caller caller, AdmissionTicket ticket, std::shared_ptr<AdmissionLedger> ledger,
             std::function<void(Connection*)> on_closed)
      : stream_(std::move(stream)),
        executor_(stream_->executor()),
        dispatcher_(dispatcher),
        idle_timeout_(options.idle_timeout),
        first_request_timeout_(std::min(options.first_request_timeout, options.idle_timeout)),
        max_message_(options.max_message),
        framer_(options.max_message),
        idle_timer_(executor_),
        caller_(std::move(caller)),
        ledger_(std::move(ledger)),
        ticket_(std::move(ticket)),
        on_closed_(std::move(on_closed)) {}

  void start() {
    asio::dispatch(executor_, [self = shared_from_this()] {
      self->last_activity_ = Clock::now();
      self->arm_idle_timer(self->first_request_timeout_);
      self->read();
    });
  }

  // From any thread: closes at once (server stop).
  void shutdown() {
    asio::post(executor_, [self = shared_from_this()] { self->close_now(); });
  }

  bool notify(std::string_view method, const nlohmann::json& params) override {
    if (closed_.load(std::memory_order_acquire)) return false;
    std::string line = encode_notification(method, params);
    asio::dispatch(executor_, [self = shared_from_this(), line = std::move(line)] { self->queue_output(line); });
    return true;
  }

  std::optional<RpcError> hold_open() override {
    std::lock_guard lock(subscription_mutex_);
    if (subscription_ || closed_.load(std::memory_order_acquire)) return std::nullopt;
    auto admitted = ledger_->begin_subscription(caller_);
    if (auto* refusal = std::get_if<Refusal>(&admitted)) {
      spdlog::warn("ipc: refusing a subscription to {}: {} subscriptions held (max_subscriptions_per_user)",
                   caller_.name, refusal->value);
      return to_rpc_error(*refusal);
    }
    subscription_ = std::get<AdmissionTicket>(std::move(admitted));
    held_open_.store(true, std::memory_order_release);
    return std::nullopt;
  }

 private:
  using Slot = std::optional<std::string>;  // an answer, once its method has replied

  bool paused() const {
    return pending_.size() >= pause_pending_requests ||
           outbox_.size() + writing_.size() >= pause_outbound_bytes;
  }

  void read() {
    if (reading_ || draining_ || closing_ || closed_ || paused()) return;
    reading_ = true;
    stream_->async_read_some(asio::buffer(read_buffer_),
                             [self = shared_from_this()](const error_code& ec, std::size_t n) {
                               self->on_read(ec, n);
                             });
  }

  void on_read(const error_code& ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      // EOF after a client half-closed (`nc -N`, `socat`): answer what it asked, then close.
      if (ec != asio::error::eof) spdlog::debug("ipc: read from {} failed: {}", describe(stream_->peer()), ec.message());
      close_after_flush();
      return;
    }
    framer_.feed(std::string_view(read_buffer_.data(), n));
    handle_lines();
  }

  // At most lines_per_turn requests per turn on the io_context, then the rest after every other
  // connection's waiting work: one read can carry hundreds of pipelined requests, and a client sending
  // them must not make an administrator's call wait for all of them.
  void handle_lines() {
    draining_ = true;  // no read until the lines buffered are handled: what is buffered stays bounded
    for (std::size_t handled = 0; !closing_; ++handled) {
      if (handled == lines_per_turn) {
        asio::post(executor_, [self = shared_from_this()] {
          if (!self->closed_) self->handle_lines();
        });
        return;
      }
      auto line = framer_.next();
      if (!line) break;
      handle_line(std::move(*line));
    }
    draining_ = false;
    if (framer_.overflowed() && !closing_) {
      spdlog::warn("ipc: {} sent a line over {} bytes; answering message_too_large and closing",
                   describe(stream_->peer()), max_message_);
      push_answer(encode_error(nullptr, RpcError{errc::message_too_large,
                                                 "message exceeds the limit of " + std::to_string(max_message_) +
                                                     " bytes per line; the connection is closed",
                                                 nullptr}));
      close_after_flush();
      return;
    }
    read();
  }

  void handle_line(std::string line) {
    last_activity_ = Clock::now();
    if (line.find_first_not_of(" \t\r") == std::string::npos) return;  // blank keep-alive lines
    got_request_ = true;
    Decoded decoded = decode_request(line);
    if (auto* error = std::get_if<DecodeError>(&decoded)) {
      push_answer(encode_error(error->id, error->error));
      return;
    }
    auto& request = std::get<Request>(decoded);
    // Counted from dispatch until the method replies; the ticket travels with the reply.
    auto admitted = ledger_->begin_request(caller_, request.method);
    if (auto* refusal = std::get_if<Refusal>(&admitted)) {
      spdlog::debug("ipc: refusing '{}' from {}: {} requests in progress", request.method, caller_.name,
                    refusal->value);
      // A notification is never answered (JSON-RPC 2.0 §4.1), not even when refused.
      if (request.has_id) push_answer(encode_error(request.id, to_rpc_error(*refusal)));
      return;
    }
    auto ticket = std::make_shared<AdmissionTicket>(std::get<AdmissionTicket>(std::move(admitted)));
    Call call{request.method, std::move(request.params), stream_->peer(), weak_from_this()};
    if (!request.has_id) {
      // A notification: run it, never answer it (JSON-RPC 2.0 §4.1), not even with an error.
      dispatcher_.dispatch(std::move(call), [ticket](Outcome) {});
      return;
    }
    const std::uint64_t seq = first_seq_ + pending_.size();
    pending_.emplace_back();
    dispatcher_.dispatch(std::move(call), [self = shared_from_this(), seq, id = std::move(request.id),
                                           method = std::move(request.method), ticket](Outcome outcome) mutable {
      ticket.reset();  // the method has answered: no longer in progress, whatever the writing takes
      // Encoded on the replying thread, so a slow answer never costs the connection's strand.
      std::string bytes = self->encode_answer(id, method, outcome);
      asio::dispatch(self->executor_, [self, seq, bytes = std::move(bytes)]() mutable {
        self->complete(seq, std::move(bytes));
      });
    });
  }

  std::string encode_answer(const nlohmann::json& id, const std::string& method, const Outcome& outcome) const {
    std::string bytes = std::holds_alternative<nlohmann::json>(outcome)
                            ? encode_result(id, std::get<nlohmann::json>(outcome))
                            : encode_error(id, std::get<RpcError>(outcome));
    if (bytes.size() > max_message_ + 1) {
      spdlog::error("ipc: the answer of '{}' is {} bytes, over the {}-byte limit", method, bytes.size(),
                    max_message_);
      bytes = encode_error(id, RpcError{errc::internal_error,
                                        "the answer of '" + method + "' exceeds the " +
                                            std::to_string(max_message_) + "-byte message limit",
                                        nullptr});
    }
    return bytes;
  }

  void push_answer(std::string bytes) {
    pending_.emplace_back(std::move(bytes));
    flush_answers();
  }

  void complete(std::uint64_t seq, std::string bytes) {
    if (closed_ || seq < first_seq_) return;
    pending_[seq - first_seq_] = std::move(bytes);
    flush_answers();
  }

  // Moves every answer whose predecessors are all answered to the outbox: strict request order.
  void flush_answers() {
    while (!pending_.empty() && pending_.front()) {
      queue_output(*pending_.front());
      if (closed_) return;
      pending_.pop_front();
      ++first_seq_;
    }
    finish_if_flushed();
    read();  // resumes a paused connection
  }

  void queue_output(const std::string& bytes) {
    if (closed_) return;
    outbox_ += bytes;
    if (outbox_.size() + writing_.size() > max_outbound_bytes) {
      spdlog::warn("ipc: {} does not read its messages ({} bytes waiting); closing the connection",
                   describe(stream_->peer()), outbox_.size() + writing_.size());
      close_now();
      return;
    }
    write();
  }

  void write() {
    if (writing_in_progress_ || outbox_.empty() || closed_) return;
    // All answers that piled up while the previous write was in flight go out in one write.
    std::swap(writing_, outbox_);
    writing_in_progress_ = true;
    stream_->async_write(asio::buffer(writing_), [self = shared_from_this()](const error_code& ec, std::size_t) {
      self->on_write(ec);
    });
  }

  void on_write(const error_code& ec) {
    writing_in_progress_ = false;
    writing_.clear();
    if (closed_) return;
    if (ec) {
      spdlog::debug("ipc: write to {} failed: {}", describe(stream_->peer()), ec.message());
      close_now();
      return;
    }
    last_activity_ = Clock::now();
    write();
    finish_if_flushed();
    read();
  }

  void close_after_flush() {
    closing_ = true;
    finish_if_flushed();
  }

  void finish_if_flushed() {
    if (closing_ && pending_.empty() && outbox_.empty() && !writing_in_progress_) close_now();
  }

  void arm_idle_timer(Clock::duration after) {
    idle_timer_.expires_after(after);
    idle_timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_idle_timer(ec); });
  }

  // One timer per connection, re-armed only when it fires (not on every request): a busy connection
  // pays nothing for its idle limit.
  void on_idle_timer(const error_code& ec) {
    if (ec || closed_) return;
    const auto idle_for = Clock::now() - last_activity_;
    const Clock::duration limit = got_request_ ? Clock::duration(idle_timeout_) : Clock::duration(first_request_timeout_);
    // A method still working on an answer (and a client able to take it) is not idleness.
    const bool awaiting_method = !pending_.empty() && !pending_.front() && !writing_in_progress_;
    const bool held = held_open_.load(std::memory_order_acquire);
    if (idle_for >= limit && !awaiting_method && !held) {
      spdlog::debug("ipc: closing {} after {} s without {}", describe(stream_->peer()),
                    std::chrono::duration_cast<std::chrono::seconds>(limit).count(),
                    got_request_ ? "a request" : "a first complete request");
      close_now();
      return;
    }
    arm_idle_timer(awaiting_method || held || idle_for >= limit ? limit : limit - idle_for);
  }

  void close_now() {
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    closing_ = true;
    idle_timer_.cancel();
    stream_->close();
    pending_.clear();
    {
      std::lock_guard lock(subscription_mutex_);
      subscription_ = AdmissionTicket();
    }
    ticket_ = AdmissionTicket();  // the caller's connection is released with its descriptor
    if (on_closed_) on_closed_(this);
  }

  std::unique_ptr<Stream> stream_;
  asio::any_io_executor executor_;
  const Dispatcher& dispatcher_;
  std::chrono::seconds idle_timeout_;
  std::chrono::seconds first_request_timeout_;
  std::size_t max_message_;
  LineFramer framer_;
  asio::steady_timer idle_timer_;
  const Caller caller_;  // charged for this connection, its requests and its subscription
  std::shared_ptr<AdmissionLedger> ledger_;
  AdmissionTicket ticket_;  // this connection, counted until it closes
  std::mutex subscription_mutex_;
  AdmissionTicket subscription_;  // set once `subscribe` held the connection open
  std::function<void(Connection*)> on_closed_;

  std::array<char, read_chunk_bytes> read_buffer_{};
  std::deque<Slot> pending_;   // answers owed, in request order
  std::uint64_t first_seq_ = 0;  // sequence number of pending_.front()
  std::string outbox_;         // bytes to write after the write in flight
  std::string writing_;        // bytes of the write in flight
  Clock::time_point last_activity_{};
  bool reading_ = false;
  bool draining_ = false;  // lines read but not handled yet wait for their turn (handle_lines)
  bool writing_in_progress_ = false;
  bool closing_ = false;  // no more requests are read; close once everything owed is written
  bool got_request_ = false;  // a complete line arrived: idle_timeout_ applies from now on
  std::atomic<bool> held_open_{false};  // subscribed to notifications: no idle limit
  std::atomic<bool> closed_{false};
};

}  // namespace

class Server::Impl : public std::enable_shared_from_this<Server::Impl> {
 public:
  Impl(asio::io_context& io, ServerOptions options, const Dispatcher& dispatcher)
      : io_(io),
        options_(std::move(options)),
        dispatcher_(dispatcher),
        ledger_(AdmissionLedger::create(options_.limits)),
        retry_timer_(io) {}

  void start() {
    auto listener = make_listener(io_, options_);
    listener->start();
    listener_ = std::move(listener);  // only a started listener needs stopping
    running_ = true;
    spdlog::info("ipc: listening on {}", options_.endpoint);
    accept();
  }

  void stop() {
    if (!listener_ || stopped_.exchange(true)) return;
    running_ = false;
    retry_timer_.cancel();
    listener_->stop();
    std::map<Connection*, std::weak_ptr<Connection>> connections;
    {
      std::lock_guard lock(mutex_);
      connections.swap(connections_);
    }
    for (auto& [raw, weak] : connections) {
      if (auto connection = weak.lock()) connection->shutdown();
    }
  }

  std::size_t count() const { return count_.load(); }
  bool started() const { return listener_ != nullptr && !stopped_; }
  asio::io_context& io() { return io_; }

 private:
  void accept() {
    listener_->async_accept([weak = weak_from_this()](const error_code& ec, Accepted accepted) {
      auto self = weak.lock();
      if (!self || !self->running_) return;
      if (!ec) {
        self->admit(std::move(accepted));
        self->accept();
        return;
      }
      if (ec == asio::error::operation_aborted) return;
      // Transient failures (out of file descriptors, a client that vanished) must not end the accept
      // loop, nor spin it: try again shortly.
      spdlog::warn("ipc: accepting a connection on {} failed: {}; retrying", self->options_.endpoint, ec.message());
      self->retry_timer_.expires_after(std::chrono::milliseconds(100));
      self->retry_timer_.async_wait([weak](const error_code& wait_error) {
        auto self = weak.lock();
        if (!wait_error && self && self->running_) self->accept();
      });
    });
  }

  void admit(Accepted accepted) {
    Caller caller = caller_of(accepted.stream->peer());
    auto admitted = ledger_->open_connection(caller);
    if (auto* refusal = std::get_if<Refusal>(&admitted)) {
      // A flood is logged once every 10 s, with how many were refused, not once per connection.
      ++refused_since_log_;
      if (const auto now = Clock::now(); now - last_refusal_log_ >= std::chrono::seconds(10)) {
        spdlog::warn("ipc: refused a connection from {}: limit {} of {} reached; {} connection(s) refused since the "
                     "last such line",
                     describe(accepted.stream->peer()), to_string(refusal->limit), refusal->value, refused_since_log_);
        last_refusal_log_ = now;
        refused_since_log_ = 0;
      }
      reject(std::move(accepted.stream), to_rpc_error(*refusal));
      return;
    }
    spdlog::debug("ipc: connection from {}{}", describe(accepted.stream->peer()), caller.admin ? " (admin)" : "");
    ++count_;
    auto connection = std::make_shared<Connection>(
        std::move(accepted.stream), dispatcher_, options_, std::move(caller),
        std::get<AdmissionTicket>(std::move(admitted)), ledger_,
        [weak = weak_from_this()](Connection* closed) {
          if (auto self = weak.lock()) {
            std::lock_guard lock(self->mutex_);
            self->connections_.erase(closed);
            --self->count_;
          }
        });
    {
      std::lock_guard lock(mutex_);
      connections_.emplace(connection.get(), connection);
    }
    connection->start();
  }

  // Tells a refused client why, instead of leaving it to guess from a reset, and closes. The answer fits
  // in a fresh connection's socket buffer, so the write completes at once; the bound on pending ones is
  // for clients that found a way to make it wait.
  void reject(std::unique_ptr<Stream> owned, const RpcError& why) {
    std::shared_ptr<Stream> stream = std::move(owned);
    if (pending_refusals_.load() >= max_pending_refusals) {
      stream->close();
      return;
    }
    ++pending_refusals_;
    auto message = std::make_shared<std::string>(encode_error(nullptr, why));
    stream->async_write(asio::buffer(*message), [stream, message, weak = weak_from_this()](const error_code&, std::size_t) {
      stream->close();
      if (auto self = weak.lock()) --self->pending_refusals_;
    });
  }

  asio::io_context& io_;
  ServerOptions options_;
  const Dispatcher& dispatcher_;
  std::shared_ptr<AdmissionLedger> ledger_;
  std::unique_ptr<Listener> listener_;
  asio::steady_timer retry_timer_;
  bool running_ = false;
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> pending_refusals_{0};
  std::size_t refused_since_log_ = 0;  // accept handlers run on the io_context, one at a time
  Clock::time_point last_refusal_log_{};
  std::mutex mutex_;
  std::map<Connection*, std::weak_ptr<Connection>> connections_;
};

Server::Server(asio::io_context& io, ServerOptions options, const Dispatcher& dispatcher)
    : impl_(std::make_shared<Impl>(io, std::move(options), dispatcher)) {}

Server::~Server() {
  try {
    stop();
  } catch (const std::exception& error) {
    spdlog::error("ipc: stopping the server failed: {}", error.what());
  }
}

void Server::start() {
  // Before anything runs on the io_context, or from its thread: the listener is not yet shared.
  impl_->start();
}

void Server::stop() {
  if (!impl_->started()) return;
  asio::io_context& io = impl_->io();
  if (io.get_executor().running_in_this_thread() || io.stopped()) {
    impl_->stop();
    return;
  }
  // Another thread runs the io_context: stop there, where the listener lives, and wait for it so the
  // socket file is gone when stop() returns. If nothing runs the io_context, stop here.
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(io, [impl = impl_, done] {
    impl->stop();
    done->set_value();
  });
  if (finished.wait_for(std::chrono::seconds(5)) != std::future_status::ready) impl_->stop();
}

std::size_t Server::connection_count() const { return impl_->count(); }

}  // namespace edgeprov::ipc
