// The admission decisions and the ledger that counts for them, without sockets: which limit refuses
// whom, that administrators are refused only at the overall limit, and that every count returns to zero
// when its tickets go.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <vector>

#include "ipc/admission.h"

using namespace edgeprov::ipc;
using Catch::Matchers::ContainsSubstring;

namespace {

const Caller alice{"uid 1000", "alice (uid 1000)", false};
const Caller bob{"uid 1001", "bob (uid 1001)", false};
const Caller root{"uid 0", "root (uid 0)", true};

AdmissionLimits small() {
  return {.max_connections = 10,
          .admin_reserved_connections = 3,
          .max_connections_per_user = 4,
          .max_requests_per_user = 2,
          .max_subscriptions_per_user = 1};
}

}  // namespace

TEST_CASE("a user below every limit is admitted") {
  CHECK_FALSE(admit_connection(small(), {.connections = 5, .user_connections = 5}, {.connections = 3}, alice));
  CHECK_FALSE(admit_request(small(), {.requests = 1}, alice, "status"));
  CHECK_FALSE(admit_subscription(small(), {.subscriptions = 0}, alice));
}

TEST_CASE("a user at its own connection limit is refused with connections_per_user, whatever others hold") {
  const auto refusal = admit_connection(small(), {.connections = 4, .user_connections = 4}, {.connections = 4}, alice);
  REQUIRE(refusal);
  CHECK(refusal->limit == Limit::connections_per_user);
  CHECK(refusal->value == 4);
  CHECK(refusal->caller == "alice (uid 1000)");
}

TEST_CASE("users together are refused at max_connections less the reserve; an administrator is still admitted") {
  const Totals users_full{.connections = 7, .user_connections = 7};
  const auto refusal = admit_connection(small(), users_full, {.connections = 0}, bob);
  REQUIRE(refusal);
  CHECK(refusal->limit == Limit::user_connections);
  CHECK(refusal->value == 7);
  CHECK_FALSE(admit_connection(small(), users_full, {}, root));
}

TEST_CASE("an administrator is refused only when every connection is taken, and holds no per-caller limit") {
  CHECK_FALSE(admit_connection(small(), {.connections = 9, .user_connections = 0}, {.connections = 9}, root));
  const auto refusal = admit_connection(small(), {.connections = 10, .user_connections = 0}, {.connections = 10}, root);
  REQUIRE(refusal);
  CHECK(refusal->limit == Limit::connections);
  CHECK(refusal->value == 10);
  CHECK_FALSE(admit_request(small(), {.requests = 1000}, root, "reprovision"));
  CHECK_FALSE(admit_subscription(small(), {.subscriptions = 1000}, root));
}

TEST_CASE("administrators' connections beyond the reserve leave users fewer, never more") {
  // Administrators hold 9 of 10: a user still gets the last one (its share of 7 is unused), then nobody.
  CHECK_FALSE(admit_connection(small(), {.connections = 9, .user_connections = 0}, {}, alice));
  const auto full = admit_connection(small(), {.connections = 10, .user_connections = 0}, {}, alice);
  REQUIRE(full);
  CHECK(full->limit == Limit::connections);
}

TEST_CASE("requests in flight and subscriptions are limited per user") {
  const auto request = admit_request(small(), {.requests = 2}, alice, "tpm.info");
  REQUIRE(request);
  CHECK(request->limit == Limit::requests_per_user);
  CHECK(request->value == 2);
  CHECK(request->method == "tpm.info");
  const auto subscription = admit_subscription(small(), {.subscriptions = 1}, alice);
  REQUIRE(subscription);
  CHECK(subscription->limit == Limit::subscriptions_per_user);
  CHECK(subscription->value == 1);
}

TEST_CASE("a refusal is -32003 naming the limit, its value, its key and the caller") {
  const auto error = to_rpc_error(Refusal{Limit::connections_per_user, 32, "nobody (uid 65534)", {}});
  CHECK(error.code == errc::busy);
  CHECK_THAT(error.message, ContainsSubstring("nobody (uid 65534)"));
  CHECK_THAT(error.message, ContainsSubstring("already holds 32 connections"));
  CHECK_THAT(error.message, ContainsSubstring("[edgeprov.ipc] max_connections_per_user"));
  CHECK(error.data == nlohmann::json{{"limit", "connections_per_user"}, {"value", 32}, {"caller", "nobody (uid 65534)"}});

  const auto request = to_rpc_error(Refusal{Limit::requests_per_user, 8, "alice (uid 1000)", "tpm.info"});
  CHECK_THAT(request.message, ContainsSubstring("refused 'tpm.info' from alice (uid 1000)"));
  CHECK_THAT(request.message, ContainsSubstring("max_requests_per_user"));
  for (auto limit : {Limit::connections, Limit::user_connections, Limit::subscriptions_per_user}) {
    const auto other = to_rpc_error(Refusal{limit, 5, "bob", {}});
    CHECK(other.code == errc::busy);
    CHECK(other.data["limit"] == std::string(to_string(limit)));
    CHECK_THAT(other.message, ContainsSubstring("[edgeprov.ipc]"));
  }
}

