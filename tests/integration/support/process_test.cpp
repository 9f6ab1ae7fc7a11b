#include <catch2/catch_test_macros.hpp>

#include <signal.h>

#include "tests/support/process.h"

using namespace edgeprov::test;
using namespace std::chrono_literals;

TEST_CASE("a child's exit code, output and environment are seen by the test") {
  auto r = run({.argv = {"sh", "-c", "echo out-$EDGEPROV_X; echo err >&2; exit 3"},
                .env = {{"EDGEPROV_X", "42"}}});
  CHECK(r.status.code == 3);
  CHECK(r.output.find("out-42") != std::string::npos);
  CHECK(r.output.find("err") != std::string::npos);
}

TEST_CASE("a child that outlives its timeout is stopped, and stdin text reaches it") {
  auto slow = run({.argv = {"sleep", "30"}}, 200ms);
  CHECK(slow.status.signal == SIGTERM);
  auto echo = run({.argv = {"cat"}, .stdin_text = "hello"});
  CHECK(echo.output == "hello");
}

TEST_CASE("a child can run as nobody") {
  auto r = run({.argv = {"id", "-un"}, .run_as_user = "nobody"});
  CHECK(r.output == "nobody\n");
}
