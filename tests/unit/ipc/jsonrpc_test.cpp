#include <catch2/catch_test_macros.hpp>

#include "ipc/jsonrpc.h"

using namespace edgeprov::ipc;
using nlohmann::json;

namespace {

Request request_of(std::string_view line) {
  auto decoded = decode_request(line);
  REQUIRE(std::holds_alternative<Request>(decoded));
  return std::get<Request>(decoded);
}

DecodeError error_of(std::string_view line) {
  auto decoded = decode_request(line);
  REQUIRE(std::holds_alternative<DecodeError>(decoded));
  return std::get<DecodeError>(decoded);
}

}  // namespace

TEST_CASE("a well-formed request is decoded with its method, params and id") {
  auto request = request_of(R"({"jsonrpc":"2.0","id":7,"method":"status","params":{"verbose":true}})");
  CHECK(request.method == "status");
  CHECK(request.params == json{{"verbose", true}});
  CHECK(request.id == 7);
  CHECK(request.has_id);
}

TEST_CASE("a request without params has null params") {
  auto request = request_of(R"({"jsonrpc":"2.0","id":"a","method":"version"})");
  CHECK(request.params.is_null());
  CHECK(request.id == "a");
}

TEST_CASE("a request without id is a notification") {
  auto request = request_of(R"({"jsonrpc":"2.0","method":"status"})");
  CHECK_FALSE(request.has_id);
}

TEST_CASE("a null id is a request, not a notification") {
  auto request = request_of(R"({"jsonrpc":"2.0","id":null,"method":"status"})");
  CHECK(request.has_id);
  CHECK(request.id.is_null());
}

TEST_CASE("string, negative and large unsigned ids are accepted") {
  CHECK(request_of(R"({"jsonrpc":"2.0","id":-5,"method":"m"})").id == -5);
  CHECK(request_of(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"m"})").id ==
        json(18446744073709551615ULL));
  CHECK(request_of(R"({"jsonrpc":"2.0","id":"x-1","method":"m"})").id == "x-1");
}

TEST_CASE("fractional, object, array and boolean ids are invalid requests") {
  for (auto line : {R"({"jsonrpc":"2.0","id":1.5,"method":"m"})", R"({"jsonrpc":"2.0","id":{"a":1},"method":"m"})",
                    R"({"jsonrpc":"2.0","id":[1],"method":"m"})", R"({"jsonrpc":"2.0","id":true,"method":"m"})"}) {
    auto error = error_of(line);
    CHECK(error.error.code == errc::invalid_request);
    CHECK(error.id.is_null());
  }
}

TEST_CASE("text that is not JSON is a parse error with a null id") {
  auto error = error_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\"");
  CHECK(error.error.code == -32700);
  CHECK(error.id.is_null());
  CHECK(error_of("hello").error.code == errc::parse_error);
  CHECK(error_of("").error.code == errc::parse_error);
}

TEST_CASE("invalid UTF-8 inside a string is a parse error") {
  CHECK(error_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"st\xff\xfe\"}").error.code == errc::parse_error);
  // An overlong encoding of '/' and a lone continuation byte.
  CHECK(error_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\xaf\"}").error.code == errc::parse_error);
  CHECK(error_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\x80\"}").error.code == errc::parse_error);
}

TEST_CASE("a batch array is an invalid request that says batches are not supported") {
  auto error = error_of(R"([{"jsonrpc":"2.0","id":1,"method":"status"}])");
  CHECK(error.error.code == -32600);
  CHECK(error.error.message.find("batch") != std::string::npos);
  CHECK(error_of("[]").error.code == errc::invalid_request);
}

TEST_CASE("a JSON value that is not an object is an invalid request") {
  CHECK(error_of("42").error.code == errc::invalid_request);
  CHECK(error_of("\"status\"").error.code == errc::invalid_request);
  CHECK(error_of("null").error.code == errc::invalid_request);
}