TEST_CASE("callers are keyed by the OS identity: uid, SID, or one shared key when the OS could not say") {
  Peer posix;
  posix.uid = 1000;
  posix.name = "alice";
  CHECK(caller_of(posix) == Caller{"uid 1000", "alice (uid 1000)", false});
  Peer windows;
  windows.sid = "S-1-5-21-1-2-3-1001";
  windows.name = "HOST\\bob";
  windows.admin = true;
  CHECK(caller_of(windows) == Caller{"sid S-1-5-21-1-2-3-1001", "HOST\\bob (S-1-5-21-1-2-3-1001)", true});
  CHECK(caller_of(Peer{}).key == "unidentified");
  CHECK_FALSE(caller_of(Peer{}).admin);
}

TEST_CASE("the ledger admits up to each limit, and every ticket destroyed gives its count back") {
  auto ledger = AdmissionLedger::create(small());
  std::vector<AdmissionTicket> held;
  for (int i = 0; i < 4; ++i) {
    auto admitted = ledger->open_connection(alice);
    REQUIRE(std::holds_alternative<AdmissionTicket>(admitted));
    held.push_back(std::get<AdmissionTicket>(std::move(admitted)));
  }
  auto fifth = ledger->open_connection(alice);
  REQUIRE(std::holds_alternative<Refusal>(fifth));
  CHECK(std::get<Refusal>(fifth).limit == Limit::connections_per_user);
  CHECK(ledger->usage(alice).connections == 4);
  CHECK(ledger->totals().user_connections == 4);

  // Bob fills the rest of the users' share (7): then users are refused, administrators are not.
  for (int i = 0; i < 3; ++i) held.push_back(std::get<AdmissionTicket>(ledger->open_connection(bob)));
  CHECK(std::get<Refusal>(ledger->open_connection(bob)).limit == Limit::user_connections);
  for (int i = 0; i < 3; ++i) held.push_back(std::get<AdmissionTicket>(ledger->open_connection(root)));
  CHECK(std::get<Refusal>(ledger->open_connection(root)).limit == Limit::connections);
  CHECK(ledger->totals().connections == 10);

  // Requests and subscriptions, counted per caller over its connections.
  auto r1 = ledger->begin_request(alice, "tpm.info");
  auto r2 = ledger->begin_request(alice, "tpm.info");
  REQUIRE(std::holds_alternative<AdmissionTicket>(r1));
  REQUIRE(std::holds_alternative<AdmissionTicket>(r2));
  CHECK(std::holds_alternative<Refusal>(ledger->begin_request(alice, "status")));
  CHECK(std::holds_alternative<AdmissionTicket>(ledger->begin_request(bob, "status")));  // released at once
  auto s1 = ledger->begin_subscription(alice);
  REQUIRE(std::holds_alternative<AdmissionTicket>(s1));
  CHECK(std::holds_alternative<Refusal>(ledger->begin_subscription(alice)));
  CHECK(ledger->usage(alice).requests == 2);
  CHECK(ledger->usage(alice).subscriptions == 1);
  CHECK(ledger->usage(bob).requests == 0);

  { auto gone = std::move(r1); }
  CHECK(ledger->usage(alice).requests == 1);
  CHECK(std::holds_alternative<AdmissionTicket>(ledger->begin_request(alice, "status")));

  held.erase(held.begin());  // one of alice's connections closes
  CHECK(ledger->usage(alice).connections == 3);
  CHECK(std::holds_alternative<AdmissionTicket>(ledger->open_connection(alice)));  // taken and given back

  held.clear();
  r2 = {};
  s1 = {};
  CHECK(ledger->totals().connections == 0);
  CHECK(ledger->totals().user_connections == 0);
  CHECK(ledger->usage(alice).connections == 0);
  CHECK(ledger->usage(alice).requests == 0);
  CHECK(ledger->usage(alice).subscriptions == 0);
}

TEST_CASE("a moved ticket is released once, by its last owner") {
  auto ledger = AdmissionLedger::create(small());
  AdmissionTicket first = std::get<AdmissionTicket>(ledger->open_connection(alice));
  AdmissionTicket second = std::move(first);
  CHECK_FALSE(first);  // NOLINT(bugprone-use-after-move): a moved-from ticket holds nothing
  CHECK(second);
  CHECK(ledger->usage(alice).connections == 1);
  AdmissionTicket third = std::get<AdmissionTicket>(ledger->open_connection(alice));
  third = std::move(second);  // third's own connection is released, second's is now third's
  CHECK(ledger->usage(alice).connections == 1);
  third = AdmissionTicket();
  CHECK(ledger->usage(alice).connections == 0);
}

TEST_CASE("tickets keep the ledger alive after its owner let it go") {
  auto ledger = AdmissionLedger::create(small());
  AdmissionTicket ticket = std::get<AdmissionTicket>(ledger->open_connection(alice));
  std::weak_ptr<AdmissionLedger> weak = ledger;
  ledger.reset();
  CHECK_FALSE(weak.expired());
  ticket = AdmissionTicket();
  CHECK(weak.expired());
}
