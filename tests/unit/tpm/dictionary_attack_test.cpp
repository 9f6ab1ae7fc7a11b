#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "tpm/dictionary_attack.h"
#include "tpm/error.h"
#include "tpm/json.h"

using namespace edgeprov;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;

namespace {
// swtpm's manufacturer defaults (libtpms DAPreInstall_Init): 3 tries, 1000 s interval, 1000 s recovery.
tpm::DictionaryAttackState locked(std::uint32_t counter = 3) {
  return {.counter = counter, .max_tries = 3, .interval_seconds = 1000, .recovery_seconds = 1000,
          .in_lockout = true, .lockout_auth_set = false};
}
tpm::CallSite hmac_site() {
  return {.command = "HMAC", .hierarchy = tpm::Hierarchy::none, .tcti = "device:/dev/tpmrm0",
          .config_file = "/etc/edgeprov/config.toml", .auth_key_blob = false};
}
}  // namespace

TEST_CASE("a TPM not in lockout can use its keys now") {
  CHECK(tpm::time_until_usable({.counter = 2, .max_tries = 3, .interval_seconds = 1000}) == 0s);
}

TEST_CASE("in lockout, keys are usable again after one interval per failure above the limit, at most") {
  CHECK(tpm::time_until_usable(locked(3)) == 1000s);
  CHECK(tpm::time_until_usable(locked(5)) == 3000s);
}

TEST_CASE("a limit of 0 tries never ends by waiting") {
  auto state = locked(0);
  state.max_tries = 0;
  CHECK_FALSE(tpm::time_until_usable(state).has_value());
  CHECK_THAT(tpm::lockout_problem(state), ContainsSubstring("does not leave lockout by itself"));
  CHECK_THAT(tpm::lockout_fix(state), ContainsSubstring("--setup-parameters --max-tries=N"));
}

TEST_CASE("the lockout message says what happened, when it ends, what to do and why it happens") {
  const auto problem = tpm::lockout_problem(locked());
  CHECK_THAT(problem, ContainsSubstring("counted 3 failed authorizations and locks at 3"));
  CHECK_THAT(problem, ContainsSubstring("the DPS key included"));
  CHECK_THAT(problem, ContainsSubstring("one failure per 16 min 40 s"));
  CHECK_THAT(problem, ContainsSubstring("in at most 16 min 40 s of powered-on time"));
  const auto fix = tpm::lockout_fix(locked());
  CHECK_THAT(fix, ContainsSubstring("signs again by itself"));
  CHECK_THAT(fix, ContainsSubstring("`tpm2_dictionarylockout --clear-lockout` (this TPM has no lockout password)"));
  CHECK_THAT(fix, ContainsSubstring("without an orderly TPM shutdown"));
}

TEST_CASE("with a lockout password, clearing names it and what a wrong one costs") {
  auto state = locked();
  state.lockout_auth_set = true;
  CHECK_THAT(tpm::lockout_fix(state), ContainsSubstring("--clear-lockout -p LOCKOUT_PASSWORD"));
  CHECK_THAT(tpm::lockout_fix(state), ContainsSubstring("a wrong lockout password blocks that command for 16 min 40 s"));
  state.recovery_seconds = 0;
  CHECK_THAT(tpm::lockout_fix(state), ContainsSubstring("until the TPM is next reset"));
}

TEST_CASE("TPM_RC_LOCKOUT told with the DA state keeps its kind, command and code and carries the state") {
  const auto plain = tpm::make_error(hmac_site(), 0x921);
  REQUIRE(plain.kind() == tpm::ErrorKind::lockout);
  CHECK_FALSE(plain.dictionary_attack().has_value());
  const auto told = tpm::with_dictionary_attack_state(plain, locked(4));
  CHECK(told.kind() == tpm::ErrorKind::lockout);
  CHECK(told.command() == "HMAC");
  CHECK(told.rc() == 0x921);
  CHECK(told.dictionary_attack() == locked(4));
  CHECK_THAT(std::string(told.what()), ContainsSubstring("TPM command HMAC failed: the TPM is in dictionary-attack "
                                                         "lockout: it counted 4 failed authorizations"));
  CHECK_THAT(std::string(told.what()), ContainsSubstring("in at most 33 min 20 s"));
  CHECK_THAT(std::string(told.what()), ContainsSubstring("0x921"));

  const auto j = tpm::error_json(told);
  CHECK(j["kind"] == "lockout");
  CHECK(j["rc"] == "0x921");
  CHECK(j["lockout"]["inLockout"] == true);
  CHECK(j["lockout"]["counter"] == 4);
  CHECK(j["lockout"]["maxTries"] == 3);
  CHECK(j["lockout"]["intervalSeconds"] == 1000);
  CHECK(j["lockout"]["recoverySeconds"] == 1000);
  CHECK(j["lockout"]["secondsUntilUsable"] == 2000);
}

TEST_CASE("a refused object authorization says the TPM counted it, and how close lockout is") {
  const auto plain = tpm::make_error(hmac_site(), 0x98e);  // TPM_RC_AUTH_FAIL, session 1
  CHECK(plain.kind() == tpm::ErrorKind::auth_failed);
  CHECK_THAT(std::string(plain.what()), ContainsSubstring("counted a failed authorization"));
  const auto told = tpm::with_dictionary_attack_state(
      plain, {.counter = 2, .max_tries = 3, .interval_seconds = 1000, .recovery_seconds = 1000});
  CHECK(told.kind() == tpm::ErrorKind::auth_failed);
  CHECK_THAT(std::string(told.what()), ContainsSubstring("2 of 3 failed authorizations are counted before lockout"));
  CHECK(tpm::error_json(told)["lockout"]["secondsUntilUsable"] == 0);
}

TEST_CASE("TPM_RC_BAD_AUTH on an object is refused without a count; on a hierarchy it names the config key") {
  const auto object = tpm::make_error(hmac_site(), 0x9a2);
  CHECK(object.kind() == tpm::ErrorKind::auth_failed);
  CHECK_THAT(std::string(object.what()), !ContainsSubstring("counted"));
  auto site = hmac_site();
  site.hierarchy = tpm::Hierarchy::owner;
  CHECK(tpm::make_error(site, 0x9a2).kind() == tpm::ErrorKind::hierarchy_auth);
}

TEST_CASE("the lockout object of a state that waiting does not end has a null secondsUntilUsable") {
  auto state = locked();
  state.max_tries = 0;
  CHECK(tpm::lockout_json(state)["secondsUntilUsable"].is_null());
}

TEST_CASE("a lockout found without a failed command is the same typed error, with the state") {
  const auto e = tpm::lockout_error(locked());
  CHECK(e.kind() == tpm::ErrorKind::lockout);
  CHECK(e.rc() == 0x921);
  CHECK(e.command() == "sign with the DPS key");
  CHECK(e.dictionary_attack() == locked());
  CHECK_THAT(std::string(e.what()), ContainsSubstring("could not sign with the DPS key: the TPM is in dictionary-attack "
                                                      "lockout"));
  CHECK(tpm::error_json(e)["lockout"]["secondsUntilUsable"] == 1000);
}
