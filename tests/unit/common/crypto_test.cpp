#include <catch2/catch_test_macros.hpp>

#include "common/crypto.h"
#include "common/encoding.h"

using namespace edgeprov;

TEST_CASE("SHA-256 of \"abc\" is the FIPS 180-2 value") {
  // printf abc | openssl dgst -sha256
  CHECK(hex_encode(sha256(as_bytes("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("HMAC-SHA-256 matches RFC 4231 test case 2") {
  // printf 'what do ya want for nothing?' | openssl dgst -sha256 -hmac Jefe
  CHECK(hex_encode(hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("random bytes have the requested length and differ between calls") {
  auto a = random_bytes(32), b = random_bytes(32);
  CHECK(a.size() == 32);
  CHECK(a != b);
}

TEST_CASE("constant-time comparison compares content and length") {
  CHECK(constant_time_equal(as_bytes("abc"), as_bytes("abc")));
  CHECK_FALSE(constant_time_equal(as_bytes("abc"), as_bytes("abd")));
  CHECK_FALSE(constant_time_equal(as_bytes("abc"), as_bytes("ab")));
}
