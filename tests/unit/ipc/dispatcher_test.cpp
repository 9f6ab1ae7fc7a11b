#include <catch2/catch_test_macros.hpp>

#include <stdexcept>

#include "ipc/dispatcher.h"

using namespace edgeprov::ipc;
using nlohmann::json;

namespace {

Peer user_peer() {
  Peer peer;
  peer.uid = 1000;
  peer.gid = 1000;
  peer.name = "alice";
  return peer;
}

Peer admin_peer() {
  Peer peer;
  peer.uid = 0;
  peer.gid = 0;
  peer.name = "root";
  peer.admin = true;
  return peer;
}

struct Captured {
  int calls = 0;
  Outcome outcome;
};

// Dispatches and records every reply, to check it came exactly once.
Captured run(const Dispatcher& dispatcher, std::string method, Peer peer, json params = nullptr) {
  Captured captured;
  dispatcher.dispatch(Call{std::move(method), std::move(params), std::move(peer), {}}, [&](Outcome outcome) {
    ++captured.calls;
    captured.outcome = std::move(outcome);
  });
  return captured;
}

RpcError error_in(const Captured& captured) {
  REQUIRE(std::holds_alternative<RpcError>(captured.outcome));
  return std::get<RpcError>(captured.outcome);
}

Dispatcher sample() {
  Dispatcher dispatcher;
  dispatcher.add("status", Access::local_user, [](const Call&) { return json{{"state", "starting"}}; });
  dispatcher.add("reprovision", Access::admin, [](const Call&) { return json{{"accepted", true}}; });
  return dispatcher;
}

}  // namespace

TEST_CASE("a local user may call a local_user method") {
  auto captured = run(sample(), "status", user_peer());
  CHECK(captured.calls == 1);
  REQUIRE(std::holds_alternative<json>(captured.outcome));
  CHECK(std::get<json>(captured.outcome)["state"] == "starting");
}

TEST_CASE("a local user is refused an admin method with unauthorized naming the identity needed") {
  int ran = 0;
  Dispatcher dispatcher;
  dispatcher.add("reprovision", Access::admin, [&](const Call&) {
    ++ran;
    return json(true);
  });
  auto captured = run(dispatcher, "reprovision", user_peer());
  CHECK(ran == 0);
  CHECK(captured.calls == 1);
  const auto& error = error_in(captured);
  CHECK(error.code == errc::unauthorized);
  CHECK(error.message.find("reprovision") != std::string::npos);
  CHECK(error.message.find("root") != std::string::npos);
  CHECK(error.message.find("alice") != std::string::npos);
}

TEST_CASE("a Windows caller refused an admin method is told to use an elevated prompt or SYSTEM") {
  Peer peer;
  peer.sid = "S-1-5-21-1-2-3-1001";
  peer.name = "HOST\\bob";
  const auto& error = error_in(run(sample(), "reprovision", peer));
  CHECK(error.code == errc::unauthorized);
  CHECK(error.message.find("elevated") != std::string::npos);
  CHECK(error.message.find("SYSTEM") != std::string::npos);
}

TEST_CASE("an admin may call an admin method and a local_user method") {
  auto admin = run(sample(), "reprovision", admin_peer());
  REQUIRE(std::holds_alternative<json>(admin.outcome));
  CHECK(std::get<json>(admin.outcome)["accepted"] == true);
  CHECK(std::holds_alternative<json>(run(sample(), "status", admin_peer()).outcome));
}

TEST_CASE("an unknown method is method_not_found") {
  auto captured = run(sample(), "rpc.discover", admin_peer());
  CHECK(captured.calls == 1);
  CHECK(error_in(captured).code == errc::method_not_found);
}

TEST_CASE("an RpcError thrown by a handler reaches the caller unchanged") {
  Dispatcher dispatcher;
  dispatcher.add("m", Access::local_user,
                 [](const Call&) -> json { throw RpcError{errc::invalid_params, "lines must be 1..1000", json(7)}; });
  const auto& error = error_in(run(dispatcher, "m", user_peer()));
  CHECK(error.code == errc::invalid_params);
  CHECK(error.message == "lines must be 1..1000");
  CHECK(error.data == 7);
}

