// The local API's line codec as the server and the client run it: bytes framed into lines (fed whole and
// in small reads, which must give the same lines), each line decoded as a request and as an incoming
// message, and whatever was decoded encoded again. A request that decodes must survive
// encode_request → decode_request unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/jsonrpc.h"
#include "tests/fuzz/fuzz_check.h"

using namespace edgeprov::ipc;

namespace {

constexpr std::size_t max_line = 4096;  // small, so the overflow path is reached too

std::vector<std::string> frame(std::string_view bytes, std::size_t chunk, bool& overflowed) {
  LineFramer framer(max_line);
  std::vector<std::string> lines;
  while (!bytes.empty() && !framer.overflowed()) {
    const auto piece = bytes.substr(0, chunk);
    bytes.remove_prefix(piece.size());
    framer.feed(piece);
    while (auto line = framer.next()) {
      FUZZ_CHECK(line->size() <= max_line);
      FUZZ_CHECK(line->find('\n') == std::string::npos);
      lines.push_back(std::move(*line));
    }
  }
  overflowed = framer.overflowed();
  return lines;
}

void decode(const std::string& line) {
  Decoded decoded = decode_request(line);
  if (auto* error = std::get_if<DecodeError>(&decoded)) {
    const std::string answer = encode_error(error->id, error->error);
    FUZZ_CHECK(!answer.empty() && answer.back() == '\n');
    FUZZ_CHECK(answer.find('\n') == answer.size() - 1);
  } else {
    const auto& request = std::get<Request>(decoded);
    const std::string again = encode_request(request.id, request.method, request.params);
    FUZZ_CHECK(again.find('\n') == again.size() - 1);
    Decoded round_trip = decode_request(std::string_view(again).substr(0, again.size() - 1));
    const auto* same = std::get_if<Request>(&round_trip);
    FUZZ_CHECK(same != nullptr);
    FUZZ_CHECK(same->method == request.method);
    FUZZ_CHECK(same->id == request.id);
    FUZZ_CHECK(same->params == request.params);
    (void)encode_result(request.id, request.params);
    (void)encode_notification(request.method, request.params);
  }
  (void)decode_incoming(line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  bool whole_overflowed = false;
  bool split_overflowed = false;
  const auto whole = frame(bytes, bytes.size() + 1, whole_overflowed);
  // Reads of 1 to 61 bytes, as a socket may deliver them.
  const auto split = frame(bytes, 1 + size % 61, split_overflowed);
  FUZZ_CHECK(whole == split);
  FUZZ_CHECK(whole_overflowed == split_overflowed);
  for (const auto& line : whole) decode(line);
  return 0;
}