TEST_CASE("a wrong or missing jsonrpc version is an invalid request that keeps the id") {
  auto error = error_of(R"({"jsonrpc":"1.0","id":3,"method":"status"})");
  CHECK(error.error.code == errc::invalid_request);
  CHECK(error.id == 3);
  CHECK(error_of(R"({"id":3,"method":"status"})").error.code == errc::invalid_request);
  CHECK(error_of(R"({"jsonrpc":2.0,"id":3,"method":"status"})").error.code == errc::invalid_request);
}

TEST_CASE("a missing or non-string method is an invalid request") {
  CHECK(error_of(R"({"jsonrpc":"2.0","id":3})").error.code == errc::invalid_request);
  auto error = error_of(R"({"jsonrpc":"2.0","id":"k","method":5})");
  CHECK(error.error.code == errc::invalid_request);
  CHECK(error.id == "k");
}

TEST_CASE("params that are neither object nor array make an invalid request") {
  CHECK(error_of(R"({"jsonrpc":"2.0","id":1,"method":"m","params":3})").error.code == errc::invalid_request);
  CHECK(error_of(R"({"jsonrpc":"2.0","id":1,"method":"m","params":"x"})").error.code == errc::invalid_request);
  CHECK(request_of(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[1,2]})").params == json{1, 2});
}

TEST_CASE("a line over 64 KiB is refused as too large before parsing") {
  std::string line(max_message_bytes + 1, ' ');
  CHECK(error_of(line).error.code == errc::message_too_large);
}

TEST_CASE("the error codes are the JSON-RPC 2.0 ones and edgeprov's documented ones") {
  CHECK(errc::parse_error == -32700);
  CHECK(errc::invalid_request == -32600);
  CHECK(errc::method_not_found == -32601);
  CHECK(errc::invalid_params == -32602);
  CHECK(errc::internal_error == -32603);
  CHECK(errc::unauthorized == -32001);
  CHECK(errc::message_too_large == -32002);
  CHECK(errc::busy == -32003);
}

TEST_CASE("a result is encoded as one line with jsonrpc, id and result") {
  auto line = encode_result(4, json{{"state", "provisioned"}});
  CHECK(line == "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"state\":\"provisioned\"}}\n");
}

TEST_CASE("an error is encoded with code and message, and data only when present") {
  CHECK(encode_error(nullptr, RpcError{-32700, "bad", nullptr}) ==
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"bad\"}}\n");
  auto line = encode_error("z", RpcError{-32001, "no", json{{"need", "admin"}}});
  CHECK(json::parse(line)["error"]["data"]["need"] == "admin");
}

TEST_CASE("encoding text with invalid UTF-8 replaces it instead of throwing") {
  std::string bad = "method \xff\xfe";
  std::string line;
  REQUIRE_NOTHROW(line = encode_error(nullptr, RpcError{errc::method_not_found, bad, nullptr}));
  auto parsed = json::parse(line);
  CHECK(parsed["error"]["message"] == "method \xEF\xBF\xBD\xEF\xBF\xBD");
  REQUIRE_NOTHROW(encode_result(1, json(bad)));
  REQUIRE_NOTHROW(encode_notification(bad, json{{"k", bad}}));
  REQUIRE_NOTHROW(encode_request(1, bad, nullptr));
}

TEST_CASE("a notification and a request encode and decode back") {
  auto notification = decode_incoming(encode_notification("status.changed", json{{"state", "retrying"}}));
  REQUIRE(notification);
  REQUIRE(std::holds_alternative<Notification>(*notification));
  CHECK(std::get<Notification>(*notification).method == "status.changed");
  CHECK(std::get<Notification>(*notification).params["state"] == "retrying");

  std::string line = encode_request(9, "status", nullptr);
  REQUIRE(line.back() == '\n');
  line.pop_back();
  auto request = request_of(line);
  CHECK(request.method == "status");
  CHECK(request.id == 9);
}

