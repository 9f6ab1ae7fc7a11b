// A DPS reply over HTTPS as the device reads it: the input is the raw HTTP response (status line,
// headers, body), parsed by Beast with the transport's body limit, then its status, Retry-After,
// Content-Type and body interpreted by dps::parse_http_reply for a TPM device polling an operation.
// parse_http_reply is total: any input gives a Reply.
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "dps/reply.h"
#include "dps/transport.h"
#include "tests/fuzz/fuzz_check.h"

namespace http = boost::beast::http;
using namespace edgeprov;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(dps::default_reply_limit);  // as dps/https_transport.cpp reads replies
  parser.eager(true);
  boost::system::error_code ec;
  auto buffer = boost::asio::buffer(data, size);
  while (buffer.size() > 0 && !parser.is_done()) {
    const std::size_t used = parser.put(buffer, ec);
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0) break;
    }
    if (ec) return 0;  // not HTTP: the transport reports a protocol error, nothing reaches the parser
    buffer += used;
  }
  if (!parser.is_done()) {
    if (!parser.got_some()) return 0;  // nothing came: the transport reports the closed connection
    parser.put_eof(ec);  // the server closed the connection: a body without a length ends here
    if (ec || !parser.is_done()) return 0;
  }
  const auto& message = parser.get();
  const int status = static_cast<int>(message.result_int());
  const std::string retry_after(message[http::field::retry_after]);
  const std::string content_type(message[http::field::content_type]);

  dps::ReplyContext context;
  context.id_scope = "0ne00FUZZ01";
  context.registration_id = "fuzz-device";
  context.attestation = dps::AttestationMethod::tpm;
  context.operation_id = "4.0000000000000000.00000000-0000-0000-0000-000000000000";
  dps::Reply reply = dps::parse_http_reply(status, retry_after, content_type, message.body(), context);
  if (const auto* rejected = std::get_if<dps::Rejected>(&reply)) {
    FUZZ_CHECK(!rejected->message.empty());
    FUZZ_CHECK(rejected->status == status);
  }
  if (const auto* assigning = std::get_if<dps::Assigning>(&reply)) FUZZ_CHECK(!assigning->operation_id.empty());
  (void)dps::parse_reply(status, retry_after, message.body());
  return 0;
}
