// ipc/jsonrpc.h — JSON-RPC 2.0 over newline-delimited frames: the pure codec of the local API.
// Bytes in, values out: no sockets, no threads, never throws on bad input.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgeprov::ipc {

inline constexpr std::size_t max_message_bytes = 64 * 1024;  // one line, without its '\n'

// JSON-RPC 2.0 codes, then edgeprov's application codes (documented in docs/ipc-api.md).
namespace errc {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int unauthorized = -32001;       // the caller's OS identity may not call this method
inline constexpr int message_too_large = -32002;  // a line over max_message_bytes; connection closed
inline constexpr int busy = -32003;               // server at its connection limit / shutting down
inline constexpr int tpm_unavailable = -32010;   // the TPM could not be used: data has kind, command, rc, fix
inline constexpr int not_provisioned = -32020;   // identity.*: the device has no assignment yet (see status)
inline constexpr int not_supported = -32021;     // the method does not apply to this attestation (X.509 SAS)
inline constexpr int provisioning_failed = -32022;  // reprovision: the attempt failed; data = lastAttempt.error
}  // namespace errc

struct RpcError {
  int code = errc::internal_error;
  std::string message;
  nlohmann::json data;  // null when absent
};

struct Request {
  std::string method;
  nlohmann::json params;  // object, array, or null when absent
  nlohmann::json id;      // number, string or null; absent (notification) when !has_id
  bool has_id = false;
};

// One decoded line: a request, or an error to send back (with the id when it could be read).
struct DecodeError {
  RpcError error;
  nlohmann::json id;  // null when unknown
};
using Decoded = std::variant<Request, DecodeError>;

// Decodes one line (without its '\n'). Invalid UTF-8 or JSON → parse_error; a valid JSON value that is
// not a request object → invalid_request. Batches (arrays) are answered with invalid_request.
Decoded decode_request(std::string_view line);

std::string encode_result(const nlohmann::json& id, const nlohmann::json& result);  // ends with '\n'
std::string encode_error(const nlohmann::json& id, const RpcError& error);         // ends with '\n'
std::string encode_notification(std::string_view method, const nlohmann::json& params);
std::string encode_request(const nlohmann::json& id, std::string_view method, const nlohmann::json& params);

// Splits a byte stream into lines. Feed it what the socket delivers; take complete lines out.
class LineFramer {
 public:
  explicit LineFramer(std::size_t max_line = max_message_bytes) : max_line_(max_line) {}
  void feed(std::string_view bytes);
  // The next complete line, without '\n' (a trailing '\r' is dropped too).
  std::optional<std::string> next();
  // True once a line grew past the limit: the connection must answer message_too_large and close.
  bool overflowed() const { return overflowed_; }

 private:
  std::size_t max_line_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes of buffer_ already returned as lines
  std::size_t scanned_ = 0;   // bytes of buffer_ known to hold no '\n' past consumed_
  bool overflowed_ = false;
};

// Client side: a response line parsed back.
struct Response {
  nlohmann::json id;
  std::optional<nlohmann::json> result;  // set on success
  std::optional<RpcError> error;         // set on failure
};
struct Notification {
  std::string method;
  nlohmann::json params;
};
using Incoming = std::variant<Response, Notification>;
std::optional<Incoming> decode_incoming(std::string_view line);  // nullopt if not JSON-RPC

}  // namespace edgeprov::ipc