TEST_CASE("responses decode to a result or an error") {
  auto ok = decode_incoming(R"({"jsonrpc":"2.0","id":1,"result":null})");
  REQUIRE(ok);
  auto& response = std::get<Response>(*ok);
  CHECK(response.id == 1);
  REQUIRE(response.result);
  CHECK(response.result->is_null());
  CHECK_FALSE(response.error);

  auto failed = decode_incoming(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32001,"message":"admin only"}})");
  REQUIRE(failed);
  auto& error = std::get<Response>(*failed);
  REQUIRE(error.error);
  CHECK(error.error->code == errc::unauthorized);
  CHECK(error.error->message == "admin only");
}

TEST_CASE("lines that are not JSON-RPC responses or notifications are not decoded") {
  CHECK_FALSE(decode_incoming("garbage"));
  CHECK_FALSE(decode_incoming(R"({"id":1,"result":1})"));
  CHECK_FALSE(decode_incoming(R"({"jsonrpc":"2.0","id":1})"));
  CHECK_FALSE(decode_incoming(R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}})"));
  CHECK_FALSE(decode_incoming(R"({"jsonrpc":"2.0","id":1,"error":{"message":"x"}})"));
  CHECK_FALSE(decode_incoming(R"({"jsonrpc":"2.0","id":1,"method":"server-to-client request"})"));
}

TEST_CASE("the framer returns pipelined lines in order") {
  LineFramer framer;
  framer.feed("a\nbb\nccc\n");
  CHECK(framer.next() == "a");
  CHECK(framer.next() == "bb");
  CHECK(framer.next() == "ccc");
  CHECK_FALSE(framer.next());
}

TEST_CASE("the framer joins a line split across reads") {
  LineFramer framer;
  framer.feed("{\"jsonrpc\":");
  CHECK_FALSE(framer.next());
  framer.feed("\"2.0\"}");
  CHECK_FALSE(framer.next());
  framer.feed("\n{\"x\"");
  CHECK(framer.next() == "{\"jsonrpc\":\"2.0\"}");
  CHECK_FALSE(framer.next());
  framer.feed(":1}\n");
  CHECK(framer.next() == "{\"x\":1}");
}

TEST_CASE("the framer feeds one byte at a time") {
  LineFramer framer;
  std::string stream = "one\ntwo\n";
  std::vector<std::string> lines;
  for (char c : stream) {
    framer.feed(std::string_view(&c, 1));
    while (auto line = framer.next()) lines.push_back(*line);
  }
  CHECK(lines == std::vector<std::string>{"one", "two"});
}

TEST_CASE("the framer drops the carriage return of CRLF line ends") {
  LineFramer framer;
  framer.feed("a\r\nb\r\n\r\n");
  CHECK(framer.next() == "a");
  CHECK(framer.next() == "b");
  CHECK(framer.next() == "");
}

TEST_CASE("a line of exactly the limit passes and one byte more overflows") {
  LineFramer framer(8);
  framer.feed("12345678\n");
  CHECK(framer.next() == "12345678");
  CHECK_FALSE(framer.overflowed());
  framer.feed("123456789\n");
  CHECK_FALSE(framer.next());
  CHECK(framer.overflowed());
}

TEST_CASE("a line that grows past the limit without a newline overflows before it ends") {
  LineFramer framer(max_message_bytes);
  framer.feed(std::string(max_message_bytes, 'x'));
  CHECK_FALSE(framer.next());
  CHECK_FALSE(framer.overflowed());
  framer.feed("x");
  CHECK_FALSE(framer.next());
  CHECK(framer.overflowed());
}

TEST_CASE("lines before an oversized line are still returned") {
  LineFramer framer(4);
  framer.feed("ok\ntoolong\nlater\n");
  CHECK(framer.next() == "ok");
  CHECK_FALSE(framer.next());
  CHECK(framer.overflowed());
  CHECK_FALSE(framer.next());
}

TEST_CASE("many pipelined lines keep working while the buffer compacts") {
  LineFramer framer;
  for (int round = 0; round < 1000; ++round) {
    framer.feed("req-" + std::to_string(round) + "\nre");
    framer.feed("q-x\n");
    CHECK(framer.next() == "req-" + std::to_string(round));
    CHECK(framer.next() == "req-x");
  }
  CHECK_FALSE(framer.next());
}
