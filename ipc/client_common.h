// ipc/client_common.h — what both client leaves share: the bytes they send, how they read answers back,
// and the wording of their errors. Internal to ipc/.
#pragma once
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "ipc/client.h"

namespace edgeprov::ipc::detail {

// The platform leaf's two primitives. read_some returns 0 on EOF, nullopt on timeout, throws on error.
struct Transport {
  std::function<void(std::string_view bytes, std::chrono::steady_clock::time_point deadline)> write_all;
  std::function<std::optional<std::size_t>(char* buffer, std::size_t size,
                                           std::chrono::steady_clock::time_point deadline)>
      read_some;
};

// Request ids, the line framer and the queue of notifications that arrived while a call waited.
class ClientSession {
 public:
  explicit ClientSession(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  nlohmann::json call(Transport& transport, std::string_view method, const nlohmann::json& params,
                      std::chrono::milliseconds timeout);
  std::optional<Notification> next_notification(Transport& transport, std::chrono::milliseconds timeout);
  const std::string& endpoint() const { return endpoint_; }

 private:
  // The next JSON-RPC message, or nullopt at the deadline.
  std::optional<Incoming> read_message(Transport& transport, std::chrono::steady_clock::time_point deadline);

  std::string endpoint_;
  std::int64_t next_id_ = 1;
  // Answers can be larger than requests are allowed to be; stay generous but bounded.
  LineFramer framer_{16 * max_message_bytes};
  std::deque<Notification> notifications_;
};

}  // namespace edgeprov::ipc::detail
