#include <filesystem>

#include <catch2/catch_test_macros.hpp>

#include "service/state_store.h"
#include "tests/support/process.h"

using namespace edgeprov;
using namespace edgeprov::service;
using edgeprov::test::TempDir;
using nlohmann::json;

namespace {

SystemTime at(std::string_view text) { return *parse_rfc3339(text); }

PersistedSettings settings() {
  return {.global_endpoint = "https://global.azure-devices-provisioning.net/",
          .id_scope = "0ne00ABC123",
          .registration_id = "device-001",
          .attestation = "tpm"};
}

PersistedState provisioned_state() {
  PersistedState state;
  state.settings = settings();
  state.assignment = Assignment{.hub = "hub-a.azure-devices.net",
                                .device_id = "device-001",
                                .substatus = "initialAssignment",
                                .assigned_at = at("2026-11-29T04:31:10Z"),
                                .payload = json{{"region", "eu"}}};
  state.retry = {.attempts = 2, .next_attempt_at = at("2026-11-29T05:00:00Z")};
  return state;
}

std::vector<std::filesystem::path> rejected_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with("provisioning.json.rejected-")) found.push_back(entry.path());
  }
  return found;
}

}  // namespace

TEST_CASE("a saved state loads back with its assignment and backoff schedule") {
  TempDir dir;
  StateStore store(dir.path() / "state");
  store.save(provisioned_state());
  auto loaded = store.load(settings());
  REQUIRE(loaded);
  REQUIRE(loaded->assignment);
  CHECK(loaded->assignment->hub == "hub-a.azure-devices.net");
  CHECK(loaded->assignment->device_id == "device-001");
  CHECK(loaded->assignment->substatus == "initialAssignment");
  CHECK(loaded->assignment->assigned_at == at("2026-11-29T04:31:10Z"));
  CHECK(loaded->assignment->payload == json{{"region", "eu"}});
  CHECK(loaded->retry == dps::RetrySchedule{.attempts = 2, .next_attempt_at = at("2026-11-29T05:00:00Z")});
}

#ifndef _WIN32
TEST_CASE("the state file is readable by its owner only") {
  TempDir dir;
  StateStore store(dir.path());
  store.save(provisioned_state());
  const auto perms = std::filesystem::status(store.file()).permissions();
  CHECK((perms & std::filesystem::perms::all) == (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
}
#endif

TEST_CASE("without a state file there is nothing to load and nothing is created") {
  TempDir dir;
  StateStore store(dir.path());
  CHECK_FALSE(store.load(settings()));
  CHECK_FALSE(std::filesystem::exists(store.file()));
  CHECK(rejected_files(dir.path()).empty());
}

TEST_CASE("a corrupt state file is set aside, never trusted") {
  TempDir dir;
  StateStore store(dir.path());
  test::write_file(store.file(), "{\"version\":1,\"settings\":");
  CHECK_FALSE(store.load(settings()));
  CHECK_FALSE(std::filesystem::exists(store.file()));
  const auto rejected = rejected_files(dir.path());
  REQUIRE(rejected.size() == 1);
  CHECK(test::read_file(rejected.front()) == "{\"version\":1,\"settings\":");
}

TEST_CASE("a state file of another version is set aside") {
  TempDir dir;
  StateStore store(dir.path());
  auto text = to_json(provisioned_state());
  text["version"] = 2;
  test::write_file(store.file(), text.dump());
  CHECK_FALSE(store.load(settings()));
  CHECK(rejected_files(dir.path()).size() == 1);
}

TEST_CASE("a state file written for another registration id or scope is set aside") {
  TempDir dir;
  StateStore store(dir.path());
  store.save(provisioned_state());
  auto other = settings();
  other.registration_id = "device-002";
  CHECK_FALSE(store.load(other));
  CHECK(rejected_files(dir.path()).size() == 1);

  store.save(provisioned_state());
  other = settings();
  other.id_scope = "0ne00XYZ999";
  CHECK_FALSE(store.load(other));
  CHECK(rejected_files(dir.path()).size() >= 1);
  CHECK_FALSE(std::filesystem::exists(store.file()));
}

TEST_CASE("peek reads the state without judging it or moving it") {
  TempDir dir;
  StateStore store(dir.path());
  store.save(provisioned_state());
  auto peeked = store.peek();
  REQUIRE(peeked);
  CHECK(peeked->settings == settings());
  test::write_file(store.file(), "not json");
  CHECK_FALSE(store.peek());
  CHECK(std::filesystem::exists(store.file()));
}

TEST_CASE("reading a state is strict: unknown fields, a missing hub or a bad time are refused with a reason") {
  std::string why;
  auto good = to_json(provisioned_state());
  REQUIRE(persisted_state_from_json(good, why));

  auto extra = good;
  extra["hubKey"] = "c2VjcmV0";
  CHECK_FALSE(persisted_state_from_json(extra, why));
  CHECK(why.find("fields") != std::string::npos);

  auto no_hub = good;
  no_hub["assignment"].erase("hub");
  CHECK_FALSE(persisted_state_from_json(no_hub, why));
  CHECK(why == "its assignment is malformed");

  auto bad_time = good;
  bad_time["assignment"]["assignedAt"] = "yesterday";
  CHECK_FALSE(persisted_state_from_json(bad_time, why));

  auto bad_retry = good;
  bad_retry["retry"] = json{{"attempts", -1}, {"nextAttemptAt", nullptr}};
  CHECK_FALSE(persisted_state_from_json(bad_retry, why));
  CHECK(why == "its retry schedule is malformed");

  CHECK_FALSE(persisted_state_from_json(json::array(), why));
  CHECK(why == "it is not a JSON object");
}

TEST_CASE("a state without an assignment keeps only its backoff schedule") {
  auto state = provisioned_state();
  state.assignment.reset();
  std::string why;
  auto back = persisted_state_from_json(to_json(state), why);
  REQUIRE(back);
  CHECK_FALSE(back->assignment);
  CHECK(back->retry.attempts == 2);
}
