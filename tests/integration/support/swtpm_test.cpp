#include <catch2/catch_test_macros.hpp>

#include "tests/support/swtpm.h"

using namespace edgeprov::test;

TEST_CASE("a fresh swtpm answers tpm2-tools and has no persistent handles") {
  Swtpm tpm;
  auto r = tpm.tpm2({"tpm2_getcap", "handles-persistent"});
  INFO(r.output);
  REQUIRE(r.status.code == 0);
  CHECK(r.output.find("0x81") == std::string::npos);
}

TEST_CASE("a manufactured swtpm has its EK persisted at 0x81010001 and keeps state across a restart") {
  Swtpm tpm({.manufactured = true});
  auto before = tpm.tpm2({"tpm2_readpublic", "-c", "0x81010001"});
  INFO(before.output);
  REQUIRE(before.status.code == 0);
  tpm.kill();
  CHECK_FALSE(tpm.running());
  CHECK(tpm.tpm2({"tpm2_getcap", "handles-persistent"}).status.code != 0);
  tpm.restart();
  auto after = tpm.tpm2({"tpm2_readpublic", "-c", "0x81010001"});
  CHECK(after.status.code == 0);
  CHECK(after.output == before.output);
}

TEST_CASE("two swtpm instances run side by side on different ports") {
  Swtpm a, b;
  CHECK(a.port() != b.port());
  CHECK(a.tpm2({"tpm2_getrandom", "8", "--hex"}).status.code == 0);
  CHECK(b.tpm2({"tpm2_getrandom", "8", "--hex"}).status.code == 0);
}
