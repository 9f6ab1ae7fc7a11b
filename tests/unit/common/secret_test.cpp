#include <catch2/catch_test_macros.hpp>

#include <sstream>

#include <fmt/format.h>

#include "common/secret.h"

using namespace edgeprov;

TEST_CASE("a secret formats as a mask through fmt and streams, and reveals only on request") {
  const Secret key{"c2VjcmV0LWtleQ=="};
  CHECK(fmt::format("key={}", key) == "key=<redacted>");
  std::ostringstream os;
  os << key;
  CHECK(os.str() == "<redacted>");
  CHECK(key.reveal() == "c2VjcmV0LWtleQ==");
  CHECK(key == Secret{"c2VjcmV0LWtleQ=="});
  CHECK_FALSE(key == Secret{"other"});
}