TEST_CASE("a handler exception becomes internal_error without its text") {
  Dispatcher dispatcher;
  dispatcher.add("m", Access::local_user, [](const Call&) -> json {
    throw std::runtime_error("secret path /var/lib/edgeprov/key.bin");
  });
  auto captured = run(dispatcher, "m", user_peer());
  CHECK(captured.calls == 1);
  const auto& error = error_in(captured);
  CHECK(error.code == errc::internal_error);
  CHECK(error.message.find("secret") == std::string::npos);
  CHECK(error.message.find("/var/lib") == std::string::npos);
}

TEST_CASE("a handler reading params of the wrong shape gets invalid_params") {
  Dispatcher dispatcher;
  dispatcher.add("logs", Access::local_user, [](const Call& call) { return json(call.params.at("lines").get<int>()); });
  const auto& error = error_in(run(dispatcher, "logs", user_peer(), json{{"count", 3}}));
  CHECK(error.code == errc::invalid_params);
  CHECK(error.message.find("lines") != std::string::npos);
}

TEST_CASE("an async method may reply later and the reply is delivered once") {
  Dispatcher dispatcher;
  Reply saved;
  dispatcher.add_async("slow", Access::local_user, [&](Call, Reply reply) { saved = std::move(reply); });
  Captured captured;
  dispatcher.dispatch(Call{"slow", nullptr, user_peer(), {}}, [&](Outcome outcome) {
    ++captured.calls;
    captured.outcome = std::move(outcome);
  });
  CHECK(captured.calls == 0);
  saved(json("done"));
  saved(json("again"));
  CHECK(captured.calls == 1);
  CHECK(std::get<json>(captured.outcome) == "done");
}

TEST_CASE("an async method that throws before replying answers with the error") {
  Dispatcher dispatcher;
  dispatcher.add_async("a", Access::local_user, [](Call, Reply) { throw RpcError{errc::invalid_params, "bad", nullptr}; });
  dispatcher.add_async("b", Access::local_user, [](Call, Reply) { throw std::logic_error("xyzzy invariant broken"); });
  auto a = run(dispatcher, "a", user_peer());
  CHECK(a.calls == 1);
  CHECK(error_in(a).code == errc::invalid_params);
  auto b = run(dispatcher, "b", user_peer());
  CHECK(b.calls == 1);
  CHECK(error_in(b).code == errc::internal_error);
  CHECK(error_in(b).message.find("xyzzy") == std::string::npos);
}

TEST_CASE("an async method that replies and then throws answers only once") {
  Dispatcher dispatcher;
  dispatcher.add_async("a", Access::local_user, [](Call, Reply reply) {
    reply(json(1));
    throw std::runtime_error("late");
  });
  auto captured = run(dispatcher, "a", user_peer());
  CHECK(captured.calls == 1);
  CHECK(std::get<json>(captured.outcome) == 1);
}

TEST_CASE("an async method that drops its reply unanswered still answers internal_error") {
  Dispatcher dispatcher;
  dispatcher.add_async("forgetful", Access::local_user, [](Call, Reply) {});
  auto captured = run(dispatcher, "forgetful", user_peer());
  CHECK(captured.calls == 1);
  CHECK(error_in(captured).code == errc::internal_error);
}

TEST_CASE("the dispatcher reports which methods exist and who may call them") {
  auto dispatcher = sample();
  CHECK(dispatcher.has("status"));
  CHECK_FALSE(dispatcher.has("nope"));
  CHECK(dispatcher.access_of("reprovision") == Access::admin);
  CHECK(dispatcher.access_of("status") == Access::local_user);
  CHECK_FALSE(dispatcher.access_of("nope"));
}

TEST_CASE("the handler sees the caller's identity as the listener decided it") {
  Dispatcher dispatcher;
  dispatcher.add("whoami", Access::local_user, [](const Call& call) { return json(*call.peer.uid); });
  CHECK(std::get<json>(run(dispatcher, "whoami", user_peer()).outcome) == 1000);
}
