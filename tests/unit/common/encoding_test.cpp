#include <catch2/catch_test_macros.hpp>

#include "common/encoding.h"

using namespace edgeprov;

// Vectors: RFC 4648 §10, and `printf %s … | base64` / `| base32` / `| xxd -p` on the command line.
TEST_CASE("base64 encodes and decodes the RFC 4648 vectors") {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    CHECK(base64_encode(as_bytes(plain[i])) == coded[i]);
    auto back = base64_decode(coded[i]);
    REQUIRE(back);
    CHECK(to_string(*back) == plain[i]);
  }
}

TEST_CASE("base64 decoding rejects whitespace, bad length, bad characters and inner padding") {
  CHECK_FALSE(base64_decode("Zm9v\n"));
  CHECK_FALSE(base64_decode("Zm9"));
  CHECK_FALSE(base64_decode("Zm9*"));
  CHECK_FALSE(base64_decode("Zg==Zm9v"));
  CHECK_FALSE(base64_decode("Z==="));
}

TEST_CASE("base32 is lowercase and unpadded as the Azure SDK prints registration ids") {
  CHECK(base32_encode_lower_unpadded(as_bytes("")) == "");
  CHECK(base32_encode_lower_unpadded(as_bytes("f")) == "my");
  CHECK(base32_encode_lower_unpadded(as_bytes("fo")) == "mzxq");
  CHECK(base32_encode_lower_unpadded(as_bytes("foo")) == "mzxw6");
  CHECK(base32_encode_lower_unpadded(as_bytes("foob")) == "mzxw6yq");
  CHECK(base32_encode_lower_unpadded(as_bytes("fooba")) == "mzxw6ytb");
  CHECK(base32_encode_lower_unpadded(as_bytes("foobar")) == "mzxw6ytboi");
}

TEST_CASE("hex round-trips and rejects odd lengths and non-hex digits") {
  const Bytes data{0x00, 0x7f, 0x80, 0xff};
  CHECK(hex_encode(data) == "007f80ff");
  CHECK(hex_decode("007F80ff") == data);
  CHECK_FALSE(hex_decode("abc"));
  CHECK_FALSE(hex_decode("zz"));
}

TEST_CASE("url encoding keeps only unreserved characters, in upper or lower hex") {
  CHECK(url_encode("0ne00000001/registrations/dev-1") == "0ne00000001%2Fregistrations%2Fdev-1");
  CHECK(url_encode("a b/c", true) == "a%20b%2fc");
  CHECK(url_encode("A-Z.a_z~09") == "A-Z.a_z~09");
  CHECK(url_decode("0ne%2fregistrations%2Fx") == "0ne/registrations/x");
  CHECK_FALSE(url_decode("abc%2"));
  CHECK_FALSE(url_decode("abc%g1"));
}
