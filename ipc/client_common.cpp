#include "ipc/client_common.h"

#include <algorithm>
#include <array>

namespace edgeprov::ipc::detail {

using Clock = std::chrono::steady_clock;

std::optional<Incoming> ClientSession::read_message(Transport& transport, Clock::time_point deadline) {
  std::array<char, 16 * 1024> buffer{};
  for (;;) {
    while (auto line = framer_.next()) {
      if (line->empty()) continue;
      if (auto message = decode_incoming(*line)) return message;
      throw ClientError(ClientError::Kind::protocol,
                        "the endpoint " + endpoint_ + " answered something that is not JSON-RPC 2.0: is it edgeprovd?");
    }
    if (framer_.overflowed()) {
      throw ClientError(ClientError::Kind::protocol, "the answer from " + endpoint_ + " is too large");
    }
    auto n = transport.read_some(buffer.data(), buffer.size(), deadline);
    if (!n) return std::nullopt;
    if (*n == 0) {
      throw ClientError(ClientError::Kind::protocol,
                        "edgeprovd at " + endpoint_ + " closed the connection before answering");
    }
    framer_.feed(std::string_view(buffer.data(), *n));
  }
}

nlohmann::json ClientSession::call(Transport& transport, std::string_view method, const nlohmann::json& params,
                                   std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::int64_t id = next_id_++;
  try {
    transport.write_all(encode_request(id, method, params), deadline);
  } catch (const ClientError& write_error) {
    if (write_error.kind() != ClientError::Kind::protocol) throw;
    // The server closed the connection, perhaps after saying why (a refusal by its admission limits,
    // written as soon as it accepted us): that answer is more use to the caller than "closed".
    std::optional<Incoming> told;
    try {
      told = read_message(transport, std::min(deadline, Clock::now() + std::chrono::milliseconds(500)));
    } catch (const ClientError&) {
    }
    const auto* response = told ? std::get_if<Response>(&*told) : nullptr;
    if (response && response->error && response->id.is_null())
      throw ClientError(ClientError::Kind::rpc, response->error->message, response->error);
    throw;
  }
  for (;;) {
    auto message = read_message(transport, deadline);
    if (!message) {
      throw ClientError(ClientError::Kind::timeout, "edgeprovd at " + endpoint_ + " did not answer '" +
                                                        std::string(method) + "' within " +
                                                        std::to_string(timeout.count()) + " ms");
    }
    if (auto* notification = std::get_if<Notification>(&*message)) {
      notifications_.push_back(std::move(*notification));
      continue;
    }
    auto& response = std::get<Response>(*message);
    // A null id answers a request the server could not read (parse error, too large, busy): ours,
    // since this client has one request in flight at a time.
    const bool ours = response.id == id || response.id.is_null();
    if (!ours) continue;  // the answer to an earlier call that timed out
    if (response.error) {
      throw ClientError(ClientError::Kind::rpc, response.error->message, response.error);
    }
    return std::move(*response.result);
  }
}

std::optional<Notification> ClientSession::next_notification(Transport& transport,
                                                              std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (notifications_.empty()) {
    auto message = read_message(transport, deadline);
    if (!message) return std::nullopt;
    if (auto* notification = std::get_if<Notification>(&*message)) notifications_.push_back(std::move(*notification));
  }
  Notification next = std::move(notifications_.front());
  notifications_.pop_front();
  return next;
}

}  // namespace edgeprov::ipc::detail
