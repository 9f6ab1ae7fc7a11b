// The TPM worker's queue without a TPM: which job runs next, and what a full priority does.
#include <catch2/catch_test_macros.hpp>

#include <string>
#include <vector>

#include "tpm/job_queue.h"

using namespace edgeprov::tpm;

namespace {

std::vector<std::string> all(JobQueue<std::string>& queue) {
  std::vector<std::string> order;
  while (auto job = queue.pop()) order.push_back(*job);
  return order;
}

bool push(JobQueue<std::string>& queue, Priority priority, std::string name) { return queue.push(priority, name); }

}  // namespace

TEST_CASE("credential work runs before administrator work, which runs before local users' work; each in order") {
  JobQueue<std::string> queue;
  push(queue, Priority::local_user, "user 1");
  push(queue, Priority::administrator, "admin 1");
  push(queue, Priority::local_user, "user 2");
  push(queue, Priority::credential, "sign 1");
  push(queue, Priority::administrator, "admin 2");
  push(queue, Priority::credential, "import 2");
  CHECK(all(queue) == std::vector<std::string>{"sign 1", "import 2", "admin 1", "admin 2", "user 1", "user 2"});
  CHECK(queue.empty());
}

TEST_CASE("a job queued after a burst of local users' work is taken first") {
  JobQueue<std::string> queue({.credential = 8, .administrator = 8, .local_user = 100});
  for (int i = 0; i < 100; ++i) REQUIRE(push(queue, Priority::local_user, "info " + std::to_string(i)));
  REQUIRE(push(queue, Priority::credential, "sign"));
  CHECK(queue.pop() == "sign");
  CHECK(queue.pop() == "info 0");
}

TEST_CASE("a priority at its capacity refuses more and leaves the job to the caller; other priorities still queue") {
  JobQueue<std::string> queue({.credential = 2, .administrator = 1, .local_user = 3});
  for (int i = 0; i < 3; ++i) REQUIRE(push(queue, Priority::local_user, "user " + std::to_string(i)));
  std::string refused = "user 3";
  CHECK_FALSE(queue.push(Priority::local_user, refused));
  CHECK(refused == "user 3");  // not moved from: the caller answers it
  CHECK(queue.size(Priority::local_user) == 3);
  CHECK(push(queue, Priority::credential, "sign 1"));
  CHECK(push(queue, Priority::credential, "sign 2"));
  CHECK_FALSE(push(queue, Priority::credential, "sign 3"));
  CHECK(push(queue, Priority::administrator, "admin"));
  CHECK_FALSE(push(queue, Priority::administrator, "admin 2"));

  CHECK(queue.pop() == "sign 1");  // a slot frees as soon as a job is taken
  CHECK(push(queue, Priority::credential, "sign 3"));
  CHECK(queue.drain() == std::vector<std::string>{"sign 2", "sign 3", "admin", "user 0", "user 1", "user 2"});
  CHECK(queue.empty());
  CHECK_FALSE(queue.pop());
}

TEST_CASE("the default capacities keep local users' share the smallest") {
  const QueueCapacity capacity;
  CHECK(capacity.of(Priority::local_user) < capacity.of(Priority::administrator));
  CHECK(capacity.of(Priority::administrator) < capacity.of(Priority::credential));
  CHECK(to_string(Priority::local_user) == "local user");
}

TEST_CASE("push_always queues past the capacity, in order behind its priority's jobs, for work a full queue must not drop") {
  JobQueue<std::string> queue({.credential = 1, .administrator = 1, .local_user = 1});
  REQUIRE(push(queue, Priority::credential, "sign"));
  CHECK_FALSE(push(queue, Priority::credential, "sign 2"));
  queue.push_always(Priority::credential, "flush");
  CHECK(queue.size(Priority::credential) == 2);
  CHECK(push(queue, Priority::local_user, "user"));
  CHECK(queue.drain() == std::vector<std::string>{"sign", "flush", "user"});
}
