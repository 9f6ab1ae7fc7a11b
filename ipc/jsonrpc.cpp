// The pure JSON-RPC 2.0 codec: every decision about what a line means is made here, so the server and
// the client only move bytes. Nothing derived from input is ever dumped without error_handler_t::replace:
// nlohmann throws on invalid UTF-8 when serialising, and a client must never be able to make us throw.
#include "ipc/jsonrpc.h"

#include <algorithm>

namespace edgeprov::ipc {
namespace {

using nlohmann::json;

void dump_to(std::string& out, const json& value) {
  out += value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_valid_id(const json& id) {
  return id.is_null() || id.is_string() || id.is_number_integer() || id.is_number_unsigned();
}

DecodeError invalid_request(std::string message, json id = nullptr) {
  return DecodeError{RpcError{errc::invalid_request, std::move(message), nullptr}, std::move(id)};
}

json error_object(const RpcError& error) {
  json object = {{"code", error.code}, {"message", error.message}};
  if (!error.data.is_null()) object["data"] = error.data;
  return object;
}

}  // namespace

Decoded decode_request(std::string_view line) {
  if (line.size() > max_message_bytes) {
    return DecodeError{RpcError{errc::message_too_large,
                                "message of " + std::to_string(line.size()) + " bytes exceeds the limit of " +
                                    std::to_string(max_message_bytes) + " bytes per line",
                                nullptr},
                       nullptr};
  }
  // allow_exceptions=false: a malformed line (including ill-formed UTF-8 inside strings, which the
  // lexer rejects) comes back as a discarded value instead of an exception.
  json value = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return DecodeError{RpcError{errc::parse_error,
                                "parse error: the line is not valid JSON in UTF-8; send one JSON-RPC 2.0 "
                                "request object per line",
                                nullptr},
                       nullptr};
  }
  if (value.is_array()) {
    return invalid_request("batch requests are not supported: send one request object per line (requests "
                           "on one connection are answered in order)");
  }
  if (!value.is_object()) return invalid_request("invalid request: a request must be a JSON object");

  json id = nullptr;
  bool has_id = false;
  if (auto it = value.find("id"); it != value.end()) {
    if (!is_valid_id(*it)) {
      return invalid_request("invalid request: \"id\" must be a string, an integer or null");
    }
    id = *it;
    has_id = true;
  }
  auto version = value.find("jsonrpc");
  if (version == value.end() || !version->is_string() || version->get_ref<const std::string&>() != "2.0") {
    return invalid_request("invalid request: \"jsonrpc\" must be \"2.0\"", id);
  }
  auto method = value.find("method");
  if (method == value.end() || !method->is_string()) {
    return invalid_request("invalid request: \"method\" must be a string", id);
  }
  json params = nullptr;
  if (auto it = value.find("params"); it != value.end()) {
    if (!it->is_object() && !it->is_array()) {
      return invalid_request("invalid request: \"params\" must be an object or an array when present", id);
    }
    params = std::move(*it);
  }
  return Request{std::move(method->get_ref<std::string&>()), std::move(params), std::move(id), has_id};
}

std::string encode_result(const json& id, const json& result) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  dump_to(out, id);
  out += R"(,"result":)";
  dump_to(out, result);
  out += "}\n";
  return out;
}

std::string encode_error(const json& id, const RpcError& error) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  dump_to(out, id);
  out += R"(,"error":)";
  dump_to(out, error_object(error));
  out += "}\n";
  return out;
}

std::string encode_notification(std::string_view method, const json& params) {
  std::string out = R"({"jsonrpc":"2.0","method":)";
  dump_to(out, json(method));
  if (!params.is_null()) {
    out += R"(,"params":)";
    dump_to(out, params);
  }
  out += "}\n";
  return out;
}

std::string encode_request(const json& id, std::string_view method, const json& params) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  dump_to(out, id);
  out += R"(,"method":)";
  dump_to(out, json(method));
  if (!params.is_null()) {
    out += R"(,"params":)";
    dump_to(out, params);
  }
  out += "}\n";
  return out;
}

void LineFramer::feed(std::string_view bytes) {
  if (overflowed_) return;  // the connection is being closed: keep no more input
  // Compact lazily: drop consumed lines only when they make up most of the buffer, so a burst of
  // pipelined lines costs one move, not one per line.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    scanned_ -= consumed_;
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<std::string> LineFramer::next() {
  if (overflowed_) return std::nullopt;
  const auto newline = buffer_.find('\n', scanned_);
  if (newline == std::string::npos) {
    scanned_ = buffer_.size();
    if (buffer_.size() - consumed_ > max_line_) overflowed_ = true;
    return std::nullopt;
  }
  std::size_t end = newline;
  if (end > consumed_ && buffer_[end - 1] == '\r') --end;
  if (end - consumed_ > max_line_) {
    overflowed_ = true;
    return std::nullopt;
  }
  std::string line = buffer_.substr(consumed_, end - consumed_);
  consumed_ = newline + 1;
  scanned_ = consumed_;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = scanned_ = 0;
  }
  return line;
}

std::optional<Incoming> decode_incoming(std::string_view line) {
  json value = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  auto version = value.find("jsonrpc");
  if (version == value.end() || *version != "2.0") return std::nullopt;

  auto id = value.find("id");
  if (auto method = value.find("method"); method != value.end()) {
    if (id != value.end() || !method->is_string()) return std::nullopt;  // we take no requests
    Notification notification{method->get<std::string>(), nullptr};
    if (auto params = value.find("params"); params != value.end()) notification.params = std::move(*params);
    return notification;
  }
  if (id == value.end() || !is_valid_id(*id)) return std::nullopt;
  auto result = value.find("result");
  auto error = value.find("error");
  if ((result == value.end()) == (error == value.end())) return std::nullopt;  // exactly one of them
  Response response{*id, std::nullopt, std::nullopt};
  if (result != value.end()) {
    response.result = std::move(*result);
    return response;
  }
  if (!error->is_object()) return std::nullopt;
  auto code = error->find("code");
  auto message = error->find("message");
  if (code == error->end() || !code->is_number_integer() || message == error->end() || !message->is_string()) {
    return std::nullopt;
  }
  RpcError rpc{code->get<int>(), message->get<std::string>(), nullptr};
  if (auto data = error->find("data"); data != error->end()) rpc.data = std::move(*data);
  response.error = std::move(rpc);
  return response;
}

}  // namespace edgeprov::ipc
